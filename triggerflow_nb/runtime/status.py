"""The vocabulary of statuses, written down once.

Runtime, snapshot schema, palette and panel all import these names; a status is
never spelled as a bare string anywhere else.

Lifecycle (``execution.lifecycle_state``):
    ``open``     accepts starts, emits and continues from outside.
    ``sealed``   accepts nothing new from outside; accepted work drains.
    ``closed``   final: the stream has ended and state is frozen.

Execution (``execution.status``):
    ``created``    not started yet.
    ``running``    work is in flight.
    ``waiting``    nothing runs, but interrupts are pending (``continue_with`` resumes them).
    ``idle``       started, nothing runs, nothing pending (auto-close may follow).
    ``completed``  closed normally.
    ``failed``     closed because a chunk (or a provider) raised.
    ``cancelled``  closed after running work was cut (close timeout, an interrupted cell).

Node (``execution.node_status()``; a node that never ran is absent):
    ``running``, ``done``, ``failed``, ``waiting`` (paused on an interrupt, or a fan-out
    whose items paused), ``cancelled``.

Interrupt:
    ``waiting`` (pending), ``resumed`` (``continue_with`` took it), ``cancelled``
    (closed with ``pending_interrupts="cancel"``).
"""

from __future__ import annotations

from typing import Final, Literal

LifecycleState = Literal["open", "sealed", "closed"]
OPEN: Final = "open"
SEALED: Final = "sealed"
CLOSED: Final = "closed"
LIFECYCLE_STATES: Final = (OPEN, SEALED, CLOSED)

ExecutionStatus = Literal["created", "running", "waiting", "idle", "completed", "failed", "cancelled"]
CREATED: Final = "created"
RUNNING: Final = "running"
WAITING: Final = "waiting"
IDLE: Final = "idle"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
EXECUTION_STATUSES: Final = (CREATED, RUNNING, WAITING, IDLE, COMPLETED, FAILED, CANCELLED)
FINAL_STATUSES: Final = (COMPLETED, FAILED, CANCELLED)

NodeStatus = Literal["running", "done", "failed", "waiting", "cancelled"]
DONE: Final = "done"
NODE_STATUSES: Final = (RUNNING, DONE, FAILED, WAITING, CANCELLED)

InterruptStatus = Literal["waiting", "resumed", "cancelled"]
RESUMED: Final = "resumed"
INTERRUPT_STATUSES: Final = (WAITING, RESUMED, CANCELLED)
