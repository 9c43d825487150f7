"""What persistence decides about a snapshot: is it ours, is it whole, what does it need.

It receives plain values (the ``ExecutionSnapshot`` that ``runtime.snapshot`` captures)
and never touches an execution. Every check happens before anything is applied, so a
refused snapshot leaves the target execution exactly as it was.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..definition.graph import FlowGraph
from ..errors import (
    FingerprintMismatchError,
    InvalidSnapshotError,
    SchemaVersionError,
    StateSerializationError,
)
from ..layers.resources import describe_resource
from ..layers.state import to_state_dict, to_state_value
from ..runtime.snapshot import SCHEMA_VERSION, ExecutionSnapshot
from .consistency import check_consistency
from .saved import SavedExecution


class SnapshotTarget(Protocol):
    """The flow a snapshot is loaded into: its name, graph and declared requirements."""

    name: str

    @property
    def flow_graph(self) -> FlowGraph: ...

    @property
    def resource_requirements(self) -> list[str]: ...


def saved_execution(snapshot: ExecutionSnapshot) -> SavedExecution:
    return SavedExecution(snapshot)


def validate_snapshot(saved: Any, flow: SnapshotTarget) -> ExecutionSnapshot:
    """Check a snapshot's shape, version, definition and consistency; raise a typed error if refused.

    The snapshot returned owns a private copy of the state.
    """
    if not isinstance(saved, dict):
        raise InvalidSnapshotError(
            f"load() takes the dict that execution.save() returned (or load_from_file(path)), "
            f"got {type(saved).__name__}"
        )
    version = saved.get("schema_version")
    if version is None:
        raise InvalidSnapshotError("not a saved execution: it has no 'schema_version' key")
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"snapshot schema version {version!r} is not readable by this triggerflow_nb, which reads version "
            f"{SCHEMA_VERSION}; save it again with a matching version of the package"
        )
    from .schema import validate_shape  # pydantic is paid for on load only, never on save

    snapshot = validate_shape(saved)
    fingerprint = flow.flow_graph.fingerprint()
    if snapshot["flow_name"] != flow.name or snapshot["flow_fingerprint"] != fingerprint:
        raise FingerprintMismatchError(
            f"snapshot of flow {snapshot['flow_name']!r} (definition {snapshot['flow_fingerprint'][:19]}) does not "
            f"match this execution's flow {flow.name!r} (definition {fingerprint[:19]}): load it into an execution "
            f"of the same flow definition (same name, chunks and wiring)"
        )
    try:  # free-form values (typed Any) may still be live, cyclic, too deep or NaN: check them all
        _own_free_values(snapshot)
    except StateSerializationError as exc:
        raise InvalidSnapshotError(f"corrupt snapshot: {exc}") from None
    check_consistency(snapshot, flow.flow_graph)
    return snapshot


def _own_free_values(snapshot: ExecutionSnapshot) -> None:
    """Replace every free-form value with a checked private copy (rebuilt containers)."""
    snapshot["state"] = to_state_dict(snapshot["state"])
    for interrupt in snapshot["interrupts"]:
        where = f"interrupt {interrupt['id']!r}"
        interrupt["payload"] = to_state_value(f"{where} payload", interrupt["payload"])
        interrupt["input"] = to_state_value(f"{where} input", interrupt["input"])
    continuation = snapshot["continuation"]
    for activation in continuation["activations"]:
        activation["slots"] = to_state_value(f"activation {activation['id']!r} slots", activation["slots"])
    for join in continuation["joins"]:
        join["seen"] = to_state_value(f"join {join['node']!r}", join["seen"])


def missing_resource_keys(snapshot: ExecutionSnapshot, flow: SnapshotTarget, present: list[str],
                          provided: dict[str, Any] | None) -> list[str]:
    """Resource keys the snapshot (or the flow) needs that neither ``present`` nor ``provided`` has."""
    needed = [k for k, d in snapshot["resources"].items() if not d["managed"]]
    for key in snapshot["required_resource_keys"] + flow.resource_requirements:
        if key not in needed:
            needed.append(key)
    provided = provided or {}
    return [k for k in needed if k not in provided and k not in present]


def resource_type_mismatches(snapshot: ExecutionSnapshot, resources: dict[str, Any]) -> list[str]:
    """One message per resource that ``resources`` (what load() will mount) gives with another type than saved."""
    messages = []
    for key, record in snapshot["resources"].items():
        saved_type = record["type"]
        if record["managed"] or saved_type == "unknown" or key not in resources:
            continue
        given_type = describe_resource(resources[key])
        if given_type != saved_type:
            messages.append(
                f"runtime resource {key!r} had type {saved_type} when the execution was saved, but load() got type "
                f"{given_type}: chunks that use it may fail; pass an object of type {saved_type} under {key!r}, or "
                f"ignore this warning if the new type is intended")
    return messages


def load_report(snapshot: ExecutionSnapshot, missing: list[str], target_is_fresh: bool,
                mismatches: list[str], unprovided: list[dict[str, Any]]) -> dict[str, Any]:
    """``inspect_load``'s answer for a snapshot that passed validation.

    ``mismatches``: from ``resource_type_mismatches``; ``unprovided``: the managed environments
    load() would mount whose kind has no registered provider (load() would fail on them).
    """
    diagnostics: list[str] = []
    if missing:
        diagnostics.append(f"missing runtime resources {missing}: pass them to load(saved, runtime_resources={{...}})")
    diagnostics.extend(mismatches)
    if not target_is_fresh:
        diagnostics.append("the target execution was already started: load into a fresh create_execution()")
    pending = [i["id"] for i in snapshot["interrupts"] if i["status"] == "waiting"]
    if pending:
        diagnostics.append(f"pending interrupts after load: {pending} (resume with continue_with)")
    for env in unprovided:
        diagnostics.append(
            f"managed resource {env['key']!r} needs an execution environment provider for kind {env['kind']!r}, and "
            f"none is registered: register one with triggerflow_nb.execution_environment.register({env['kind']!r}, "
            f"start=..., release=...) before load()"
        )
    unprovided_keys = {env["key"] for env in unprovided}
    for saved_env in snapshot["environments"]:
        if saved_env["key"] not in unprovided_keys:
            diagnostics.append(f"managed resource {saved_env['key']!r} ({saved_env['kind']}) will be re-ensured by "
                               f"the environment manager")
    ready = not missing and target_is_fresh and not unprovided
    return {"ready": ready, "missing_resource_keys": missing, "diagnostics": diagnostics}


def refusal_report(exc: Exception) -> dict[str, Any]:
    return {"ready": False, "missing_resource_keys": [], "diagnostics": [f"{type(exc).__name__}: {exc}"]}
