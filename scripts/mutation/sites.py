"""Where a module can be mutated, and how: the mutation operators.

A *site* is one small change to one AST node (flip a comparison, drop a call statement, ...).
Sites are found by walking a freshly parsed tree in a fixed order, so the k-th site of two
parses of the same source is the same change: a mutant is just (file, k).

Only code that runs when a function is *called* is mutated. Module and class bodies, default
values, decorators and annotations run once at import; the runner swaps function code objects
in an already-imported process, so changes there could not take effect (they are not counted).
Strings are left alone: they are messages, and a changed message is rarely a changed behaviour.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
}


@dataclass(frozen=True)
class Site:
    index: int
    line: int
    end_line: int
    function: str  # qualname of the innermost enclosing def
    description: str
    apply: Callable[[], None]  # mutate the tree this site was found in


def find_sites(tree: ast.Module) -> list[Site]:
    finder = _SiteFinder()
    finder.visit(tree)
    return finder.sites


def _op_name(op: object) -> str:
    return type(op).__name__


class _SiteFinder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.sites: list[Site] = []
        self._scope: list[str] = []  # enclosing class/def names, for qualnames
        self._in_function = 0

    # --- scopes -------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self._scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # decorators, defaults and annotations run at definition time: not visited
        self._scope.append(node.name)
        self._in_function += 1
        self._scope.append("<locals>")
        for stmt in node.body:
            self.visit(stmt)
        self._scope.pop()
        self._in_function -= 1
        self._scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope.append("<lambda>")
        self._in_function += 1
        self.visit(node.body)
        self._in_function -= 1
        self._scope.pop()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    # --- what is skipped ----------------------------------------------------------------------
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # message text

    def visit_Raise(self, node: ast.Raise) -> None:
        return  # which error is raised is asserted by tests; its message arguments are text

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_arguments(self, node: ast.arguments) -> None:
        return

    # --- operators ----------------------------------------------------------------------------
    def _add(self, node: ast.AST, description: str, apply: Callable[[], None]) -> None:
        if not self._in_function:
            return
        function = ".".join(part for part in self._scope if part)
        if function.endswith(".<locals>"):
            function = function[: -len(".<locals>")]
        self.sites.append(Site(len(self.sites), node.lineno, node.end_lineno or node.lineno,  # type: ignore[attr-defined]
                               function, description, apply))

    def visit_Compare(self, node: ast.Compare) -> None:
        for position, op in enumerate(node.ops):
            swapped = _COMPARE_SWAP.get(type(op))
            if swapped is not None:
                def apply(node: ast.Compare = node, position: int = position, swapped: type = swapped) -> None:
                    node.ops[position] = swapped()
                self._add(node, f"{_op_name(op)} -> {swapped.__name__}", apply)
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        flipped: type[ast.boolop] = ast.Or if isinstance(node.op, ast.And) else ast.And

        def apply(node: ast.BoolOp = node, flipped: type = flipped) -> None:
            node.op = flipped()
        self._add(node, f"{_op_name(node.op)} -> {flipped.__name__}", apply)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            def apply(node: ast.UnaryOp = node) -> None:
                node.op = ast.UAdd()  # `+x` keeps the node shape; on a bool it is `x`
                node.operand = ast.Call(ast.Name("bool", ast.Load()), [node.operand], [])
            self._add(node, "not x -> x", apply)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swapped = _BINOP_SWAP.get(type(node.op))
        if swapped is not None:
            def apply(node: ast.BinOp = node, swapped: type = swapped) -> None:
                node.op = swapped()
            self._add(node, f"{_op_name(node.op)} -> {swapped.__name__}", apply)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swapped = _BINOP_SWAP.get(type(node.op))
        if swapped is not None:
            def apply(node: ast.AugAssign = node, swapped: type = swapped) -> None:
                node.op = swapped()
            self._add(node, f"{_op_name(node.op)}= -> {swapped.__name__}=", apply)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            def apply_bool(node: ast.Constant = node) -> None:
                node.value = not node.value
            self._add(node, f"{value} -> {not value}", apply_bool)
        elif isinstance(value, (int, float)):
            def apply_number(node: ast.Constant = node) -> None:
                node.value = node.value + 1
            self._add(node, f"{value!r} -> {value + 1!r}", apply_number)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            def apply(node: ast.Return = node) -> None:
                node.value = ast.Constant(None)
            self._add(node, "return x -> return None", apply)
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant):
            return  # a docstring
        call = value.value if isinstance(value, ast.Await) else value
        if isinstance(call, ast.Call):
            def apply(node: ast.Expr = node) -> None:
                node.value = ast.Constant(None)
            self._add(node, "call statement removed", apply)
        self.generic_visit(node)

    def visit_Break(self, node: ast.Break) -> None:
        self._add(node, "break -> continue", lambda: _replace_in_parent(node, ast.Continue()))

    def visit_Continue(self, node: ast.Continue) -> None:
        self._add(node, "continue -> break", lambda: _replace_in_parent(node, ast.Break()))


def _replace_in_parent(node: ast.stmt, replacement: ast.stmt) -> None:
    # Break/Continue carry no fields: turning one into the other is a class swap in place.
    node.__class__ = replacement.__class__


def iter_code_objects(code: object) -> Iterator[object]:
    """Every code object nested in ``code`` (depth first), ``code`` included."""
    yield code
    for const in getattr(code, "co_consts", ()):
        if hasattr(const, "co_code"):
            yield from iter_code_objects(const)
