"""Which redirects the transport follows: same-origin only, at most a few hops.

Kept apart from :mod:`.http` (which sends and retries) because it is a pure decision on a
request and a response; no I/O happens here.
"""

from __future__ import annotations

import httpx

from ..errors import APIConnectionError

MAX_REDIRECTS = 5


def redirected(request: httpx.Request, response: httpx.Response, hops: int) -> httpx.Request:
    """The request to send after a redirect; only same-origin redirects are followed.

    Following a redirect to another host would hand it the prompt (and, without
    httpx's header stripping, the key). A moved API is a configuration change, so the
    error says which base_url to use instead.
    """
    if hops >= MAX_REDIRECTS:
        raise APIConnectionError(
            f"More than {MAX_REDIRECTS} redirects from {request.url}; check base_url.",
            url=str(request.url),
        )
    target = request.url.join(response.headers["location"])
    here = (request.url.scheme, request.url.host, request.url.port)
    if (target.scheme, target.host, target.port) != here:
        raise APIConnectionError(
            f"Lunos answered {response.status_code} redirecting {request.url.path} to "
            f"another origin ({target.scheme}://{target.netloc.decode()}); not followed, so "
            "neither the key nor the request body leaves the configured host. If the API "
            "moved, set base_url (or LUNOS_BASE_URL) to the new address.",
            url=str(request.url),
        )
    method, content = request.method, request.content
    headers = dict(request.headers)
    if response.status_code in (301, 302, 303) and method != "GET":
        # What every HTTP client does for these: the follow-up is a GET without a body.
        method, content = "GET", b""
        for name in ("content-type", "content-length"):
            headers.pop(name, None)
    return type(request)(  # the request's own library (httpx or httpx2)
        method,
        target,
        headers=headers,
        content=content or None,
        extensions=request.extensions,
    )
