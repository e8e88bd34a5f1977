"""The registry: every workflow, tool and agent a server offers, and how they are discovered.

Sources: an import path (`pkg.module`, `pkg.module:attr`, or `path/to/file.py`), the
`nanobrain.workflows` entry-point group, and YAML files that name callables.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from nanobrain.core.agent import Agent
from nanobrain.core.decorators import spec_of
from nanobrain.core.errors import RegistrationError
from nanobrain.core.options import WORKFLOW_OPTIONS
from nanobrain.core.spec import Runnable, build_runnable

ENTRY_POINT_GROUP = "nanobrain.workflows"
_YAML_SECTIONS = {"imports", "workflows", "tools", "agents"}


class Registry:
    """Holds specs by name. Registering the same callable twice is a no-op; a clash is an error."""

    def __init__(self) -> None:
        self.workflows: dict[str, Runnable] = {}
        self.tools: dict[str, Runnable] = {}
        self.agents: dict[str, Agent] = {}
        self.sources: list[str] = []

    def __len__(self) -> int:
        return len(self.workflows) + len(self.tools) + len(self.agents)

    def copy(self) -> Registry:
        """A registry with the same entries, to add to without changing this one."""
        copied = Registry()
        copied.workflows = dict(self.workflows)
        copied.tools = dict(self.tools)
        copied.agents = dict(self.agents)
        copied.sources = list(self.sources)
        return copied

    # -- registering -----------------------------------------------------------------------
    def add(self, obj: Any, *, source: str = "") -> None:
        """Add a decorated function, an Agent, a module (all it defines), or an iterable of them."""
        if isinstance(obj, Runnable):
            self._add_runnable(obj, source)
        elif spec_of(obj) is not None:
            self._add_runnable(spec_of(obj), source)  # type: ignore[arg-type]
        elif isinstance(obj, Agent):
            self._add_agent(obj, source)
        elif isinstance(obj, ModuleType):
            self._add_module(obj)
        elif isinstance(obj, Registry):
            for item in [*obj.workflows.values(), *obj.tools.values(), *obj.agents.values()]:
                self.add(item, source=source)
        elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
            for item in obj:
                self.add(item, source=source)
        else:
            raise RegistrationError(
                f"{source or 'registry'}: {obj!r} is not a @workflow/@tool function, an Agent "
                "or a module"
            )

    def _add_runnable(self, spec: Runnable, source: str) -> None:
        table = self.workflows if spec.kind == "workflow" else self.tools
        existing = table.get(spec.name)
        if existing is not None and existing is not spec:
            if existing.fn is spec.fn and source.endswith((".yaml", ".yml")):
                table[spec.name] = spec  # a YAML entry refining a decorated function
                return
            raise RegistrationError(
                f"duplicate {spec.kind} name {spec.name!r}: {_where(existing.fn)} and "
                f"{_where(spec.fn)} (pass name=... to one of them)"
            )
        table[spec.name] = spec

    def _add_agent(self, agent: Agent, source: str) -> None:
        existing = self.agents.get(agent.name)
        if existing is not None and existing is not agent:
            raise RegistrationError(f"duplicate agent name {agent.name!r} ({source or 'registry'})")
        self.agents[agent.name] = agent

    def _add_module(self, module: ModuleType) -> None:
        """Add what the module (or, for a package, its submodules) defines, not what it imports
        from elsewhere: reusing another module's workflow must not publish it again."""
        found = 0
        prefix = module.__name__ + "."
        for value in list(vars(module).values()):
            spec = spec_of(value)
            if spec is not None:
                origin = getattr(spec.fn, "__module__", "")
                if origin != module.__name__ and not origin.startswith(prefix):
                    continue
            if spec is not None or isinstance(value, Agent):
                self.add(value, source=module.__name__)
                found += 1
        if found == 0:
            raise RegistrationError(
                f"module {module.__name__!r} defines no workflow, tool or agent"
            )

    # -- discovery ---------------------------------------------------------------------------
    def load(self, target: str) -> None:
        """Load one discovery target: a YAML file, a Python file, `module` or `module:attr`."""
        self.sources.append(target)
        if target.endswith((".yaml", ".yml")):
            self.load_yaml(Path(target))
        elif target.endswith(".py"):
            self.add(_import_file(Path(target)), source=target)
        else:
            self.add(import_object(target), source=target)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for entry_point in entry_points(group=group):
            try:
                obj = entry_point.load()
            except Exception as exc:
                raise RegistrationError(
                    f"entry point {entry_point.name!r} ({entry_point.value}) failed to load: {exc}"
                ) from exc
            self.sources.append(f"entry point {entry_point.name}")
            self.add(obj, source=f"entry point {entry_point.name}")

    def load_yaml(self, path: Path) -> None:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RegistrationError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise RegistrationError(f"{path}: invalid YAML: {exc}") from exc
        if document is None:
            raise RegistrationError(f"{path}: is empty")
        if not isinstance(document, dict):
            raise RegistrationError(f"{path}: must be a mapping with {sorted(_YAML_SECTIONS)}")
        unknown = set(document) - _YAML_SECTIONS
        if unknown:
            raise RegistrationError(
                f"{path}: unknown key(s) {sorted(unknown)}; expected {sorted(_YAML_SECTIONS)}"
            )
        source = str(path)
        for index, module_name in enumerate(_yaml_list(document, "imports", path)):
            if not isinstance(module_name, str):
                raise RegistrationError(f"{path}: imports[{index}] must be a module path")
            self.add(import_object(module_name), source=source)
        for kind in ("workflows", "tools"):
            for index, entry in enumerate(_yaml_list(document, kind, path)):
                where = f"{path}: {kind}[{index}]"
                self.add(_runnable_from_yaml(entry, kind[:-1], where), source=source)
        for index, entry in enumerate(_yaml_list(document, "agents", path)):
            where = f"{path}: agents[{index}]"
            if not isinstance(entry, dict):
                raise RegistrationError(f"{where}: must be a mapping")
            try:
                agent = Agent(**entry)
            except TypeError as exc:
                raise RegistrationError(f"{where}: {exc}") from exc
            self.add(agent, source=source)

    def validate(self) -> None:
        """Check cross-references once everything is loaded (agents' tools exist)."""
        for agent in self.agents.values():
            missing = [name for name in agent.tool_names if name not in self.tools]
            if missing:
                raise RegistrationError(
                    f"agent {agent.name!r} names unknown tool(s) {missing}; "
                    f"known tools: {sorted(self.tools)}"
                )


