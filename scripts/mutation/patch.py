"""Put one mutant into an already-imported process by swapping a function's code object.

The whole module is recompiled with the mutation; the code object of the outermost function
holding the site replaces that function's ``__code__``. Every reference to the function (bound
methods, handler tables, other modules' ``from x import f``) then runs the mutant, and the
process needs no re-import: that is what makes a fork per mutant cheap.
"""

from __future__ import annotations

import ast
import importlib
from types import CodeType, FunctionType
from typing import Any

from sites import Site, find_sites, iter_code_objects


class Unpatchable(Exception):
    """The site's function cannot be reached from its module (e.g. built by a factory at import)."""


def outermost_function(qualname: str) -> str:
    """``A.f.<locals>.g`` -> ``A.f``: nested code lives inside its parent's code constants."""
    return qualname.split(".<locals>", 1)[0]


def mutated_code(path: str, index: int, source: str | None = None) -> tuple[Site, CodeType]:
    """``source``: the file as the runner read it when it numbered the sites (others may have
    changed the file since); None: read it now."""
    if source is None:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    tree = ast.parse(source, filename=path)
    site = find_sites(tree)[index]
    site.apply()
    ast.fix_missing_locations(tree)
    return site, compile(tree, path, "exec")


def apply_mutant(module_name: str, path: str, index: int, source: str | None = None) -> Site:
    site, module_code = mutated_code(path, index, source)
    target = outermost_function(site.function)
    new_code = next((code for code in iter_code_objects(module_code)
                     if getattr(code, "co_qualname", None) == target), None)
    if new_code is None:
        raise Unpatchable(f"no code object named {target}")
    function = _live_function(importlib.import_module(module_name), target)
    if len(function.__code__.co_freevars) != len(new_code.co_freevars):  # type: ignore[attr-defined]
        raise Unpatchable(f"{target}: closure shape changed")
    function.__code__ = new_code  # type: ignore[assignment]
    return site


def _live_function(module: Any, qualname: str) -> FunctionType:
    owner: Any = module
    *path, name = qualname.split(".")
    for part in path:
        owner = owner.__dict__.get(part) if hasattr(owner, "__dict__") else None
        if owner is None:
            raise Unpatchable(f"{qualname}: {part} not found")
    member = owner.__dict__.get(name)
    for candidate in _unwrapped(member):
        if isinstance(candidate, FunctionType) and candidate.__code__.co_qualname == qualname:
            return candidate
    raise Unpatchable(f"{qualname}: not a plain function at import")


def _unwrapped(member: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        return [accessor for accessor in (member.fget, member.fset, member.fdel) if accessor is not None]
    while member is not None:
        found.append(member)
        member = getattr(member, "__wrapped__", None)
    return found
