"""Structured extraction: ``ChatLunos.with_structured_output`` with a Pydantic model.

Shows turning free text into a validated ``Pydantic`` object. On the chat-completions route
the default method is ``json_schema`` (Lunos' ``response_format``), so the model is held to
the schema; ``include_raw=True`` also returns the raw ``AIMessage`` (for usage and cost),
and the same runnable works with ``batch``.

Run: ``python cookbook/structured_output.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from _setup import CHAT_MODEL, connection, section
from pydantic import BaseModel, Field

from lunos_integrations import ChatLunos


class Invoice(BaseModel):
    """Fields extracted from an invoice e-mail."""

    vendor: str = Field(description="Company that sent the invoice")
    invoice_number: str = Field(description="The invoice's identifier")
    amount_due: float = Field(description="Total amount to pay")
    currency: str = Field(description="ISO 4217 currency code, e.g. EUR")


EMAILS = [
    'Hi, this is "Acme Tools": invoice "INV-A17" is attached. '
    'The total of 1250 is due in "EUR" by the end of the month.',
    '"Nordic Paper AB" here. Our invoice "NP-X9" for 310 "SEK" is due next week. Thanks!',
]


def main() -> None:
    conn = connection()
    model = ChatLunos(model=CHAT_MODEL, temperature=0, app_id="cookbook-extract", **conn.kwargs)
    extractor = model.with_structured_output(Invoice, include_raw=True)

    section("with_structured_output(Invoice).invoke")
    out = extractor.invoke(
        "Extract the invoice (vendor, invoice_number, amount_due, currency) from:\n" + EMAILS[0]
    )
    invoice = out["parsed"]
    assert isinstance(invoice, Invoice), out["parsing_error"]
    print(repr(invoice))
    raw = out["raw"]
    usage = raw.usage_metadata or {}
    cost = raw.response_metadata.get("cost")
    print(
        f"usage: {usage.get('input_tokens')} input + {usage.get('output_tokens')} output tokens"
        f" | cost: {f'${cost:.6f}' if cost is not None else 'unknown'}"
    )

    section("the same extractor over a batch")
    results = extractor.batch(
        [f"Extract the invoice from:\n{email}" for email in EMAILS],
        config={"max_concurrency": 2},
    )
    for result in results:
        parsed = result["parsed"]
        print("parsed:" if parsed is not None else "failed:", parsed or result["parsing_error"])


if __name__ == "__main__":
    main()
