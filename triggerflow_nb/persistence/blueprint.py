"""Blueprints: a flow's definition as JSON/YAML-safe data (structure and handler names, never code).

Loading a blueprint rebuilds the graph model and looks every handler and
predicate up by name among those registered with ``flow.register_chunk_handler``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..definition.graph import CHUNK, EVENT, START, SUB_FLOW, Branch, FlowGraph, Node
from ..errors import BlueprintError, StateSerializationError
from ..layers.state import to_state_value

if TYPE_CHECKING:
    from ..definition.flow import TriggerFlow

BLUEPRINT_VERSION = 1


def save_blueprint(flow: "TriggerFlow") -> dict[str, Any]:
    if flow._open_blocks:
        raise BlueprintError(f"flow {flow.name!r} has unclosed blocks {sorted(flow._open_blocks)}; close them first")
    nodes = []
    for node in flow._graph.nodes.values():
        if node.kind == START:
            continue
        entry: dict[str, Any] = {"id": node.id, "kind": node.kind, "label": node.label}
        if node.kind == EVENT:
            entry.update(events=list(node.events), mode=node.mode)
        if node.branches:
            entry["arms"] = [_arm(node, arm) for arm in node.branches]
        if node.concurrency is not None:
            entry["concurrency"] = node.concurrency
        if node.kind == SUB_FLOW:
            entry.update(sub_flow=save_blueprint(node.sub_flow), capture=node.capture, write_back=node.write_back)
        nodes.append(entry)
    return {"blueprint_version": BLUEPRINT_VERSION, "name": flow.name, "nodes": nodes,
            "edges": [list(edge) for edge in flow._graph.edges()]}


def _arm(node: Node, arm: Branch) -> dict[str, Any]:
    out: dict[str, Any] = {"label": arm.label, "entry": arm.entry, "tail": arm.tail, "default": arm.is_default}
    if arm.predicate_name is not None:
        out["predicate"] = arm.predicate_name
    if node.kind == "match" and not arm.is_default:
        try:
            out["case"] = to_state_value("case", arm.case_value)
        except StateSerializationError:
            raise BlueprintError(f"match case {arm.case_value!r} in {node.id!r} is not JSON-compatible") from None
    return out


def load_blueprint(flow: "TriggerFlow", blueprint: Any, handlers: dict[str, tuple[Callable[..., Any], bool]] | None = None) -> None:
    """Rebuild ``flow``'s graph from ``blueprint``; handlers come from the flow's registry."""
    from ..definition.flow import TriggerFlow

    if not isinstance(blueprint, dict) or blueprint.get("blueprint_version") != BLUEPRINT_VERSION:
        raise BlueprintError(
            f"not a version-{BLUEPRINT_VERSION} blueprint (expected a dict from flow.save_blueprint()), "
            f"got {type(blueprint).__name__}"
        )
    registry = handlers if handlers is not None else flow._handlers
    try:
        graph = FlowGraph()
        missing: list[str] = []
        for spec in blueprint["nodes"]:
            kind = spec["kind"]
            node = Node(spec["id"], kind, spec.get("label", spec["id"]), events=tuple(spec.get("events", ())),
                        mode=spec.get("mode", "simple"), concurrency=spec.get("concurrency"))
            for arm in spec.get("arms", []):
                predicate = None
                if arm.get("predicate") is not None and not arm["default"] and kind == "if":
                    found = registry.get(arm["predicate"])
                    if found is None:
                        missing.append(arm["predicate"])
                    else:
                        predicate = found[0]
                node.branches.append(Branch(arm["label"], arm["entry"], arm["tail"], predicate,
                                            arm.get("predicate"), arm.get("case"), arm["default"]))
            if kind == CHUNK and spec["id"] not in registry:
                missing.append(spec["id"])
            if kind == SUB_FLOW:
                child = TriggerFlow(name=spec["sub_flow"]["name"])
                load_blueprint(child, spec["sub_flow"], registry)
                child._handlers = {k: v for k, v in registry.items()}
                node.sub_flow, node.capture, node.write_back = child, spec.get("capture"), spec.get("write_back")
            graph.add_node(node)
        for source, target in blueprint["edges"]:
            if source not in graph.nodes or target not in graph.nodes:
                raise BlueprintError(f"blueprint edge {source!r} -> {target!r} names a node it does not define")
            graph.add_edge(source, target)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BlueprintError):
            raise
        raise BlueprintError(f"malformed blueprint: {type(exc).__name__}: {exc}") from None
    if missing:
        names = sorted(set(missing))
        raise BlueprintError(
            f"blueprint of flow {blueprint.get('name')!r} names handlers that are not registered: {names}; "
            f"register each with flow.register_chunk_handler(fn) (or @flow.chunk('name')) before load_blueprint()"
        )
    flow._graph = graph
    flow._open_blocks = set()
