"""OpenAPI for psflow's own servers (ingress, the codec server): routes that read their body
themselves, after the signature or token and the size are checked, still document that body,
and every error they answer is documented with its body."""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    """An error answer: one line saying what was wrong and what to do."""

    error: str


def errors(
    described: dict[int, str], headers: dict[int, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` for error statuses answered with ErrorBody; `headers` by status."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, text in described.items():
        responses[status] = {"model": ErrorBody, "description": text}
        if headers and status in headers:
            responses[status]["headers"] = headers[status]
    return responses


def json_body(
    model: type[BaseModel], description: str, examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`openapi_extra` declaring the JSON body a route reads itself (see `with_schemas`), with
    named example bodies."""
    media: dict[str, Any] = {"schema": {"$ref": REF.format(model=model.__name__)}}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": media},
        }
    }


def with_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add the models' schemas to the app's document, where `json_body` points."""
    built = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = built()
        _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
