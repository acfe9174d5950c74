"""The user's variables: every name f's code uses, and the values its
scalar variables take, so the names the library makes (a recurrence's
sequence and index, temporaries) never clash with the user's and the
loop-carried value of a recurrence takes the name the user gave it.

Names come from the code objects (`co_varnames`, `co_names`, free and
cell variables) of f, the functions defined inside it, and the Python
functions it calls through its globals or closure (`lambda k: flight(k)`
reads flight's names too).  Values are recorded while `derive` traces f
(f runs once, as always: a second run would repeat its side effects) under
`sys.settrace` (the stdlib's line tracer, as pdb and coverage use it): each
scalar local, a tracer by its concrete value, at every line of the user's
own frames, up to MAX_EVENTS lines; nothing is recorded when another tracer
(a debugger, coverage) is active.
"""
import contextlib
import math
import os
import sys
import sysconfig
import types
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..trace.tracer import Tracer

_LIBRARY = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}) + (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),)  # and zygote_sym's own
MAX_EVENTS = 100_000  # lines recorded at most: a long Python loop is not slowed further


def user_names(f: Callable[..., Any]) -> set[str]:
    """Every identifier in f's code and in the Python functions it reaches.

    >>> k = 2.0
    >>> def step(y):
    ...     return y - k * y
    >>> sorted(user_names(lambda x: step(x) + 1))
    ['k', 'step', 'x', 'y']
    """
    names: set[str] = set()
    todo, seen = [f], set()
    while todo:
        fn = todo.pop()
        code = getattr(fn, "__code__", None)
        if code is None or code in seen:
            continue
        seen.add(code)
        for c in _codes(code):
            names.update(c.co_varnames, c.co_names, c.co_freevars, c.co_cellvars)
            todo += [v for v in _reachable(fn, c) if isinstance(v, types.FunctionType)]
    return names


def _codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _reachable(fn, code):
    cells = dict(zip(fn.__code__.co_freevars, getattr(fn, "__closure__", None) or ()))
    for name in code.co_names + code.co_freevars:
        if name in cells:
            try:
                yield cells[name].cell_contents
            except ValueError:  # an empty cell
                pass
        elif name in getattr(fn, "__globals__", {}):
            yield fn.__globals__[name]


def _scalar(v):
    if isinstance(v, Tracer):
        v = v.value
        if np.ndim(v) or np.iscomplexobj(v):
            return None
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)) \
            and math.isfinite(v):
        return float(v)
    return None


@contextlib.contextmanager
def observed() -> Iterator[dict[str, list[float]]]:
    """While the block runs (f being traced), {variable name: the real scalar
    values it held, in order} over the lines of the user's frames (not the
    library's, not zygote_sym's); the previous trace function is restored.

    >>> def decay(k):
    ...     y = 1.0
    ...     for _ in range(3):
    ...         y = y - k * y
    ...     return y
    >>> with observed() as seen:
    ...     _ = decay(0.5)
    >>> seen["y"]
    [1.0, 0.5, 0.25, 0.125]
    """
    seen: dict[str, list[float]] = {}
    if sys.gettrace() is not None:
        yield seen
        return
    events = [0]

    def record(frame):
        for name, v in frame.f_locals.items():
            x = _scalar(v)
            if x is not None:
                values = seen.setdefault(name, [])
                if not values or values[-1] != x:
                    values.append(x)

    def local(frame, event, arg):
        if event in ("line", "return") and events[0] < MAX_EVENTS:
            events[0] += 1
            record(frame)
        return local

    def call(frame, event, arg):
        return None if frame.f_code.co_filename.startswith(_LIBRARY) else local

    sys.settrace(call)
    try:
        yield seen
    finally:
        sys.settrace(None)
    if events[0] >= MAX_EVENTS:
        seen.clear()  # a partial record could name the wrong variable


def carrier(sequence: Sequence[float], seen: dict[str, list[float]]) -> str:
    """The one variable whose values include every element of `sequence`
    (to 1e-12 relative), or '' when none or several do.

    >>> carrier([0.5, 0.25], {"y": [1.0, 0.5, 0.25], "k": [0.5]})
    'y'
    """
    want = np.asarray(sequence, dtype=float)
    found = []
    for name, values in seen.items():
        v = np.sort(np.asarray(values, dtype=float))
        at = np.clip(np.searchsorted(v, want), 1, len(v) - 1) if len(v) > 1 else np.zeros(
            len(want), dtype=int)
        near = np.minimum(np.abs(v[at] - want), np.abs(v[at - 1 if len(v) > 1 else at] - want))
        if np.all(near <= 1e-12 * np.abs(want)):
            found.append(name)
    return found[0] if len(found) == 1 else ""
