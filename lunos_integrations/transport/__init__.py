"""Layer 1 — HTTP transport: auth, headers, timeouts, retries, error mapping, SSE parsing."""
