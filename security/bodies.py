"""Request bodies read no further than a limit, for psflow's HTTP servers."""

from starlette.requests import Request


class TooLarge(Exception):
    """The body is over the limit; nothing past it was read."""


async def capped_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (TooLarge) by its declared length or once it passes `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)
