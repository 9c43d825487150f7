"""``TriggerFlowExecution``: the public execution object.

A facade over the pure runtime (``runtime.Execution``): it adds saving and loading
(through ``runtime.snapshot`` and ``persistence``) and the notebook views. With
``flow.py`` it is the only module that imports across layers, and the only one that
reaches the notebook layer (lazily: ``watch()`` and the load prompt).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from ._validate import flag
from ._warn_once import warn_deprecated_once
from .environments.manager import execution_environment
from .errors import HistoryError, InvalidArgumentError, MissingResourceError, ResourceTypeWarning
from .export.timeline import Bar, Timeline
from .observe import ExecutionReplaced, hook_observer
from .persistence.save_load import (
    load_report,
    missing_resource_keys,
    refusal_report,
    resource_type_mismatches,
    saved_execution,
    validate_snapshot,
)
from .persistence.saved import SavedExecution
from .reproducibility import shows_wall_clock
from .runtime.execution import Execution, run_sync
from .runtime.history import StepLog
from .runtime.outside import write_state
from .runtime.resource_host import check_managed_keys_are_free
from .runtime.snapshot import ExecutionSnapshot
from .runtime.snapshot_assembly import capture, require_fresh, restore
from .runtime.status import CLOSED
from .runtime.steps import StepHistory

if TYPE_CHECKING:
    from .store.base import ExecutionStore
    from .store.records import Lease


class TriggerFlowExecution(Execution):
    """One run of a flow: state, lifecycle, runtime stream, interrupts and resources; savable and watchable."""

    # -- lifecycle ----------------------------------------------------------------------------------

    async def async_unseal(self) -> None:
        """Open a sealed execution again, the inverse of ``seal()``: it accepts outside emits and
        continues once more. An open execution stays as it is; a closed one (or one that ``close()``
        is draining) raises ``LifecycleError``."""
        self._lifecycle.unseal()

    def unseal(self) -> None:
        run_sync(self, self.async_unseal())

    # -- hooks --------------------------------------------------------------------------------------

    def on(self, event_type: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every ``event_type`` event of this execution; returns a
        function that removes the hook again.

        ``event_type`` names one kind of event of the observation channel (``execution.channel``,
        which this subscribes to): ``"started"``, ``"sealed"``, ``"unsealed"``, ``"settled"``,
        ``"closed"``, ``"chunk_started"``, ``"chunk_finished"``, ``"chunk_failed"``,
        ``"chunk_cancelled"``, ``"interrupt_opened"``, ``"interrupt_resumed"``, ``"event_emitted"``,
        ``"stream_item"``, ``"state_changed"``, or ``"*"`` for all of them. ``event`` is that
        event (``triggerflow_nb.observe``: e.g. ``ChunkFailed`` with ``node_id``, ``error`` and
        ``exception``). Hooks run synchronously where the event happens, in registration order;
        one that raises is logged and the run goes on.
        """
        observer, state_changes = hook_observer(event_type, callback)
        return self._channel.subscribe(observer, state_changes=state_changes)

    # -- state and resources from outside a chunk --------------------------------------------------

    async def async_set_state(self, key: str, value: Any, emit: bool = True) -> None:
        """``set_state`` for async code: write, and with ``emit`` run the ``when({"state": key})``
        branches it triggers (an outside emit: only while open) and wait for them."""
        await write_state(self, key, value, emit)

    def require_runtime_resource(self, name: str) -> Any:
        """The resource under ``name`` (execution-level, else flow-level), as ``data.require_resource``
        gives it inside a chunk; raises ``MissingResourceError`` naming the key and the keys present."""
        return self._resources.resources.require(name, f"in execution {self.id}")

    def get_runtime_data(self, key: str | None = None, default: Any = None) -> Any:
        _deprecated("get_runtime_data", "get_state")
        return self.get_state(key, default)

    def set_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        _deprecated("set_runtime_data", "set_state")
        self.set_state(key, value, emit)

    async def async_get_runtime_data(self, key: str | None = None, default: Any = None) -> Any:
        _deprecated("async_get_runtime_data", "get_state")
        return self.get_state(key, default)

    async def async_set_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        _deprecated("async_set_runtime_data", "async_set_state")
        await self.async_set_state(key, value, emit)

    # -- save / load ------------------------------------------------------------------------------

    @overload
    def save(self, *, history: bool = True) -> SavedExecution: ...

    @overload
    def save(self, store: ExecutionStore, *, expected_version: int | None = None,
             lease: Lease | None = None) -> int: ...

    def save(self, store: ExecutionStore | None = None, *, expected_version: int | None = None,
             lease: Lease | None = None, history: bool = True) -> SavedExecution | int:
        """A JSON-compatible snapshot: state, lifecycle, interrupts, continuation, resource keys, and
        the step history (``history=False`` leaves it out).

        Never flow_data, never a live object, never pickle. With ``store=``, the snapshot is saved
        into that ``triggerflow_nb.store`` store instead and the new version is returned (a second
        save checks the version this execution last saw, so nobody's save is overwritten).
        """
        if store is None:
            if expected_version is not None or lease is not None:
                raise InvalidArgumentError("save(expected_version=..., lease=...) needs store=")
            return saved_execution(capture(self, history=history if history is True else flag("history", history)))
        if history is not True:
            raise InvalidArgumentError("save(store, history=...): a store keeps the history (it is what a resumed "
                                       "execution continues); save() without store= to leave it out")
        from .store.resume import save_execution

        return save_execution(self, store, expected_version=expected_version, lease=lease)

    async def async_save(self, store: ExecutionStore | None = None, *, expected_version: int | None = None,
                         lease: Lease | None = None, history: bool = True) -> SavedExecution | int:
        if store is None or history is not True:
            return self.save(store, expected_version=expected_version, lease=lease,  # type: ignore[call-overload]
                             history=history)
        from .store.resume import async_save_execution

        return await async_save_execution(self, store, expected_version=expected_version, lease=lease)

    def inspect_load(self, saved: Any, runtime_resources: dict[str, Any] | None = None) -> dict[str, Any]:
        """What load() would do, without doing it: ``ready``, ``missing_resource_keys``, ``diagnostics``."""
        try:
            snapshot = validate_snapshot(saved, self.flow)
            self.flow.validate_runnable()  # load() refuses a flow that could not continue the run
        except Exception as exc:  # every refusal becomes a diagnostic here
            return refusal_report(exc)
        missing = missing_resource_keys(snapshot, self.flow, self._resources.resources.keys(), runtime_resources)
        mismatches = resource_type_mismatches(snapshot, self._resources_after_load(runtime_resources))
        mounted = [] if snapshot["lifecycle_state"] == CLOSED else self._environment_requests_on_load(snapshot)
        unprovided = [r for r in mounted if not execution_environment.has_provider(r["kind"])]
        return load_report(snapshot, missing, self.is_fresh(), mismatches, unprovided)

    async def async_load(self, saved: Any, runtime_resources: dict[str, Any] | None = None,
                         prompt: bool | None = None) -> TriggerFlowExecution:
        if runtime_resources is not None and not isinstance(runtime_resources, dict):
            raise InvalidArgumentError(
                f"runtime_resources must be a dict of name -> live object, got {type(runtime_resources).__name__}"
            )
        snapshot = validate_snapshot(saved, self.flow)
        # A chunk with no handler here would fail only when the resumed path reaches it.
        self.flow.validate_runnable()
        missing = missing_resource_keys(snapshot, self.flow, self._resources.resources.keys(), runtime_resources)
        for message in resource_type_mismatches(snapshot, self._resources_after_load(runtime_resources)):
            warnings.warn(message, ResourceTypeWarning, stacklevel=2)
        if missing:
            if prompt is not False and _can_prompt():
                self._prompt_for(snapshot, missing, runtime_resources or {})
                return self
            known = set(self._resources.resources.keys()) | set(runtime_resources or {})
            raise MissingResourceError(missing, sorted(known),
                                       f"to load the snapshot of execution {snapshot['execution_id']}")
        await self._restore_with_environments(snapshot, runtime_resources or {})
        return self

    def load(self, saved: Any, runtime_resources: dict[str, Any] | None = None,
             prompt: bool | None = None) -> TriggerFlowExecution:
        """Restore a saved execution into this fresh one.

        A snapshot of another flow definition, a corrupt one or one of an unknown schema version
        is refused with a typed error, and this execution is left untouched. Missing resources
        raise ``MissingResourceError`` (in a notebook, a prompt asks for them unless ``prompt=False``).
        """
        return run_sync(self, self.async_load(saved, runtime_resources, prompt))

    def _prompt_for(self, snapshot: ExecutionSnapshot, missing: list[str], given: dict[str, Any]) -> None:
        from .notebook.reinject import show_reinjection_prompt

        unknown = {"type": "unknown", "level": "execution", "managed": False}
        described = {k: dict(snapshot["resources"].get(k, unknown)) for k in missing}

        def finish(injected: dict[str, Any]) -> None:
            self._lifecycle.scope.spawn(self._restore_with_environments(snapshot, {**given, **injected}))

        show_reinjection_prompt(self, described, finish)

    def _resources_after_load(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """The live resources a load would leave mounted by hand: this execution's, then ``given`` over them."""
        return {**dict(self._resources.resources.items()), **(given or {})}

    def _environment_requests_on_load(self, snapshot: ExecutionSnapshot) -> list[dict[str, Any]]:
        """The managed environments of a loaded execution: the snapshot's, else this execution's own."""
        return [dict(e) for e in snapshot["environments"]] or self._resources.requests

    async def _restore_with_environments(self, snapshot: ExecutionSnapshot, resources: dict[str, Any]) -> None:
        require_fresh(self)
        requests = self._environment_requests_on_load(snapshot)
        check_managed_keys_are_free(requests, resources)
        leases = await self._resources.acquire_for_restore(requests, snapshot["lifecycle_state"])
        restore(self, snapshot, resources)  # cannot fail: everything was checked above
        self._lifecycle.after_restore(leases)
        if self._channel.active:  # a panel opened before the load redraws everything it shows
            self._channel.publish(ExecutionReplaced(self.id, "load"))

    # -- history ----------------------------------------------------------------------------------

    def history(self) -> StepHistory:
        """Every chunk run of this execution (a step), in start order: input, result, status, the
        state and flow_data writes it made and the events it emitted (see ``StepRecord``)."""
        return self._step_log("history()").steps(self._state.values)

    def state_at(self, seq: int) -> dict[str, Any]:
        """The state as it was right after step ``seq`` finished (a new dict; this execution is unchanged)."""
        return self._step_log("state_at()").state_at(seq, self._state.values)

    def timeline(self) -> Timeline:
        """The steps on a timeline, one lane per chunk run going on at once (an SVG in a notebook). In
        reproducible mode it is drawn in steps, not seconds: the order of events, the same on every run."""
        seconds = shows_wall_clock()
        spans = self._step_log("timeline()").spans()
        return Timeline([Bar(seq, chunk, status, *((start, end) if seconds else (first, last)), error)
                         for seq, chunk, status, start, end, first, last, error in spans],
                        "seconds" if seconds else "steps")

    def _step_log(self, what: str) -> StepLog:
        if self._history is None:
            raise HistoryError(f"{what}: execution {self.id} keeps no history (it was created with history=False, "
                               f"or by flow.start(), which returns no handle); create it with "
                               f"flow.create_execution() to record one")
        return self._history

    # -- notebook ---------------------------------------------------------------------------------

    def watch(self, **options: Any) -> Any:
        """Show a live ipywidgets panel of this execution (see triggerflow_nb.notebook)."""
        from .notebook.panel import watch

        return watch(self, **options)

    def _ipython_display_(self) -> None:
        """An execution as a cell's last value (or passed to ``display``) shows its live panel.

        The panel's output carries a static HTML/text fallback too, for viewers without widgets.
        """
        self.watch()._ipython_display_()


def _deprecated(old: str, new: str) -> None:
    warn_deprecated_once(
        f"TriggerFlowExecution.{old}",
        f"execution.{old}() is deprecated; use execution.{new}() (runtime_data is the old name of state)",
        stacklevel=4,
    )


def _can_prompt() -> bool:
    """True inside a Jupyter kernel; never imports IPython just to find out."""
    if "IPython" not in sys.modules:
        return False
    from .notebook.env import in_notebook

    return in_notebook()
