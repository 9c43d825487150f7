"""How deeply emits are nested on the current stack (see ``GraphWalker._dispatch_event``)."""

from __future__ import annotations

import contextvars

# Inline emits nested deeper than this on one stack run as a task instead.
MAX_INLINE_EMIT_DEPTH = 24
emit_depth: contextvars.ContextVar[int] = contextvars.ContextVar("triggerflow_nb_emit_depth", default=0)
