"""Record a chain's Lunos calls once with vcrpy, then replay them with nothing to call.

Shows:

* ``lunos_integrations.testing.recording.vcr_config`` — vcrpy settings that redact the key,
  ``X-App-ID``, cookies and echoed bearer tokens, match on method, path and body (so a
  cassette replays whatever ``base_url`` the chain is built with), and keep streamed (SSE)
  bodies replayable;
* recording an LCEL chain (prompt → ChatLunos → parser) with ``invoke`` and ``stream``;
* replaying it from the cassette alone, with ``record_mode="none"`` (what CI should use: a
  call that is not in the cassette fails instead of reaching the network), and checking
  the replayed stream equals the recorded one;
* that the cassette holds neither the key nor the app id.

In pytest, the same settings go into pytest-recording's ``vcr_config`` fixture (see the
README section "Recording and replaying your chains").

Run: ``python cookbook/record_replay.py`` — offline against an embedded local server when
``LUNOS_API_KEY`` is unset, against the real API when it is set (one tiny call and one
tiny stream are then recorded, and billed, once).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import vcr
from _setup import CHAT_MODEL, connection, section
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from lunos_integrations import ChatLunos
from lunos_integrations.testing.recording import vcr_config

APP_ID = "cookbook-recorder"


def build_chain(**conn_kwargs: Any) -> Runnable[dict[str, str], str]:
    prompt = ChatPromptTemplate.from_template("Give one tip about {topic}, in five words.")
    model = ChatLunos(model=CHAT_MODEL, app_id=APP_ID, max_tokens=24, **conn_kwargs)
    return prompt | model | StrOutputParser()


def main() -> None:
    conn = connection()
    key = conn.kwargs.get("api_key") or os.environ.get("LUNOS_API_KEY", "")
    with tempfile.TemporaryDirectory() as folder:
        cassette = Path(folder) / "tips.yaml"

        section("record (calls the API once)")
        recorder = vcr.VCR(**vcr_config(secrets=[str(key), APP_ID]))
        with recorder.use_cassette(str(cassette)) as tape:
            chain = build_chain(**conn.kwargs)
            answer = chain.invoke({"topic": "tea"})
            streamed = list(chain.stream({"topic": "coffee"}))
            recorded = sum(1 for r in tape.requests if r.method == "POST")
        print(f"answer: {answer}")
        print(f"streamed in {len(streamed)} chunks: {''.join(streamed)}")
        print(f"recorded {recorded} chat requests to {cassette.name}")

        section("replay (nothing is called)")
        before = len(conn.server.requests) if conn.server is not None else None
        replayer = vcr.VCR(**vcr_config(record_mode="none"))
        with replayer.use_cassette(str(cassette)):
            # Another base_url on purpose: matching ignores host and port.
            chain = build_chain(**{**conn.kwargs, "base_url": "http://127.0.0.1:9/v1"})
            replayed_answer = chain.invoke({"topic": "tea"})
            replayed = list(chain.stream({"topic": "coffee"}))
        print(f"replayed answer equals the recording: {replayed_answer == answer}")
        print(f"replayed stream equals the recording: {replayed == streamed}")
        if conn.server is not None and before is not None:
            reached = len(conn.server.requests) - before
            print(f"requests that reached the server during replay: {reached}")

        text = cassette.read_text(encoding="utf-8")
        leaked = bool(key) and str(key) in text
        print(f"key or app id in the cassette: {leaked or APP_ID in text}")


if __name__ == "__main__":
    main()
