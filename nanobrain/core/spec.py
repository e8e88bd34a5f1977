"""Turn a typed async callable into a self-describing spec: schemas, mode and routing text.

Everything above `core` (validation, OpenAPI, UI forms, MCP, routing) is generated from these specs,
so all the checking happens here, once, at registration time.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Unpack, get_args, get_origin

from pydantic import BaseModel, ConfigDict, RootModel, create_model

from nanobrain.core.context import Context
from nanobrain.core.errors import RegistrationError
from nanobrain.core.options import WorkflowOptions
from nanobrain.core.types import File

Mode = Literal["sync", "job", "stream", "chat"]
MODES: tuple[str, ...] = ("sync", "job", "stream", "chat")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*$")
_ASYNC_ITERATORS = (AsyncIterator, AsyncIterable, AsyncGenerator)


@dataclass(frozen=True, eq=False)
class Runnable:
    """What the executor can run: a workflow or a tool, with its validated contract."""

    kind: Literal["workflow", "tool", "agent"]
    name: str
    title: str
    description: str
    fn: Callable[..., Any]
    input_model: type[BaseModel]
    output_model: type[RootModel[Any]]
    context_param: str | None
    is_generator: bool
    file_fields: tuple[str, ...]
    tags: tuple[str, ...] = ()
    version: str = "1"
    examples: tuple[str, ...] = ()
    timeout: float | None = None
    roles: tuple[str, ...] | None = None
    retry_safe: bool = False
    cache: bool | float = False
    concatenates_text: bool = False
    mode: Mode = "sync"
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)

    @property
    def routing_text(self) -> str:
        """The text a request analyzer indexes to route free-form requests here."""
        parts = [self.name.replace("-", " "), self.title, self.description, " ".join(self.tags)]
        parts.extend(self.examples)
        return "\n".join(part for part in parts if part)

    def allows(self, role: str) -> bool:
        return self.roles is None or role in self.roles or role == "admin"

    def describe(self) -> dict[str, Any]:
        """The catalog entry (GET /workflows, /tools/{id}/info)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "version": self.version,
            "mode": self.mode,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "examples": list(self.examples),
        }


def default_name(fn: Callable[..., Any]) -> str:
    return fn.__name__.strip("_").replace("_", "-").lower()


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.\s]+", name) if part)


