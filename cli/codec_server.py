"""`psflow codec-server`: Temporal's remote codec protocol, so the web UI and CLI can decode.

POST /encode and /decode (also under /{namespace}/, for `--codec-endpoint` templates) take
and answer `{"payloads": [...]}` in proto3 JSON (metadata values and data base64). Every call
needs `Authorization: Bearer <[codec] server_token>`; without it: 401, nothing decoded.
GET /openapi.json describes them (cli/codec_document.py).
"""

import hmac
from typing import Annotated, Any
from urllib.parse import urlparse

import typer
from fastapi import FastAPI, Path, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from application.health import add_health_routes
from application.openapi import json_body, with_schemas
from cli.codec_document import ERRORS, MAX_BODY_BYTES, TOKEN, PayloadsJson
from cli.output import CliError, console, fail
from cli.state import settings_of
from config import ConfigError, Settings
from security.bodies import TooLarge, capped_body
from security.codec import CodecError, EncryptionCodec, codec_from

app = typer.Typer()
CODEC_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]


def ui_origins(ui_url: str) -> list[str]:
    """The UI's origin as typed and with the other loopback name (browsers tell them apart)."""
    parsed = urlparse(ui_url)
    origin = f"{parsed.scheme}://{parsed.netloc}"
    twins = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}
    if parsed.hostname in twins:
        port = f":{parsed.port}" if parsed.port else ""
        return [origin, f"{parsed.scheme}://{twins[parsed.hostname]}{port}"]
    return [origin]


def codec_app(codec: EncryptionCodec, token: str, origins: list[str]) -> FastAPI:
    """The codec server's ASGI app: bearer token first, then the codec."""
    # The document is served (/openapi.json); no docs pages, which would load scripts.
    api = FastAPI(title="psflow codec server", version="1.0.0", docs_url=None, redoc_url=None)
    api.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["POST"],
        allow_headers=CODEC_HEADERS,
        allow_credentials=True,
    )
    expected = token.strip().encode()

    def authorised(request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected)

    async def convert(request: Request, encode: bool) -> JSONResponse:
        if not authorised(request):
            return JSONResponse(
                {"error": "a valid bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            body = await capped_body(request, MAX_BODY_BYTES)
        except TooLarge:
            return JSONResponse({"error": f"body: over {MAX_BODY_BYTES} bytes"}, 413)
        try:
            payloads = json_format.Parse(body, Payloads())
        except (json_format.ParseError, ValueError) as exc:  # ValueError: not UTF-8
            return JSONResponse({"error": f"body is not {{'payloads': [...]}}: {exc}"}, 400)
        try:
            done = [codec.encrypt(p) if encode else codec.decrypt(p) for p in payloads.payloads]
        except CodecError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        answer = json_format.MessageToDict(Payloads(payloads=done))
        return JSONResponse({"payloads": answer.get("payloads", [])})

    async def encode(request: Request) -> JSONResponse:
        """Encrypt payloads with the current key."""
        return await convert(request, encode=True)

    async def decode(request: Request) -> JSONResponse:
        """Decrypt payloads under any listed key; unencrypted ones come back as they are."""
        return await convert(request, encode=False)

    Namespace = Annotated[str, Path(description="Any namespace: one codec serves them all")]

    async def encode_in(namespace: Namespace, request: Request) -> JSONResponse:
        """Encrypt payloads with the current key (the path's namespace changes nothing)."""
        return await convert(request, encode=True)

    async def decode_in(namespace: Namespace, request: Request) -> JSONResponse:
        """Decrypt payloads under any listed key (the path's namespace changes nothing)."""
        return await convert(request, encode=False)

    documented: dict[str, Any] = {
        "methods": ["POST"],
        "response_model": PayloadsJson,
        "responses": ERRORS,
        "dependencies": [Security(TOKEN)],
        "openapi_extra": json_body(PayloadsJson, "Payloads in proto3 JSON"),
    }
    for path, handler in (
        ("/encode", encode), ("/decode", decode),
        ("/{namespace}/encode", encode_in), ("/{namespace}/decode", decode_in),
    ):  # fmt: skip
        api.add_api_route(path, handler, **documented)
    with_schemas(api, [PayloadsJson])
    add_health_routes(api, {})  # ready once started: it needs nothing but its keys
    return api


def server_parts(settings: Settings) -> tuple[EncryptionCodec, str, list[str]]:
    """The codec, token and origins the server needs, or one line saying what is missing."""
    try:
        codec = codec_from(settings.codec)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    if codec is None:
        raise CliError(
            "payload encryption is off, so there is nothing to decode: "
            "set [codec] keys and current (see README, Payload encryption)"
        )
    token = settings.codec.server_token
    if token is None or not token.get_secret_value().strip():
        raise CliError(
            "[codec] server_token is not set: set it (or PSFLOW_CODEC_SERVER_TOKEN) "
            "to the token operators will present"
        )
    origins = settings.codec.cors_origins or ui_origins(settings.temporal.ui_url)
    return codec, token.get_secret_value(), origins


@app.command("codec-server")
def codec_server(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Interface (default: codec.server_host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: codec.server_port, 8081).")
    ] = None,
) -> None:
    """Serve Temporal's codec protocol so the web UI and `temporal` CLI show payloads in clear.

    Example: psflow codec-server, then in the UI set the codec endpoint to
    http://127.0.0.1:8081, or: temporal workflow show -w ID --codec-endpoint
    http://127.0.0.1:8081 --codec-auth "Bearer $TOKEN"
    """
    import uvicorn

    from stack.local import port_free

    settings = settings_of(ctx)
    host = host or settings.codec.server_host
    port = port or settings.codec.server_port

    try:
        codec, token, origins = server_parts(settings)
        if not port_free(host, port):
            raise CliError(f"port {port} is already in use: stop what uses it or pass --port")
    except CliError as exc:
        fail(str(exc))
    console.print(
        f"codec server on http://{host}:{port} for {', '.join(origins)} "
        f"(key {codec.current}); Ctrl-C stops it",
        soft_wrap=True,
    )
    uvicorn.run(codec_app(codec, token, origins), host=host, port=port, log_level="warning")
