"""The facades reach the stores: execution.save(store=...) and flow.resume(store, id, ...)."""

import pytest
from approval_flow import Mailer, build_flow, paused_execution

from triggerflow_nb import InvalidArgumentError
from triggerflow_nb.store import VersionConflictError


def test_save_into_a_store_returns_versions_and_refuses_a_stale_copy(store):
    flow = build_flow()
    execution = paused_execution(flow)
    assert execution.save(store=store) == 1
    assert execution.save(store=store) == 2  # the same object saves again: it knows version 1 was its own
    stored = store.get(execution.id)
    assert stored.version == 2 and stored.snapshot["state"] == execution.get_state()
    with pytest.raises(VersionConflictError):
        execution.save(store=store, expected_version=1)
    execution.close(pending_interrupts="cancel")


def test_save_options_without_a_store_are_refused():
    execution = paused_execution(build_flow())
    with pytest.raises(InvalidArgumentError, match=r"^save\(expected_version=..., lease=...\) needs store=$"):
        execution.save(expected_version=1)
    execution.close(pending_interrupts="cancel")


def test_flow_resume_claims_continues_saves_and_releases(store):
    flow = build_flow()
    paused = paused_execution(flow)
    paused.save(store=store)
    paused.close(pending_interrupts="cancel")

    mailer = Mailer("worker")
    resumed = build_flow().resume(store, paused.id, owner="worker-1", runtime_resources={"mailer": mailer},
                                  payload="approved")
    assert resumed.lifecycle_state == "closed"
    assert mailer.sent == [("finance@example.com", "expense approved")]
    stored = store.get(paused.id)
    assert stored.version == 2 and stored.snapshot["state"]["decision"] == "approved"
    assert stored.lease_owner is None  # released