def discover(
    targets: Iterable[str], *, entry_point_group: str | None = ENTRY_POINT_GROUP
) -> Registry:
    """Build a registry from targets plus the entry-point group, and validate it."""
    registry = Registry()
    for target in targets:
        registry.load(target)
    if entry_point_group:
        registry.load_entry_points(entry_point_group)
    registry.validate()
    return registry


def import_object(path: str) -> Any:
    """Import `module` or `module:attribute.path`; errors name what was missing."""
    module_name, _, attribute = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistrationError(f"cannot import {module_name!r}: {exc}") from exc
    for part in filter(None, attribute.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise RegistrationError(f"{module_name!r} has no attribute {attribute!r}") from exc
    return obj


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise RegistrationError(f"{path}: no such file")
    module_name = f"nanobrain_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RegistrationError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        if isinstance(exc, RegistrationError):
            raise
        raise RegistrationError(f"{path}: failed to import: {exc}") from exc
    return module


def _yaml_list(document: dict[str, Any], key: str, path: Path) -> list[Any]:
    value = document.get(key) or []
    if not isinstance(value, list):
        raise RegistrationError(f"{path}: {key} must be a list")
    return value


def _runnable_from_yaml(entry: Any, kind: str, where: str) -> Runnable:
    if isinstance(entry, str):
        entry = {"callable": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("callable"), str):
        raise RegistrationError(f"{where}: needs `callable: module:function`")
    options = {key: value for key, value in entry.items() if key != "callable"}
    unknown = set(options) - set(WORKFLOW_OPTIONS)
    if unknown:
        raise RegistrationError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {list(WORKFLOW_OPTIONS)}"
        )
    fn = import_object(entry["callable"])
    existing = spec_of(fn)
    if existing is not None and existing.kind != kind:
        raise RegistrationError(f"{where}: {entry['callable']} is a {existing.kind}, not a {kind}")
    if existing is not None and not options:
        return existing
    inherited = {key: getattr(existing, key) for key in WORKFLOW_OPTIONS} if existing else {}
    if kind == "tool":
        inherited.pop("mode", None)
        inherited.pop("retry_safe", None)
    try:
        return build_runnable(fn, kind=kind, **{**inherited, **options})  # type: ignore[arg-type]
    except TypeError as exc:
        raise RegistrationError(f"{where}: {exc}") from exc
    except RegistrationError as exc:
        raise RegistrationError(f"{where}: {exc}") from exc


def _where(fn: Any) -> str:
    module = getattr(fn, "__module__", "?")
    try:
        line = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return f"{module}.{getattr(fn, '__qualname__', fn)}"
    return f"{module}.{getattr(fn, '__qualname__', fn)} (line {line})"


__all__ = ["ENTRY_POINT_GROUP", "Registry", "discover", "import_object"]
