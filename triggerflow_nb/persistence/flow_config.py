"""Flow configs: the other TriggerFlow's definition format (Agently's ``get_flow_config`` /
``load_flow_config``), a second door beside our blueprint.

Like a blueprint, a flow config holds structure and handler names, never code: loading
one looks every chunk handler and predicate up among those registered with
``flow.register_chunk_handler``. What maps to what is in ``flow_config_format`` (the
format), ``flow_config_out`` (ours to theirs) and ``flow_config_in`` (theirs to ours);
this module holds the entry points and the JSON and YAML text forms.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..definition.flow import FlowDefinition, replace_graph
from ..errors import FlowConfigError
from .flow_config_in import read_flow_config
from .flow_config_out import flow_config
from .flow_config_parse import MAX_OPERATORS

__all__ = ["flow_config", "from_json", "from_yaml", "load_flow_config", "to_json", "to_yaml"]

# A YAML text is refused when its aliases would expand it past this many values (a "billion laughs").
MAX_YAML_VALUES = 1_000_000


def load_flow_config(flow: FlowDefinition, config: Any, *,
                     make_sub_flow: Callable[[str], FlowDefinition] = FlowDefinition) -> None:
    """Rebuild ``flow``'s graph from ``config``; handlers come from the flow's registry.

    ``make_sub_flow(name)`` creates the flow object of each nested sub-flow (the facade passes
    its own class, so sub-flows can run). Nothing changes unless the whole config is read.
    """
    missing: list[str] = []
    try:
        graph = read_flow_config(config, flow.handlers, make_sub_flow, missing, [MAX_OPERATORS, MAX_OPERATORS])
    except FlowConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise FlowConfigError(f"malformed flow config: {type(exc).__name__}: {exc}") from None
    if missing:
        raise FlowConfigError(
            f"flow config {config.get('name')!r} names handlers that are not registered: {sorted(set(missing))}; "
            f"register each with flow.register_chunk_handler(fn) (or @flow.chunk('name')) before load_flow_config()"
        )
    replace_graph(flow, graph)


# -- text forms ---------------------------------------------------------------------------------------


def to_json(config: dict[str, Any], save_to: str | os.PathLike[str] | None = None) -> str:
    text = json.dumps(config, indent=2, ensure_ascii=False)
    _save(text, save_to)
    return text


def from_json(source: str | os.PathLike[str]) -> Any:
    """The config in JSON text ``source`` (or in the file a ``pathlib.Path`` names)."""
    text = _text(source, "load_json_flow")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FlowConfigError(f"not a JSON flow config: {exc}{_path_hint(source)}") from None
    except RecursionError:
        raise FlowConfigError("not a JSON flow config: nested too deeply") from None


def to_yaml(config: dict[str, Any], save_to: str | os.PathLike[str] | None = None) -> str:
    yaml = _yaml()

    dumper: Any = type("TreeDumper", (yaml.SafeDumper,), {"ignore_aliases": lambda self, data: True})
    text: str = yaml.dump(config, Dumper=dumper, indent=2, allow_unicode=True, sort_keys=False)
    _save(text, save_to)
    return text


def from_yaml(source: str | os.PathLike[str]) -> Any:
    """The config in YAML text ``source`` (or in the file a ``pathlib.Path`` names); safe loading only."""
    yaml = _yaml()
    text = _text(source, "load_yaml_flow")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowConfigError(f"not a YAML flow config: {exc}{_path_hint(source)}") from None
    except RecursionError:
        raise FlowConfigError("not a YAML flow config: nested too deeply") from None
    _check_expansion(config)
    return config


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise FlowConfigError(
            "YAML flow configs need PyYAML, which is not installed: pip install pyyaml (or triggerflow_nb[yaml]); "
            "the JSON forms (get_json_flow / load_json_flow) need nothing more"
        ) from None
    return yaml


def _text(source: Any, method: str) -> str:
    if isinstance(source, os.PathLike):
        try:
            return Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FlowConfigError(f"{method}(): cannot read {os.fspath(source)!r}: {exc}") from None
    if not isinstance(source, str):
        raise FlowConfigError(f"{method}() takes the config's text (a str) or a pathlib.Path, got "
                              f"{type(source).__name__}")
    return source


def _path_hint(source: Any) -> str:
    if isinstance(source, str) and "\n" not in source and Path(source).suffix in (".json", ".yaml", ".yml"):
        return f" (to read the file {source!r}, pass pathlib.Path({source!r}))"
    return ""


def _save(text: str, save_to: str | os.PathLike[str] | None) -> None:
    if save_to is not None:
        path = Path(save_to)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _check_expansion(config: Any) -> None:
    """Refuse a YAML document whose aliases make it huge, or make it contain itself: both would
    have reading it walk without end."""
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in open_ids:
            raise FlowConfigError("not a YAML flow config: an alias makes it contain itself")
        open_ids.add(key)
        children = value.values() if isinstance(value, dict) else value
        total = 1 + sum(size(child) for child in children)
        open_ids.discard(key)
        if total > MAX_YAML_VALUES:
            raise FlowConfigError(f"not a YAML flow config: its aliases expand it past {MAX_YAML_VALUES} values")
        sizes[key] = total
        return total

    try:
        size(config)
    except RecursionError:
        raise FlowConfigError("not a YAML flow config: nested too deeply") from None
