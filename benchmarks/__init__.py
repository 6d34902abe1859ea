"""Side-by-side benchmarks of the Lunos integrations against ChatOpenAI, ChatAnthropic,
OpenAILike and raw httpx. Run ``python -m benchmarks`` (see ``benchmarks/README.md``)."""
