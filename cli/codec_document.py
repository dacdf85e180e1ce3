"""What the codec server's OpenAPI document says: the bearer token, the payloads it takes and
answers (Temporal's remote codec protocol, proto3 JSON) and every status it answers."""

from typing import Annotated, Any

from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from application.openapi import errors

MAX_BODY_BYTES = 4 * 1024 * 1024  # Temporal's own limit on a gRPC message

Base64 = Annotated[str, Field(json_schema_extra={"contentEncoding": "base64"})]


class PayloadJson(BaseModel):
    """One Temporal Payload in proto3 JSON: metadata values and data are base64."""

    metadata: dict[str, Base64] = {}
    data: Base64 = ""


# A JSON payload in clear: {"a": 1} with encoding json/plain.
EXAMPLE: JsonDict = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJhIjogMX0="}


class PayloadsJson(BaseModel):
    """The body `/encode` and `/decode` take and answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"payloads": [EXAMPLE]}]})
    payloads: list[PayloadJson] = []


TOKEN = HTTPBearer(
    scheme_name="CodecToken",
    description="`Authorization: Bearer <[codec] server_token>` (the UI's codec auth setting, "
    "the CLI's `--codec-auth`)",
    auto_error=False,
)
ERRORS: dict[int | str, dict[str, Any]] = errors(
    {
        400: "The body is not `{'payloads': [...]}` in proto3 JSON (or not UTF-8)",
        401: "No valid bearer token: nothing is encoded or decoded",
        413: f"The body is over {MAX_BODY_BYTES} bytes",
        422: "A payload does not decrypt: its key id is not listed, or it was not sealed "
        "with the key listed under that id",
    },
    headers={401: {"WWW-Authenticate": {"schema": {"type": "string"}}}},
)
