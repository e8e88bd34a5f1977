"""OpenAPI 3.1 with every workflow's and tool's input and output schemas as named components."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from nanobrain.core.registry import Registry

REF_TEMPLATE = "#/components/schemas/{model}"
_COMPONENTS = "x-nanobrain-components"  # schemas an operation brings, lifted into components


def request_body(model: type[BaseModel], also: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `model` (and whose other media types are
    `also`): the request body, and the model's schema for the document's components."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    definitions = schema.pop("$defs", {})
    json = {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
    return {
        "requestBody": {"required": True, "content": {"application/json": json, **(also or {})}},
        "responses": {"422": {"description": "Validation Error"}},
        _COMPONENTS: {**definitions, model.__name__: schema},
    }


def build_openapi(app: FastAPI, registry: Registry) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
    )
    models: list[tuple[type[BaseModel], Any]] = []
    runnables = [*registry.workflows.values(), *registry.tools.values()]
    for spec in runnables:
        models.append((spec.input_model, "validation"))
        models.append((spec.output_model, "serialization"))
    _, definitions = models_json_schema(models, ref_template=REF_TEMPLATE)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{"bearer": []}, {"apiKey": []}]
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            components.update(operation.pop(_COMPONENTS, {}))
            _document_problems(operation)
    schema["x-nanobrain-workflows"] = {
        spec.name: {
            "input": REF_TEMPLATE.format(model=spec.input_model.__name__),
            "output": REF_TEMPLATE.format(model=spec.output_model.__name__),
            "mode": spec.mode,
        }
        for spec in registry.workflows.values()
    }
    return schema


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or nbk_ API key"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_COMMON_PROBLEMS = {
    "401": "missing or invalid credentials",
    "403": "authenticated, but not permitted",
    "429": "rate limited (see Retry-After)",
}


PUBLIC: dict[str, Any] = {"security": []}  # `openapi_extra` of routes anyone may call


def _document_problems(operation: dict[str, Any]) -> None:
    """Every operation may answer with a problem: the usual ones by name, the rest as default.
    Errors are problem documents, FastAPI's 422 included (our handler rewrites it)."""
    responses = operation.setdefault("responses", {})
    if operation.get("security") != []:
        for status, description in _COMMON_PROBLEMS.items():
            responses.setdefault(status, {"description": description, "content": _PROBLEM})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = _PROBLEM
    responses.setdefault("default", {"description": "a problem (RFC 9457)", "content": _PROBLEM})


def install(app: FastAPI, registry: Registry) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, registry)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
