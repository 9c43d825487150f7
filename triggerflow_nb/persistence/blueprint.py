"""Blueprints: a flow's definition as JSON/YAML-safe data (structure and handler names, never code).

Loading a blueprint rebuilds the graph model and looks every handler and
predicate up by name among those registered with ``flow.register_chunk_handler``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..definition.collect import check_collects
from ..definition.flow import FlowDefinition, open_blocks, replace_graph
from ..definition.graph import CHUNK, HIT_FIRST, IF, MATCH, SUB_FLOW, Branch, FlowGraph, Node
from ..errors import BlueprintError, FlowDefinitionError, StateSerializationError
from ..layers.state import to_state_value

BLUEPRINT_VERSION = 2  # 2: the graph's one description (FlowGraph.describe), sub-flows nested without a version

Handlers = dict[str, tuple[Callable[..., Any], bool]]


def check_exportable(flow: FlowDefinition, error: type[BlueprintError] = BlueprintError) -> None:
    """A flow written out (as a blueprint or a flow config) has every block closed and sound collects."""
    if open_blocks(flow):
        raise error(f"flow {flow.name!r} has unclosed blocks {sorted(open_blocks(flow))}; close them first")
    try:
        check_collects(flow.name, flow.flow_graph)
    except FlowDefinitionError as exc:
        raise error(str(exc)) from None


def save_blueprint(flow: FlowDefinition) -> dict[str, Any]:
    check_exportable(flow)
    description = flow.flow_graph.describe()
    _check_cases(description)
    return {"blueprint_version": BLUEPRINT_VERSION, "name": flow.name, **description}


def _check_cases(description: dict[str, Any]) -> None:
    """Match case values must survive JSON: a blueprint is data, never code."""
    for node in description["nodes"]:
        for arm in node.get("arms", []):
            if "case" in arm:
                try:
                    arm["case"] = to_state_value("case", arm["case"])
                except StateSerializationError:
                    raise BlueprintError(
                        f"match case {arm['case']!r} in {node['id']!r} is not JSON-compatible"
                    ) from None
        if "sub_flow" in node:
            _check_cases(node["sub_flow"])


def load_blueprint(flow: FlowDefinition, blueprint: Any, *,
                   make_sub_flow: Callable[[str], FlowDefinition] = FlowDefinition) -> None:
    """Rebuild ``flow``'s graph from ``blueprint``; handlers come from the flow's registry.

    ``make_sub_flow(name)`` creates the flow object of each nested sub-flow (the facade
    passes its own class, so sub-flows can run).
    """
    if not isinstance(blueprint, dict) or blueprint.get("blueprint_version") != BLUEPRINT_VERSION:
        raise BlueprintError(
            f"not a version-{BLUEPRINT_VERSION} blueprint (expected a dict from flow.save_blueprint()), "
            f"got {type(blueprint).__name__}"
        )
    missing: list[str] = []
    try:
        graph = _build_graph(blueprint, flow.handlers, make_sub_flow, missing)
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
    replace_graph(flow, graph)


def _build_graph(description: dict[str, Any], registry: Handlers, make_sub_flow: Callable[[str], FlowDefinition],
                 missing: list[str]) -> FlowGraph:
    graph = FlowGraph()
    for spec in description["nodes"]:
        kind = spec["kind"]
        default_mode = HIT_FIRST if kind == MATCH else "simple"  # a hit_first match's description has no mode
        node = Node(spec["id"], kind, spec.get("label", spec["id"]), events=tuple(spec.get("events", ())),
                    mode=spec.get("mode", default_mode), concurrency=spec.get("concurrency"))
        for arm in spec.get("arms", []):
            predicate = None
            # if arms, and match cases that test a predicate rather than a value, name a registered function
            tests_predicate = kind == IF or (kind == MATCH and "case" not in arm)
            if arm.get("predicate") is not None and not arm["default"] and tests_predicate:
                found = registry.get(arm["predicate"])
                if found is None:
                    missing.append(arm["predicate"])
                else:
                    predicate = found[0]
            node.branches.append(Branch(arm["label"], arm["entry"], arm["tail"], predicate,
                                        arm.get("predicate"), arm.get("case") if kind == MATCH else None,
                                        arm["default"]))
        if kind == CHUNK and spec["id"] not in registry:
            missing.append(spec["id"])
        if kind == SUB_FLOW:
            child = make_sub_flow(spec["sub_flow"]["name"])
            replace_graph(child, _build_graph(spec["sub_flow"], registry, make_sub_flow, missing), dict(registry))
            node.sub_flow, node.capture, node.write_back = child, spec.get("capture"), spec.get("write_back")
        graph.add_node(node)
    for source, target in description["edges"]:
        if source not in graph.nodes or target not in graph.nodes:
            raise BlueprintError(f"blueprint edge {source!r} -> {target!r} names a node it does not define")
        graph.add_edge(source, target)
    return graph
