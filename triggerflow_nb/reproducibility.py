"""Reproducible mode: the same ids and the same displayed text on every run of a notebook.

Off by default: execution and interrupt ids are random (uuid4). Switched on, by
``triggerflow_nb.reproducible(seed=0)`` in a notebook or by the environment variable
``TRIGGERFLOW_NB_REPRODUCIBLE=<seed>`` (read when the package is imported; scripts/demo.sh
sets it), every id is a hash of the seed and a counter:

* an execution's id: (seed, its flow's name, how many executions of a flow of that name
  this process created before it). Running other flows never shifts it.
* an interrupt's id: (its execution's id, how many interrupts that execution opened before).
* other tokens (the name of an unnamed flow, the ids inside a drawn graph): (seed, kind, counter).

Counters never go back within a process, so ids stay unique in it even when the mode is
switched on again or another seed is chosen; a fresh process (Restart & Run All, nbval,
scripts/demo.sh) repeats them. Ids keep the shape of random ones (32 hex digits), so a
snapshot saved in either mode loads in the other. Repeating ids is the point, so two
processes with the same seed must not share an execution store.

Displays show no wall-clock time in this mode (``shows_wall_clock()``): a time differs on
every run, and a time relative to the start is as noisy at a rounding edge.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any

from .errors import InvalidArgumentError

ENVIRONMENT_VARIABLE = "TRIGGERFLOW_NB_REPRODUCIBLE"
TIME_HIDDEN = "time hidden (reproducible mode)"

_seed: int | None = None  # None: random ids (the default)
_counters: dict[tuple[Any, ...], int] = {}
_lock = threading.Lock()  # executions may be created from several threads at once


class ReproducibleMode:
    """What ``reproducible()`` returns: the mode is already on; ``with`` restores the previous one on exit."""

    def __init__(self, seed: int | None, previous: int | None):
        self.seed = seed
        self._previous = previous

    def __enter__(self) -> ReproducibleMode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        _set_seed(self._previous)

    def __repr__(self) -> str:
        if self.seed is None:
            return "<triggerflow_nb reproducible mode: off (random ids)>"
        return f"<triggerflow_nb reproducible mode: on, seed={self.seed}>"


def reproducible(seed: int = 0, *, enabled: bool = True) -> ReproducibleMode:
    """Switch reproducible mode on with ``seed`` (or off with ``enabled=False``), for this process.

    Call it in the first cell of a notebook; as ``with reproducible(seed=1): ...`` the previous
    mode comes back after the block.
    """
    if not isinstance(enabled, bool):
        raise InvalidArgumentError(f"reproducible(enabled=...) must be True or False, got {enabled!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"reproducible(seed=...) must be an int >= 0, got {seed!r}")
    previous = _seed
    _set_seed(seed if enabled else None)
    return ReproducibleMode(_seed, previous)


def reproducible_seed() -> int | None:
    """The seed in force, or None when ids are random."""
    return _seed


def shows_wall_clock() -> bool:
    """False in reproducible mode: displays leave wall-clock times out."""
    return _seed is None


def random_hex() -> str:
    """A random version-4 UUID as 32 hex digits, what ``uuid.uuid4().hex`` gives, without building a
    ``UUID`` (that was a third of the cost of creating an execution)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return raw.hex()


def new_execution_id(flow_name: str) -> str:
    if _seed is None:
        return random_hex()
    return _digest(_seed, "execution", flow_name, _next((_seed, "execution", flow_name)))


def new_interrupt_id(execution_id: str, opened_before: int) -> str:
    """``opened_before``: how many interrupts this execution opened before (its own counter)."""
    if _seed is None:
        return random_hex()
    return _digest(_seed, "interrupt", execution_id, opened_before)


def new_token(kind: str) -> str:
    """32 hex digits for ``kind`` (an unnamed flow's name, a drawing's element ids): random, or seeded."""
    if _seed is None:
        return random_hex()
    return _digest(_seed, kind, _next((_seed, kind)))


def _next(key: tuple[Any, ...]) -> int:
    with _lock:
        count = _counters.get(key, 0)
        _counters[key] = count + 1
    return count


def _digest(*parts: Any) -> str:
    # JSON keeps the parts apart (no "a" + "bc" == "ab" + "c") and copes with any str.
    text = json.dumps(parts, ensure_ascii=True)
    return hashlib.blake2b(text.encode("ascii"), digest_size=16).hexdigest()


def _set_seed(seed: int | None) -> None:
    global _seed
    _seed = seed


def seed_from_environment(value: str | None) -> int | None:
    """The seed ``TRIGGERFLOW_NB_REPRODUCIBLE`` asks for: unset or empty means off."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):  # no sign (so no negative seed), no other script's digits
        raise InvalidArgumentError(
            f"{ENVIRONMENT_VARIABLE}={value!r}: set it to a seed (an int >= 0, e.g. 0) to run in reproducible "
            f"mode, or unset it (or leave it empty) for random ids"
        )
    return int(text)


_set_seed(seed_from_environment(os.environ.get(ENVIRONMENT_VARIABLE)))