def _doc_parts(fn: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(fn) or ""
    paragraphs = [p.strip() for p in doc.split("\n\n") if p.strip()]
    summary = " ".join(paragraphs[0].split()) if paragraphs else ""
    return summary, "\n\n".join(paragraphs)


def _is_file_annotation(annotation: Any) -> bool:
    if annotation is File:
        return True
    return any(_is_file_annotation(arg) for arg in get_args(annotation))


def build_runnable(
    fn: Callable[..., Any],
    *,
    kind: Literal["workflow", "tool", "agent"],
    **options: Unpack[WorkflowOptions],
) -> Runnable:
    """Validate `fn`'s signature and derive its schemas; raise RegistrationError if unsupported.
    Options left out take the defaults below."""
    name = options.get("name")
    title = options.get("title")
    description = options.get("description")
    tags = options.get("tags", ())
    version = options.get("version", "1")
    examples = options.get("examples", ())
    mode = options.get("mode")
    timeout = options.get("timeout")
    roles = options.get("roles")
    retry_safe = options.get("retry_safe", False)
    cache = options.get("cache", False)
    where = f"{kind} {getattr(fn, '__qualname__', fn)!r}"
    if not callable(fn):
        raise RegistrationError(f"{where}: is not callable")
    is_generator = inspect.isasyncgenfunction(fn)
    if not (is_generator or inspect.iscoroutinefunction(fn)):
        raise RegistrationError(
            f"{where}: must be `async def` (or an async generator for streaming); "
            "run blocking code inside it with `await asyncio.to_thread(...)`"
        )
    name = name or default_name(fn)
    if not NAME_PATTERN.match(name):
        raise RegistrationError(
            f"{where}: name {name!r} must be lower-case letters, digits and single - _ . separators"
        )
    if timeout is not None and timeout <= 0:
        raise RegistrationError(f"{where}: timeout must be positive, got {timeout}")
    if (
        cache is not True
        and cache is not False
        and not (isinstance(cache, int | float) and cache > 0)
    ):
        raise RegistrationError(f"{where}: cache must be True, False or seconds > 0, not {cache!r}")

    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise RegistrationError(f"{where}: cannot resolve type hints: {exc}") from exc

    context_param: str | None = None
    fields: dict[str, Any] = {}
    file_fields: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise RegistrationError(f"{where}: *args and **kwargs are not supported")
        if param.kind is param.POSITIONAL_ONLY:
            raise RegistrationError(f"{where}: parameter {param.name!r} is positional-only")
        annotation = hints.get(param.name, inspect.Parameter.empty)
        if annotation is Context:
            if context_param is not None:
                raise RegistrationError(f"{where}: more than one Context parameter")
            context_param = param.name
            continue
        if annotation is inspect.Parameter.empty:
            raise RegistrationError(
                f"{where}: parameter {param.name!r} needs a type annotation (it becomes the schema)"
            )
        if param.name.startswith("_"):
            raise RegistrationError(f"{where}: parameter {param.name!r} may not start with '_'")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
        if _is_file_annotation(annotation):
            file_fields.append(param.name)

    returns = hints.get("return", inspect.Parameter.empty)
    if returns is inspect.Parameter.empty:
        raise RegistrationError(
            f"{where}: needs a return annotation (it becomes the output schema)"
        )
    concatenates_text = False
    if is_generator:
        origin = get_origin(returns)
        if origin not in _ASYNC_ITERATORS:
            raise RegistrationError(
                f"{where}: an async generator must be annotated AsyncIterator[T] or "
                f"AsyncGenerator[T, None], not {returns!r}"
            )
        item = get_args(returns)[0] if get_args(returns) else Any
        concatenates_text = item is str
        returns = str if concatenates_text else list[item]  # type: ignore[valid-type]

    resolved_mode = _resolve_mode(where, kind, mode, is_generator, fields)
    model_name = camel(name)
    try:
        input_model = create_model(
            f"{model_name}Input",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
        output_model = create_model(f"{model_name}Output", __base__=RootModel[returns])  # type: ignore[valid-type]
        input_schema = input_model.model_json_schema()
        output_schema = output_model.model_json_schema(mode="serialization")
    except Exception as exc:
        raise RegistrationError(
            f"{where}: its types cannot be described as JSON Schema: {exc}"
        ) from exc

    summary, full_doc = _doc_parts(fn)
    return Runnable(
        kind=kind,
        name=name,
        title=title or name.replace("-", " ").replace("_", " ").capitalize(),
        description=description or full_doc or summary,
        fn=fn,
        input_model=input_model,
        output_model=output_model,
        context_param=context_param,
        is_generator=is_generator,
        file_fields=tuple(file_fields),
        tags=tuple(tags),
        version=str(version),
        examples=tuple(examples),
        timeout=timeout,
        roles=tuple(roles) if roles is not None else None,
        retry_safe=retry_safe,
        cache=cache,
        concatenates_text=concatenates_text,
        mode=resolved_mode,  # type: ignore[arg-type]
        input_schema=input_schema,
        output_schema=output_schema,
    )


def _resolve_mode(
    where: str, kind: str, mode: str | None, is_generator: bool, fields: dict[str, Any]
) -> str:
    if kind == "tool":
        if mode not in (None, "sync"):
            raise RegistrationError(f"{where}: tools always run in `sync` mode")
        if is_generator:
            raise RegistrationError(f"{where}: a tool cannot be an async generator")
        return "sync"
    if mode is None:
        return "stream" if is_generator else "sync"
    if mode not in MODES:
        raise RegistrationError(f"{where}: mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "stream" and not is_generator:
        raise RegistrationError(f"{where}: `stream` mode needs an async generator (use `yield`)")
    message = fields.get("message", (None,))[0]
    if get_origin(message) is typing.Annotated:
        message = get_args(message)[0]
    if mode == "chat" and message is not str:
        raise RegistrationError(f"{where}: a `chat` workflow needs a `message: str` parameter")
    return mode
