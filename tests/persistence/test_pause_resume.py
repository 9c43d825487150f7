import asyncio

import pytest

from triggerflow_nb import ChunkError, InterruptError, PauseNotSupportedError, TriggerFlow


def approval_flow(resume_to="next"):
    flow = TriggerFlow(name="approve")

    async def ask(data):
        if data.is_resume:
            await data.async_set_state("resumed_with", data.resume.value)
            return f"re-ran with {data.resume.value}"
        await data.async_set_state("asked", data.input)
        await data.async_pause_for(type="approval", payload={"q": data.input}, resume_to=resume_to)
        return "discarded: the pause stops this path"

    flow.to(ask).to(lambda d: d.set_state("next_got", d.input))
    flow.when("Approved").to(lambda d: d.set_state("event_got", d.input))
    return flow


def test_resume_to_next_hands_payload_on():
    ex = approval_flow().create_execution(auto_close=False)
    ex.start("deploy")
    assert ex.status == "waiting"
    (iid, info), = ex.get_pending_interrupts().items()
    assert (info["type"], info["payload"], info["resume_to"], info["chunk"], info["status"]) == (
        "approval", {"q": "deploy"}, "next", "ask", "waiting")
    assert ex.node_status() == {"ask": "waiting"}
    ex.continue_with(iid, "yes")
    assert ex.close() == {"asked": "deploy", "next_got": "yes"}
    status = ex.node_status()
    assert status.pop("ask") == "done" and list(status.values()) == ["done"]


def test_resume_to_self_reruns_chunk_with_resume_value():
    ex = approval_flow("self").create_execution(auto_close=False)
    ex.start("deploy")
    (iid,) = ex.get_pending_interrupts()
    ex.continue_with(iid, "ok")
    assert ex.close() == {"asked": "deploy", "resumed_with": "ok", "next_got": "re-ran with ok"}


def test_resume_to_event_emits_it():
    ex = approval_flow({"event": "Approved"}).create_execution(auto_close=False)
    ex.start("deploy")
    (iid,) = ex.get_pending_interrupts()
    ex.continue_with(iid, {"by": "ana"})
    assert ex.close() == {"asked": "deploy", "event_got": {"by": "ana"}}


def test_several_pending_at_once_and_resumed_in_any_order():
    flow = TriggerFlow()
    flow.to(lambda d: d.input).for_each().to(lambda d: d.pause_for(type="item", payload=d.input)).end_for_each() \
        .to(lambda d: d.set_state("all", d.input))
    ex = flow.create_execution(auto_close=False)
    ex.start(["a", "b", "c"])
    pending = ex.get_pending_interrupts()
    assert sorted(i["payload"] for i in pending.values()) == ["a", "b", "c"]
    for iid, info in sorted(pending.items(), key=lambda kv: kv[1]["payload"], reverse=True):
        ex.continue_with(iid, info["payload"].upper())
    assert ex.close() == {"all": ["A", "B", "C"]}


def test_unknown_and_already_resumed_interrupts_are_typed_errors():
    ex = approval_flow().create_execution(auto_close=False)
    ex.start("x")
    (iid,) = ex.get_pending_interrupts()
    with pytest.raises(InterruptError, match=rf"no interrupt 'nope' in execution {ex.id}; pending: \['{iid}'\]"):
        ex.continue_with("nope", 1)
    ex.continue_with(iid, 1)
    with pytest.raises(InterruptError, match=rf"interrupt '{iid}' is already resumed; each interrupt resumes once"):
        ex.continue_with(iid, 2)


def test_close_refuses_pending_unless_cancel():
    ex = approval_flow().create_execution(auto_close=False)
    ex.start("x")
    (iid,) = ex.get_pending_interrupts()
    with pytest.raises(InterruptError, match=rf"has pending interrupts \['{iid}'\].*close\(pending_interrupts='cancel'\)"):
        ex.close()
    assert ex.is_open()
    assert ex.close(pending_interrupts="cancel") == {"asked": "x"}
    assert ex.get_interrupt(iid)["status"] == "cancelled"
    with pytest.raises(InterruptError, match=f"interrupt '{iid}' is already cancelled"):
        ex.continue_with(iid, 1)


def test_auto_close_is_paused_while_an_interrupt_is_pending(eventually):
    flow = approval_flow()

    async def main():
        ex = flow.create_execution(auto_close=True, auto_close_timeout=0.01)
        # settles waiting: start() returns the state as the run left it (a dict, like every start())
        assert await ex.async_start("x") == ex.result.get_state() and ex.is_open()
        await asyncio.sleep(0.05)
        assert ex.is_open()
        (iid,) = ex.get_pending_interrupts()
        await ex.async_continue_with(iid, "y")
        await eventually(ex.is_closed)
        return ex.lifecycle_state, ex.result.get_state()

    assert asyncio.run(main()) == ("closed", {"asked": "x", "next_got": "y"})


def test_flow_start_fails_fast_on_pause():
    with pytest.raises(PauseNotSupportedError) as info:
        approval_flow().start("x")
    assert str(info.value) == (
        "chunk 'ask' paused for 'approval', but flow.start() returns no handle to resume with: use execution = "
        "flow.start_execution(...) (or create_execution(auto_close=False)), then execution.continue_with(interrupt_id, payload)"
    )


def test_bad_pause_arguments():
    flow = TriggerFlow()
    flow.to(lambda d: d.pause_for(resume_to="later"), name="p")
    with pytest.raises(ChunkError, match=r"chunk 'p' raised InvalidArgumentError: resume_to must be 'next', 'self' or \{'event': name\}, got 'later'"):
        flow.create_execution(auto_close=False).start()

    dup = TriggerFlow()

    def twice(data):
        data.pause_for(interrupt_id="same")
        data.pause_for(interrupt_id="same")

    dup.to(twice)
    with pytest.raises(InterruptError, match="interrupt id 'same' is already used"):
        dup.create_execution(auto_close=False).start()
