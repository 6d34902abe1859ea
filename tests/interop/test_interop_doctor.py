"""The doctor against LiteLLM's proxy: a server nobody here wrote answers its questions.

LiteLLM publishes no prices, so the doctor is told the model (``--model``) and the cost is
"unknown"; it has no ``anthropic/`` model, so one row says the two ``/v1/messages``
probes were "not probed". What must hold: every probe runs and is reported in the table,
the key is never printed, and the answers LiteLLM gives are the ones the table states.
"""

from __future__ import annotations

import io

import pytest

from lunos_integrations import doctor

from .conftest import LITELLM_KEY

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]


def test_doctor_table_against_litellm(
    litellm_base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", LITELLM_KEY)
    out = io.StringIO()
    code = doctor.main(["--base-url", litellm_base_url, "--model", "mock-chat", "--yes"], out=out)
    text = out.getvalue()
    with capsys.disabled():
        print("\n" + text)  # the table is what the closing note quotes
    assert LITELLM_KEY not in text
    rows = [line for line in text.splitlines() if " | " in line]
    assert len(rows) == 13, text  # header + 12 rows (the two messages probes share one)
    assert "estimated cost" in text  # unknown unless LiteLLM publishes prices
    assert "GET /models: wrapper" in text and "models" in rows[1]
    assert code in (0, 1), text
