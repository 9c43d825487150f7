"""Flows that pause inside a collect branch, a hit_all case and a side branch.

Imported by the save/load tests and by the separate process that loads their snapshots.
Each builder returns (flow, start value). Every pause resumes to "next" with the payload.
"""

from triggerflow_nb import TriggerFlow


async def approve(data):
    await data.async_pause_for(type="approve", payload=data.input, interrupt_id=f"approve-{data.input}")


def collect_flow():
    flow = TriggerFlow(name="pause-collect")
    flow.to(lambda d: d.input * 2, name="quick").collect("both", "quick")
    flow.to(approve, name="wait_a").collect("both", "approved") \
        .to(lambda d: d.set_state("joined", d.input), name="keep")
    flow.when({"collect": "both"}).to(lambda d: d.set_state("heard", sorted(d.input)), name="listener")
    return flow, 5


def collect_in_for_each_flow():
    flow = TriggerFlow(name="pause-collect-each")

    async def maybe_wait(data):
        if data.input % 2:
            await data.async_pause_for(type="odd", interrupt_id=f"odd-{data.input}")
            return None
        return data.input

    body = flow.for_each(name="each").to(lambda d: d.input, name="item")
    body.to(maybe_wait, name="maybe_wait").collect("per_item", "checked")
    body.to(lambda d: d.input * 100, name="scaled").collect("per_item", "scaled").end_for_each() \
        .to(lambda d: d.set_state("items", d.input), name="keep")
    return flow, [1, 2, 3]


def hit_all_flow():
    flow = TriggerFlow(name="pause-hit-all")
    flow.to(lambda d: d.input, name="first").match(mode="hit_all", name="m") \
        .case(lambda d: d.input > 1, name="gt1").to(approve, name="wait_b").to(lambda d: f"approved {d.input}", name="b") \
        .case(lambda d: d.input > 100, name="gt100").to(lambda d: "never", name="never") \
        .case(lambda d: d.input > 2, name="gt2").to(lambda d: "gt2", name="c") \
        .end_match().to(lambda d: d.set_state("hits", d.input), name="keep")
    return flow, 3


def side_branch_flow():
    flow = TriggerFlow(name="pause-side")

    async def side_wait(data):
        if data.is_resume:
            await data.async_set_state("side", [data.input, data.resume.value])
            return "dropped"
        await data.async_pause_for(type="side", resume_to="self", interrupt_id="side")

    flow.for_each(name="each").to(lambda d: d.input + 1, name="inc").side_branch(side_wait, name="side_wait") \
        .end_for_each().to(lambda d: d.set_state("main", d.input), name="main")
    return flow, [1]


BUILDERS = {f.__name__: f for f in (collect_flow, collect_in_for_each_flow, hit_all_flow, side_branch_flow)}
