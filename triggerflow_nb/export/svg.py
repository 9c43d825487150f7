"""A flow's graph as SVG, rendered by Graphviz's ``dot`` through the graphviz package.

The DOT statements come from ``export.dot`` (the one writer); this module only wraps
them in a ``graphviz.Digraph`` and renders. Graphviz is an export backend, not a
Jupyter one: a plain script can render too. When ``dot`` (or the graphviz package) is
missing, callers get the DOT text and how to install Graphviz instead of a traceback.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from ..definition.flow import FlowDefinition
from .dot import dot_body

if TYPE_CHECKING:
    import graphviz


INSTALL_HINT = (
    "Graphviz is needed to draw this flow ({reason}); install it with `apt-get install graphviz` "
    "or `conda install graphviz` (macOS: `brew install graphviz`). Its DOT source follows."
)


class GraphvizUnavailable(RuntimeError):
    """The drawing could not be rendered; ``reason`` says why in a few words."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def flow_digraph(flow: FlowDefinition, execution: Any = None, *, svg_id_prefix: str | None = None) -> graphviz.Digraph:
    """The flow as a ``graphviz.Digraph`` whose source is exactly ``to_dot(flow, execution)``."""
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError("flow.graph() needs the graphviz Python package: pip install graphviz") from exc
    return graphviz.Digraph(body=dot_body(flow, execution, svg_id_prefix=svg_id_prefix))


def render_svg(body: list[str]) -> str:
    """Render DOT statements to an SVG fragment (no XML prolog), or raise GraphvizUnavailable."""
    if shutil.which("dot") is None:
        raise GraphvizUnavailable("the `dot` program is not on PATH")
    try:
        import graphviz
    except ImportError:
        raise GraphvizUnavailable("the graphviz Python package is not installed: pip install graphviz") from None
    try:
        svg = graphviz.Digraph(body=body).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizUnavailable("the `dot` program is not on PATH") from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise GraphvizUnavailable(f"`dot` failed: {detail[0] if detail else exc}") from None
    except OSError as exc:  # e.g. `dot` found but not executable
        raise GraphvizUnavailable(f"`dot` could not run: {exc}") from None
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def fallback_text(reason: str, body: list[str]) -> str:
    return INSTALL_HINT.format(reason=reason) + "\n\ndigraph {\n" + "".join(body) + "}\n"


def flow_mimebundle(flow: FlowDefinition, execution: Any = None) -> dict[str, str]:
    """What a flow displays as in a notebook: its SVG drawing, or the DOT text plus an install hint."""
    body = dot_body(flow, execution)
    try:
        svg = render_svg(body)
    except GraphvizUnavailable as exc:
        return {"text/plain": fallback_text(exc.reason, body)}
    return {"image/svg+xml": svg, "text/plain": repr(flow)}
