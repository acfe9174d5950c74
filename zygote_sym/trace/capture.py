"""State a traced function reaches without arguments: closures and globals.

`slots(roots)` enumerates the mutable places (closure cells, module globals
named by the code, dict items, list items, object attributes) reachable from
functions and objects, following the functions they call.  Two uses:
implicit parameters (`Params`: put tracers in exactly the places that hold a
parameter, then restore them) and cleanup (a tracer that f stored in a dict
or object is replaced by its concrete value, so user state never keeps one).
"""
import types

import numpy as np

_MAX_DEPTH = 8
_MAX_ITEMS = 10_000  # longer lists/dicts are data, not state worth scanning


class Slot:
    """A place that holds a value: `container[key]` or a closure cell."""
    __slots__ = ("container", "key")

    def __init__(self, container, key):
        self.container, self.key = container, key

    def get(self):
        if isinstance(self.container, types.CellType):
            return self.container.cell_contents
        return self.container[self.key]

    def set(self, value):
        if isinstance(self.container, types.CellType):
            self.container.cell_contents = value
        else:
            self.container[self.key] = value


def _code_names(code, out):
    out.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)
    return out


def slots(roots):
    """Every reachable slot, once (containers visited once by identity)."""
    seen = set()
    found = []

    def visit_function(fn, depth):
        if id(fn) in seen or depth > _MAX_DEPTH:
            return
        seen.add(id(fn))
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            found.append(Slot(cell, None))
            visit(value, depth + 1)
        glb = fn.__globals__
        for name in _code_names(fn.__code__, set()):
            if name in glb:
                found.append(Slot(glb, name))
                visit(glb[name], depth + 1)

    def visit(x, depth):
        if depth > _MAX_DEPTH or isinstance(x, (np.ndarray, str, bytes, int, float, type,
                                                types.ModuleType)):
            return
        if isinstance(x, types.FunctionType):
            return visit_function(x, depth)
        if isinstance(x, types.MethodType):
            visit(x.__self__, depth)
            return visit_function(x.__func__, depth)
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, dict):
            if len(x) <= _MAX_ITEMS:
                for k in list(x):
                    found.append(Slot(x, k))
                    visit(x[k], depth + 1)
        elif isinstance(x, list):
            if len(x) <= _MAX_ITEMS:
                for i, v in enumerate(x):
                    found.append(Slot(x, i))
                    visit(v, depth + 1)
        elif isinstance(x, tuple):
            for v in x[:_MAX_ITEMS]:
                visit(v, depth + 1)
        elif hasattr(x, "__dict__") and not callable(getattr(x, "__get__", None)):
            visit(vars(x), depth)
            call = getattr(type(x), "__call__", None)
            if isinstance(call, types.FunctionType):
                visit_function(call, depth + 1)

    for r in roots:
        visit(r, 0)
    return found


def scrub(roots, is_escaped, concrete):
    """Replace every escaped tracer reachable from `roots` by `concrete(t)`."""
    for slot in slots(roots):
        try:
            value = slot.get()
        except (KeyError, IndexError, ValueError):
            continue
        if is_escaped(value):
            slot.set(concrete(value))
