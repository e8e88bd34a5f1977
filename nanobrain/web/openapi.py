"""OpenAPI 3.1 with every workflow's and tool's input and output schemas as named components."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from nanobrain.core.registry import Registry
from nanobrain.web.schemas import ExecuteRequest, ToolExecuteRequest

REF_TEMPLATE = "#/components/schemas/{model}"


def build_openapi(app: FastAPI, registry: Registry) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
    )
    models: list[tuple[type[BaseModel], Any]] = [
        (ExecuteRequest, "validation"),
        (ToolExecuteRequest, "validation"),
    ]
    runnables = [*registry.workflows.values(), *registry.tools.values()]
    for spec in runnables:
        models.append((spec.input_model, "validation"))
        models.append((spec.output_model, "serialization"))
    _, definitions = models_json_schema(models, ref_template=REF_TEMPLATE)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions.get("$defs", {}))
    schema["x-nanobrain-workflows"] = {
        spec.name: {
            "input": REF_TEMPLATE.format(model=spec.input_model.__name__),
            "output": REF_TEMPLATE.format(model=spec.output_model.__name__),
            "mode": spec.mode,
        }
        for spec in registry.workflows.values()
    }
    return schema


def install(app: FastAPI, registry: Registry) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, registry)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
