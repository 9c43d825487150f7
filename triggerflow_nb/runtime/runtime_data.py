"""``TriggerFlowRuntimeData``: the ``data`` argument of every chunk, its view of the run."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .._warn_once import warn_deprecated_once
from ..definition.graph import Node
from ..errors import InvalidArgumentError, PauseNotSupportedError
from ..layers.state import FINAL_RESULT_KEY, StateNamespace, to_state_value
from .frames import SLOT, Frames
from .history import AS_IS as RECORDED_AS_IS
from .history import recorded

if TYPE_CHECKING:
    from .host import ChunkHost, ExecutionHandle

_RESUME_TARGETS = ("next", "self")


class Resume:
    """What ``continue_with`` handed to a chunk re-run with ``resume_to="self"``."""

    __slots__ = ("interrupt_id", "type", "value")

    def __init__(self, interrupt_id: str, type: str, value: Any):
        self.interrupt_id = interrupt_id
        self.type = type
        self.value = value

    def __repr__(self) -> str:
        return f"Resume(interrupt_id={self.interrupt_id!r}, type={self.type!r}, value={self.value!r})"


class TriggerFlowRuntimeData:
    """The chunk's view of its execution.

    ``input`` (alias ``value``) is what the previous step returned, or the start input,
    or the emitted payload. State, flow_data and runtime_resources are reached through it.
    """

    # _undo: what this chunk run's state writes replaced, {key: old value, or (list, its length)},
    # made on the first write (see StateStore.apply); retry() puts it back.
    # _seq: this run's step number in the execution's history (runtime/history.py), None when history
    # is off; while it runs, its data is its row there, with _started and _input_record.
    __slots__ = ("_port", "_node", "input", "_frames", "_paused", "resume", "_undo", "_seq", "_started",
                 "_input_record")
    _started: float  # set with _seq (an unset slot costs nothing)
    _input_record: Any

    def __init__(self, port: ChunkHost, node: Node, value: Any, frames: Frames,
                 resume: Resume | None = None):
        self._port = port
        self._node = node
        self.input = value
        self._frames = frames
        self._paused = False
        self.resume = resume
        self._undo: dict[str, Any] | None = None
        self._seq: int | None = None

    # -- identity ---------------------------------------------------------------------------

    @property
    def value(self) -> Any:
        return self.input

    @property
    def inputs(self) -> Any:
        """The same as ``input`` (the name some TriggerFlow code uses)."""
        return self.input

    @property
    def chunk_name(self) -> str:
        return self._node.id

    @property
    def execution(self) -> ExecutionHandle:
        """The execution this chunk runs in (``data.execution.seal()``, its id, its status)."""
        return self._port.execution

    @property
    def execution_id(self) -> str:
        return self._port.execution_id

    @property
    def is_resume(self) -> bool:
        return self.resume is not None

    def _where(self) -> str:
        return f"in chunk {self._node.id!r}"

    # -- state: execution-local, serializable ------------------------------------------------

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Read state (a local, synchronous read). ``key=None`` returns a copy of all of it."""
        return self._port.get_state(key, default)

    def set_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._port.write_state("set", key, value, emit, self, self._frames)

    # The async writes are used as ``await data.async_set_state(...)``: plain methods returning the
    # write itself (not started), not coroutines of their own, save a coroutine per write.
    def async_set_state(self, key: str, value: Any, emit: bool = True) -> Coroutine[Any, Any, None]:
        return self._port.async_write_state("set", key, value, emit, self, self._frames)

    def append_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._port.write_state("append", key, value, emit, self, self._frames)

    def async_append_state(self, key: str, value: Any, emit: bool = True) -> Coroutine[Any, Any, None]:
        return self._port.async_write_state("append", key, value, emit, self, self._frames)

    def del_state(self, key: str, emit: bool = True) -> None:
        self._port.write_state("del", key, None, emit, self, self._frames)

    def async_del_state(self, key: str, emit: bool = True) -> Coroutine[Any, Any, None]:
        return self._port.async_write_state("del", key, None, emit, self, self._frames)

    @property
    def state(self) -> StateNamespace:
        return StateNamespace(self)

    # -- deprecated aliases of state ----------------------------------------------------------

    def _deprecated(self, old: str, new: str) -> None:
        warn_deprecated_once(
            f"TriggerFlowRuntimeData.{old}",
            f"data.{old}() is deprecated; use data.{new}() (runtime_data is the old name of state)",
            stacklevel=4,
        )

    def get_runtime_data(self, key: str | None = None, default: Any = None) -> Any:
        self._deprecated("get_runtime_data", "get_state")
        return self.get_state(key, default)

    def set_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        self._deprecated("set_runtime_data", "set_state")
        self.set_state(key, value, emit)

    def append_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        self._deprecated("append_runtime_data", "append_state")
        self.append_state(key, value, emit)

    def del_runtime_data(self, key: str, emit: bool = True) -> None:
        self._deprecated("del_runtime_data", "del_state")
        self.del_state(key, emit)

    async def async_get_runtime_data(self, key: str | None = None, default: Any = None) -> Any:
        self._deprecated("async_get_runtime_data", "get_state")
        return self.get_state(key, default)

    async def async_set_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        self._deprecated("async_set_runtime_data", "async_set_state")
        await self.async_set_state(key, value, emit)

    async def async_append_runtime_data(self, key: str, value: Any, emit: bool = True) -> None:
        self._deprecated("async_append_runtime_data", "async_append_state")
        await self.async_append_state(key, value, emit)

    async def async_del_runtime_data(self, key: str, emit: bool = True) -> None:
        self._deprecated("async_del_runtime_data", "async_del_state")
        await self.async_del_state(key, emit)

    def set_result(self, value: Any) -> None:
        """Deprecated: write the reserved state key ``"$final_result"``."""
        warn_deprecated_once(
            "TriggerFlowRuntimeData.set_result",
            "data.set_result() is deprecated: it writes the reserved state key '$final_result'; "
            "use data.set_state(...) and read the close snapshot instead",
        )
        self.set_state(FINAL_RESULT_KEY, value, emit=False)

    # -- flow_data: shared by all executions, warns on every call -------------------------------

    def get_flow_data(self, key: str, default: Any = None, *, no_warning: bool = False) -> Any:
        return self._port.flow_data.get(key, default, no_warning=no_warning)

    def set_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "set", key, value, no_warning)

    def append_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "append", key, value, no_warning)

    def del_flow_data(self, key: str, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "del", key, None, no_warning)

    async def async_get_flow_data(self, key: str, default: Any = None, *, no_warning: bool = False) -> Any:
        return self._port.flow_data.get(key, default, no_warning=no_warning)

    async def async_set_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "set", key, value, no_warning)

    async def async_append_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "append", key, value, no_warning)

    async def async_del_flow_data(self, key: str, *, no_warning: bool = False) -> None:
        self._port.write_flow_data(self, "del", key, None, no_warning)

    # -- runtime resources: live objects, by identity --------------------------------------------

    def require_resource(self, name: str) -> Any:
        """The resource injected under ``name``; raises MissingResourceError if there is none."""
        return self._port.resources.resources.require(name, self._where())

    def get_resource(self, name: str, default: Any = None) -> Any:
        return self._port.resources.resources.get(name, default)

    def set_resource(self, name: str, value: Any) -> None:
        self._port.resources.set(name, value)

    def del_resource(self, name: str) -> None:
        self._port.resources.delete(name)

    # -- events and the stream -------------------------------------------------------------------

    def async_emit(self, event: str, payload: Any = None) -> Coroutine[Any, Any, None]:
        """Emit an event and wait until every `when(event)` branch it triggered has finished.

        Used as ``await data.async_emit(...)``. A plain method returning the dispatch itself,
        not a coroutine of its own: a loop of handlers that emit and await keeps one frame
        less alive per iteration.
        """
        if self._seq is not None:  # recorded in the history (StepLog.emits)
            self._port.history.emits.append(  # type: ignore[union-attr]  # set with _seq
                (self._seq, event, payload if payload.__class__ in RECORDED_AS_IS else recorded(payload)))
        return self._port.emit(event, payload, self._frames)

    def emit(self, event: str, payload: Any = None) -> None:
        """Emit from a sync chunk: the triggered branches are scheduled; close() waits for them."""
        if self._seq is not None:  # recorded in the history (StepLog.emits)
            self._port.history.emits.append(  # type: ignore[union-attr]  # set with _seq
                (self._seq, event, payload if payload.__class__ in RECORDED_AS_IS else recorded(payload)))
        self._port.emit_nowait(event, payload, self._frames)

    def emit_nowait(self, event: str, payload: Any = None) -> None:
        if self._seq is not None:  # recorded in the history (StepLog.emits)
            self._port.history.emits.append(  # type: ignore[union-attr]  # set with _seq
                (self._seq, event, payload if payload.__class__ in RECORDED_AS_IS else recorded(payload)))
        self._port.emit_nowait(event, payload, self._frames)

    async def async_put_into_stream(self, item: Any) -> None:
        self._port.put_into_stream(item)

    def put_into_stream(self, item: Any) -> None:
        self._port.put_into_stream(item)

    # -- pause and resume -------------------------------------------------------------------------

    async def async_pause_for(self, type: str = "interrupt", payload: Any = None, resume_to: Any = "next",
                              interrupt_id: str | None = None, max_resumes: int | None = None) -> dict[str, Any]:
        return self.pause_for(type=type, payload=payload, resume_to=resume_to, interrupt_id=interrupt_id,
                              max_resumes=max_resumes)

    def pause_for(self, type: str = "interrupt", payload: Any = None, resume_to: Any = "next",
                  interrupt_id: str | None = None, max_resumes: int | None = None) -> dict[str, Any]:
        """Record an interrupt and stop this path after the chunk returns.

        ``execution.continue_with(id, payload)`` resumes it: ``"next"`` hands ``payload`` on as
        this chunk's output, ``"self"`` re-runs this chunk with ``data.resume.value == payload``,
        ``{"event": name}`` emits ``name`` with ``payload``. With ``resume_to="self"``,
        ``max_resumes=N`` bounds the continues of this chunk's pause (it pauses again when re-run):
        the (N+1)-th is refused with an ``InterruptError``; ``resume_count`` in the returned record
        (and in ``get_pending_interrupts()``) says how many there were so far.
        """
        port = self._port
        if port.pause_fails_fast:
            raise PauseNotSupportedError(
                f"chunk {self._node.id!r} paused for {type!r}, but flow.start() returns no handle to resume "
                f"with: use execution = flow.start_execution(...) (or create_execution(auto_close=False)), "
                f"then execution.continue_with(interrupt_id, payload)"
            )
        if not (resume_to in _RESUME_TARGETS or (isinstance(resume_to, dict) and set(resume_to) == {"event"}
                                                 and isinstance(resume_to["event"], str))):
            raise InvalidArgumentError(f"resume_to must be 'next', 'self' or {{'event': name}}, got {resume_to!r}")
        if resume_to.__class__ is dict and any(frame[0] == SLOT for frame in self._frames):
            raise PauseNotSupportedError(
                f"chunk {self._node.id!r} runs as an item of a for_each, batch or hit_all block, which waits for "
                f"its result: pause_for(resume_to={resume_to!r}) would leave that result missing for good. Use "
                f"resume_to='next' (the payload becomes the item's result) or 'self', and emit the event from "
                f"the chunk that follows"
            )
        if max_resumes is not None:
            if resume_to != "self":
                raise InvalidArgumentError(
                    f"pause_for(max_resumes=...) bounds how often a chunk paused with resume_to='self' is re-run; "
                    f"chunk {self._node.id!r} pauses with resume_to={resume_to!r}, which resumes once")
            if max_resumes.__class__ is not int or max_resumes < 0:
                raise InvalidArgumentError(f"max_resumes must be None or an int >= 0, got {max_resumes!r}")
        # Checked now, not at save(): a payload that cannot be saved is a mistake at this line.
        payload = to_state_value(f"pause_for(payload=...) in chunk {self._node.id!r}", payload)
        resume = self.resume
        record = port.open_interrupt(self._node, self.input, self._frames, type, payload, resume_to,
                                     interrupt_id, max_resumes, None if resume is None else resume.interrupt_id)
        self._paused = True
        return record.public()

    def __repr__(self) -> str:
        return f"<TriggerFlowRuntimeData chunk={self._node.id!r} input={self.input!r}>"


# Deprecated alias kept for code written against older TriggerFlow releases.
TriggerFlowEventData = TriggerFlowRuntimeData
