"""The public surface is a decision: its names are pinned here, and every sync/async twin agrees.

Growing or shrinking what users can reach (``triggerflow_nb.__all__``, the public methods of
the three user classes and of the stores) fails this test until the lists below say so.
Every ``x``/``async_x`` pair takes the same parameters, so the docs of one serve both.
"""

from __future__ import annotations

import inspect

import pytest

import triggerflow_nb
from triggerflow_nb import TriggerFlow, TriggerFlowExecution, TriggerFlowRuntimeData
from triggerflow_nb import store as store_module
from triggerflow_nb.store import ExecutionStore, PostgresStore, SQLiteStore

PACKAGE = [
    "ABSENT", "BlueprintError", "Chain", "ChunkError", "ChunkRun", "Emit", "EnvironmentProviderError",
    "FingerprintMismatchError", "FlowConfigError", "FlowDefinitionError", "HistoryError", "HistoryLimitWarning",
    "InterruptError", "InvalidArgumentError", "InvalidSnapshotError", "LifecycleError", "MissingResourceError",
    "NotRecorded", "PauseNotSupportedError", "ResourceTypeWarning", "SaveError", "SchemaVersionError",
    "SnapshotError", "StateSerializationError", "StepRecord", "TriggerFlow", "TriggerFlowError",
    "TriggerFlowEventData", "TriggerFlowExecution", "TriggerFlowRuntimeData", "Write", "execution_environment",
    "reproducible", "watch",
]

FLOW = [
    "append_flow_data", "async_append_flow_data", "async_del_flow_data", "async_get_flow_data", "async_resume",
    "async_run_chunk", "async_set_flow_data", "async_start", "async_start_execution", "batch", "chunk", "collect",
    "create_execution", "declare_resource_requirement", "del_flow_data", "end", "flow_graph", "for_each",
    "get_async_runtime_stream", "get_flow_config", "get_flow_data", "get_json_flow", "get_runtime_stream",
    "get_yaml_flow", "graph", "handlers", "if_condition", "load_blueprint", "load_flow_config", "load_json_flow",
    "load_yaml_flow", "match", "peek_flow_data", "register_chunk_handler", "resource_requirements", "resume",
    "run_chunk", "save_blueprint", "set_flow_data", "side_branch", "start", "start_execution", "to", "to_dot",
    "to_mermaid", "to_sub_flow", "update_runtime_resources", "validate_runnable", "when",
]

EXECUTION = [
    "async_close", "async_continue_with", "async_emit", "async_emit_nowait", "async_get_runtime_data", "async_load",
    "async_put_into_stream", "async_retry", "async_save", "async_seal", "async_set_runtime_data", "async_set_state",
    "async_start", "async_unseal", "auto_close_in", "channel", "close", "closed_at", "continue_with", "emit",
    "emit_nowait", "fan_out_progress", "get_async_runtime_stream", "get_interrupt", "get_lifecycle_state",
    "get_pending_interrupts", "get_result", "get_runtime_data", "get_runtime_stream", "get_state", "get_status",
    "get_stream_items", "history", "inject_resources", "inspect_load", "is_closed", "is_fresh", "is_open",
    "is_sealed", "lifecycle_state", "load", "node_status", "on", "put_into_stream", "require_runtime_resource",
    "retry", "retryable_chunk", "run", "runtime_resources", "save", "seal", "set_runtime_data", "set_state",
    "start", "state_at", "status", "stream_length", "timeline", "track_state_changes", "unseal", "watch",
]

STORE = [
    "async_claim", "async_create", "async_delete", "async_get", "async_list", "async_next_runnable", "async_prune",
    "async_put", "async_release", "async_renew", "claim", "close", "create", "delete", "get", "list",
    "next_runnable", "prune", "put", "release", "renew",
]


def _public(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def test_the_package_exports_exactly_these_names():
    assert sorted(triggerflow_nb.__all__) == PACKAGE
    assert all(hasattr(triggerflow_nb, name) for name in PACKAGE)


@pytest.mark.parametrize("cls, names", [(TriggerFlow, FLOW), (TriggerFlowExecution, EXECUTION),
                                        (ExecutionStore, STORE), (SQLiteStore, sorted([*STORE, "browse", "integrity_check"])),
                                        (PostgresStore, sorted([*STORE, "browse"]))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_the_user_classes_have_exactly_these_public_members(cls, names):
    assert _public(cls) == names


def _twins(owner: object) -> list[tuple[str, object, object]]:
    return [(name, getattr(owner, name), getattr(owner, name.removeprefix("async_")))
            for name in dir(owner) if name.startswith("async_") and hasattr(owner, name.removeprefix("async_"))]


OWNERS = [TriggerFlow, TriggerFlowExecution, TriggerFlowRuntimeData, ExecutionStore, SQLiteStore, PostgresStore,
          store_module]


@pytest.mark.parametrize("owner", OWNERS, ids=lambda o: getattr(o, "__name__", ""))
def test_every_sync_async_pair_takes_the_same_parameters(owner):
    twins = _twins(owner)
    assert twins, f"{owner} has no async twins: the owner list is stale"
    differ = [
        f"{name}{inspect.signature(async_form)} vs {name.removeprefix('async_')}{inspect.signature(sync_form)}"
        for name, async_form, sync_form in twins
        if list(inspect.signature(async_form).parameters.values())
        != list(inspect.signature(sync_form).parameters.values())
    ]
    assert differ == []
