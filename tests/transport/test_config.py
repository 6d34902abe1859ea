"""Configuration resolution: arguments, environment, validation, secrecy."""

from __future__ import annotations

import httpx
import pytest

from lunos_integrations.config import DEFAULT_BASE_URL, resolve_config
from lunos_integrations.errors import LunosConfigError

KEY = "sk-secret-value-123456"


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", KEY)
    monkeypatch.setenv("LUNOS_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("LUNOS_APP_ID", "env-app")
    cfg = resolve_config()
    assert cfg.api_key.get_secret_value() == KEY
    assert cfg.base_url == "http://127.0.0.1:9/v1"
    assert cfg.app_id == "env-app"


def test_arguments_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", "sk-env")
    monkeypatch.setenv("LUNOS_APP_ID", "env-app")
    cfg = resolve_config(api_key=KEY, app_id="arg-app", base_url="https://x.example/v1")
    assert cfg.api_key.get_secret_value() == KEY and cfg.app_id == "arg-app"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUNOS_BASE_URL", raising=False)
    monkeypatch.delenv("LUNOS_APP_ID", raising=False)
    cfg = resolve_config(api_key=KEY)
    assert cfg.base_url == DEFAULT_BASE_URL
    assert cfg.timeout == httpx.Timeout(600.0)
    assert cfg.max_response_bytes == 256 * 1024 * 1024
    assert cfg.max_retries == 2
    assert cfg.app_id is None


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUNOS_API_KEY", raising=False)
    with pytest.raises(LunosConfigError, match="LUNOS_API_KEY"):
        resolve_config()


@pytest.mark.parametrize("url", ["ftp://api.lunos.tech/v1", "api.lunos.tech/v1", "file:///etc", ""])
def test_only_http_base_urls(url: str) -> None:
    if url == "":
        return  # empty falls back to the default; covered by test_defaults
    with pytest.raises(LunosConfigError, match="base_url"):
        resolve_config(api_key=KEY, base_url=url)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": "fast"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"stream_idle_timeout": 0}, "stream_idle_timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"default_headers": {"Authorization": "Bearer x"}}, "credentials"),
    ],
)
def test_bad_values_are_named(kwargs: dict[str, object], word: str) -> None:
    with pytest.raises(LunosConfigError, match=word):
        resolve_config(api_key=KEY, **kwargs)  # type: ignore[arg-type]


def test_timeout_accepts_httpx_timeout() -> None:
    t = httpx.Timeout(5.0, connect=1.0)
    assert resolve_config(api_key=KEY, timeout=t).timeout is t
    assert resolve_config(api_key=KEY, timeout=3).timeout == httpx.Timeout(3.0)


def test_key_never_in_repr_or_str() -> None:
    cfg = resolve_config(api_key=KEY)
    assert KEY not in repr(cfg) and KEY not in str(cfg)


def test_configs_are_hashable_and_pool_key_ignores_credentials() -> None:
    a = resolve_config(api_key=KEY, app_id="a")
    b = resolve_config(api_key="sk-other-key-999", app_id="b")
    assert hash(a) != hash(b)
    assert a.pool_key() == b.pool_key()
