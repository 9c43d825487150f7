"""Checks made before anything is submitted: what may travel to workers, and what may not.

Handlers travel (by cloudpickle, by value when defined in a notebook cell). Live runtime
resources never do: a handler that closes over one is refused here, naming the key and
how to give workers their own. The check runs in the notebook process, so the error comes
before any worker is busy.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import cloudpickle

from ..errors import EnvironmentProviderError
from ..layers.resources import RuntimeResources
from .errors import RemoteSerializationError

_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _captured(handler: Callable[..., Any]) -> dict[str, Any]:
    """The variables a handler uses from outside itself: closure cells and module globals, and what a
    bound method is bound to or a ``functools.partial`` holds (they travel with it too)."""
    target = inspect.unwrap(handler)
    held: dict[str, Any] = {}
    while isinstance(target, functools.partial) or inspect.ismethod(target):
        if inspect.ismethod(target):
            held["self"] = target.__self__
            target = inspect.unwrap(target.__func__)
        else:
            held.update({f"argument {index} of the partial": value for index, value in enumerate(target.args)})
            held.update({f"keyword {key!r} of the partial": value for key, value in target.keywords.items()})
            target = inspect.unwrap(target.func)
    if not inspect.isfunction(target):
        target = type(target).__call__ if callable(target) else None  # a callable object: its __call__
        if not inspect.ismethod(target) and not inspect.isfunction(target):
            return held
    try:
        found = inspect.getclosurevars(target)
    except (TypeError, ValueError):
        return held
    return {**held, **found.globals, **found.nonlocals}


def check_handler(chunk: str, handler: Callable[..., Any], block_id: str, resources: dict[str, Any]) -> None:
    """Refuse a handler that captures a live resource or does not pickle, naming the variable."""
    captured = _captured(handler)
    for variable, value in captured.items():
        if isinstance(value, _PLAIN):  # small ints and strings are shared objects: `is` proves nothing
            continue
        for key, resource in resources.items():
            if value is resource:
                raise RemoteSerializationError(
                    f"chunk {chunk!r} in {block_id!r} uses variable {variable!r}, which is runtime resource {key!r} "
                    f"of the notebook process; live resources are never shipped to Dask workers. Let each worker "
                    f"build its own: register a provider (triggerflow_nb.execution_environment.register('<kind>', "
                    f"start=...)), pass DaskExecutor(client, environments=[{{'kind': '<kind>', 'key': {key!r}}}]) "
                    f"and call data.require_resource({key!r}) inside the chunk"
                )
    try:
        cloudpickle.dumps(handler)
    except Exception as exc:
        culprit = ""
        for variable, value in captured.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                culprit = f" (it uses variable {variable!r}, a {type(value).__name__}, which cannot be pickled)"
                break
        raise RemoteSerializationError(
            f"chunk {chunk!r} in {block_id!r} cannot be shipped to Dask workers{culprit}: {exc}. Handlers must "
            f"pickle: keep live objects out of them and build them on the worker with a managed environment "
            f"(data.require_resource(key))"
        ) from exc


def providers_for(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """The registered provider of every requested kind (their functions ship; their resources do not)."""
    from ..environments.manager import execution_environment

    providers = {}
    for request in requests:
        provider = execution_environment.provider(request["kind"])
        if provider is None:
            raise EnvironmentProviderError(
                f"no execution environment provider for kind {request['kind']!r} (resource {request['key']!r} on "
                f"Dask workers); register one with triggerflow_nb.execution_environment.register("
                f"{request['kind']!r}, start=..., release=...)"
            )
        providers[request["kind"]] = provider
    return providers


def driver_resources(resources: RuntimeResources, worker_keys: set[str]) -> dict[str, Any]:
    """The live resources that stay in the notebook process (all those workers do not rebuild)."""
    return {key: value for key, value in resources.items() if key not in worker_keys}
