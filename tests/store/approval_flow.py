"""The flow the store tests save and resume: record a request, pause for approval, mail finance.

Imported by the tests, by the notebook kernel and by the resume worker, so that all of them
build the same definition (a snapshot only loads into the same fingerprint).
"""

from __future__ import annotations

import copy
from typing import Any

from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData

FLOW_NAME = "expense-approval"


class Mailer:
    """A live object: kept in runtime_resources, never in a snapshot."""

    def __init__(self, name: str):
        self.name = name
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> int:
        self.sent.append((to, body))
        return len(self.sent)


def build_flow(name: str = FLOW_NAME) -> TriggerFlow:
    flow = TriggerFlow(name=name)

    @flow.chunk
    async def record_request(data: TriggerFlowRuntimeData):
        await data.async_set_state("request", data.input)
        return data.input

    @flow.chunk
    async def ask_approval(data: TriggerFlowRuntimeData):
        await data.async_pause_for(type="approval", payload={"amount": data.input["amount"]}, resume_to="next")

    @flow.chunk
    async def notify_finance(data: TriggerFlowRuntimeData):
        number = data.require_resource("mailer").send("finance@example.com", f"expense {data.input}")
        await data.async_set_state("decision", data.input)
        await data.async_set_state("mail_number", number)

    flow.to(record_request).to(ask_approval).to(notify_finance)
    return flow


def paused_execution(flow: TriggerFlow, request: Any = None, mailer: Mailer | None = None):
    execution = flow.create_execution(auto_close=False, runtime_resources={"mailer": mailer or Mailer("test")})
    execution.start(request if request is not None else {"who": "Ana", "amount": 120})
    return execution


def snapshot_like(base: dict[str, Any], execution_id: str, **state: Any) -> dict[str, Any]:
    """A valid snapshot copied from ``base`` under another id, with extra state keys."""
    snapshot = copy.deepcopy(base)
    snapshot["execution_id"] = execution_id
    snapshot["state"].update(state)
    return snapshot
