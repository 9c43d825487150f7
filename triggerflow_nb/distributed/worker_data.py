"""``WorkerData``: the ``data`` argument a handler gets when it runs on a worker.

It answers the same questions as ``TriggerFlowRuntimeData`` where a worker can: the
item (``input``/``value``), the chunk's name, state as it was at fan-out time, resources
built on this worker. Everything that would need the notebook process (writing state,
emitting, pausing, the stream, flow_data) raises a typed error saying what to do instead.
"""

from __future__ import annotations

import copy
from typing import Any

from ..definition.item_executor import WorkerContext
from .errors import RemoteOperationError, RemoteResourceError, RemoteStateWriteError
from .worker_resources import acquire_on_worker

_RETURN_INSTEAD = ("state is a read-only snapshot on Dask workers (taken when the fan-out started): return the "
                   "value from the item's chunk instead and write it to state after end_for_each(), where "
                   "the next step receives the results in item order")


class WorkerData:
    __slots__ = ("_context", "_chunk", "input", "item_index")

    def __init__(self, context: WorkerContext, chunk: str, value: Any, item_index: int):
        self._context = context
        self._chunk = chunk
        self.input = value
        self.item_index = item_index

    # -- identity --------------------------------------------------------------------------

    @property
    def value(self) -> Any:
        return self.input

    @property
    def inputs(self) -> Any:
        """The same as ``input`` (the name some TriggerFlow code uses)."""
        return self.input

    @property
    def chunk_name(self) -> str:
        return self._chunk

    @property
    def execution_id(self) -> str:
        return self._context.execution_id

    @property
    def is_resume(self) -> bool:
        return False

    @property
    def resume(self) -> None:
        return None

    # -- state: read-only ------------------------------------------------------------------

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """State as it was when the fan-out started (a copy: changing it changes nothing)."""
        state = self._context.state
        if key is None:
            return copy.deepcopy(state)
        return copy.deepcopy(state[key]) if key in state else default

    def _refuse_write(self, key: str) -> None:
        raise RemoteStateWriteError(f"chunk {self._chunk!r} tried to write state key {key!r}: {_RETURN_INSTEAD}")

    def set_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._refuse_write(key)

    def append_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._refuse_write(key)

    def del_state(self, key: str, emit: bool = True) -> None:
        self._refuse_write(key)

    async def async_set_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._refuse_write(key)

    async def async_append_state(self, key: str, value: Any, emit: bool = True) -> None:
        self._refuse_write(key)

    async def async_del_state(self, key: str, emit: bool = True) -> None:
        self._refuse_write(key)

    @property
    def state(self) -> _ReadOnlyState:
        return _ReadOnlyState(self)

    # -- resources: built on this worker ------------------------------------------------------

    def require_resource(self, name: str) -> Any:
        """The resource ``name`` as this worker's provider built it."""
        context = self._context
        for request in context.environments:
            if request["key"] == name:
                return acquire_on_worker(request, context.providers[request["kind"]])
        if name in context.driver_only_keys:
            raise RemoteResourceError(
                f"chunk {self._chunk!r} needs runtime resource {name!r}, a live object of the notebook process, "
                f"which is never shipped to Dask workers. Let each worker build its own: register a provider "
                f"(triggerflow_nb.execution_environment.register('<kind>', start=...)) and pass "
                f"execution_environments=[{{'kind': '<kind>', 'key': {name!r}}}] to the execution, or "
                f"DaskExecutor(client, environments=[...])"
            )
        available = sorted(r["key"] for r in context.environments)
        raise RemoteResourceError(
            f"chunk {self._chunk!r} needs runtime resource {name!r}, which Dask workers do not have "
            f"(available on workers: {available or 'none'}); provide it with a managed environment: "
            f"DaskExecutor(client, environments=[{{'kind': '<kind>', 'key': {name!r}}}])"
        )

    def get_resource(self, name: str, default: Any = None) -> Any:
        try:
            return self.require_resource(name)
        except RemoteResourceError:
            return default

    def set_resource(self, name: str, value: Any) -> None:
        self._refuse("set_resource", "set resources in the notebook process, before or after the fan-out")

    def del_resource(self, name: str) -> None:
        self._refuse("del_resource", "delete resources in the notebook process, before or after the fan-out")

    # -- what only the notebook process can do -------------------------------------------------

    def _refuse(self, what: str, instead: str) -> None:
        raise RemoteOperationError(f"chunk {self._chunk!r} called data.{what}() on a Dask worker, where it is not "
                                   f"supported: {instead}")

    def emit(self, event: str, payload: Any = None) -> None:
        self._refuse("emit", "return a value and emit after end_for_each()")

    def emit_nowait(self, event: str, payload: Any = None) -> None:
        self._refuse("emit_nowait", "return a value and emit after end_for_each()")

    async def async_emit(self, event: str, payload: Any = None) -> None:
        self._refuse("async_emit", "return a value and emit after end_for_each()")

    def put_into_stream(self, item: Any) -> None:
        self._refuse("put_into_stream", "return a value and put it into the stream after end_for_each()")

    async def async_put_into_stream(self, item: Any) -> None:
        self._refuse("async_put_into_stream", "return a value and put it into the stream after end_for_each()")

    def pause_for(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse("pause_for", "pause in a chunk after end_for_each()")

    async def async_pause_for(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse("async_pause_for", "pause in a chunk after end_for_each()")

    def _flow_data(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse("*_flow_data", "flow_data belongs to the notebook process; read it before the fan-out "
                                    "and pass what the items need as their input")

    get_flow_data = set_flow_data = append_flow_data = del_flow_data = _flow_data
    async_get_flow_data = async_set_flow_data = async_append_flow_data = async_del_flow_data = _flow_data

    def __repr__(self) -> str:
        return f"<WorkerData chunk={self._chunk!r} item={self.item_index} input={self.input!r}>"


class _ReadOnlyState:
    """``data.state`` on a worker: reads the snapshot, refuses writes."""

    __slots__ = ("_data",)

    def __init__(self, data: WorkerData):
        self._data = data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get_state(key, default)

    def __getitem__(self, key: str) -> Any:
        missing = object()
        value = self._data.get_state(key, missing)
        if value is missing:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return key in self._data._context.state

    def keys(self) -> list[str]:
        return list(self._data._context.state)

    def set(self, key: str, value: Any, emit: bool = True) -> None:
        self._data._refuse_write(key)

    def append(self, key: str, value: Any, emit: bool = True) -> None:
        self._data._refuse_write(key)

    def delete(self, key: str, emit: bool = True) -> None:
        self._data._refuse_write(key)
