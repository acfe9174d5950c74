"""Trace reuse for `zygote_sym.gradient`, `withgradient` and `pullback`: the natural
spelling `zs.gradient(loss, w, X, y)` in the user's own loop runs a compiled kernel
from the second call on, under `compile`'s contract (compiled.py: guards, the state
watch, thread safety; a window `X[i:i+B]` of an argument X is one kernel for every
offset i in range, other integers that pick a slice or an index get one kernel per
value; an array f reaches without taking it is a constant of the kernel, so its
windows pin i's value too: pass it as an argument).

The first call makes the kernel, the second runs it.  A lambda whose closure
values change at every call would make a kernel per call that is never reused:
once its code has a kernel, a key not seen before traces f as before, and makes a
kernel only when it comes again.  A call is served by the kernel only when that
gives what tracing f again would:

- f is looked up by what decides what it computes: a function by its code, its
  globals, and what its closure cells, defaults and keyword defaults hold (by
  identity; immutable scalars and tuples of them by value, with the sign of
  zero), so a lambda written anew on every loop iteration finds the trace of
  the previous one.  A bound method adds its instance (by identity); any
  other callable is looked up by identity.  A cached f that no longer holds
  what the new one holds is not used.
- Arguments are numbers and real arrays, or pytrees of them; anything else
  (Fractions, SymPy, `Params`, complex numbers) and any call while tracing (a
  nested derivative) traces f as before (eager.py).
- f is traced as `zygote_sym.gradient` always did (eager.py) and so are the
  arrays it reaches: they enter the kernel as constants, and the watch keeps a
  copy of each to compare at every call; more than 16 MB of them
  (specialize.REUSE_HELD_BYTES) is not reused.
- A trace that is not f is used for its own call only, and f is traced at every
  later call: one that draws random numbers or reads the clock, changes state
  it reaches, runs under another profiler, keeps failing its guards (more than
  `max_specializations` traces) or sees state it reads change at 3 calls.  An
  error f raises while traced is raised at once (f ran once); an argument or
  output the kernel does not take falls back (f, if it ran, runs again).
- `pullback` has entries of its own (a pullback that cannot be reused does not
  stop gradient's reuse, nor the reverse).  Its y is f run on the arguments, and
  `back(dy)` runs a VJP kernel on copies of the array arguments.  f's run must
  give tracing's y bit for bit, checked against a trace at the trace, at the
  first reused calls and then at doubling intervals (points, not a proof), else
  f is traced at every call, as it is when f changes its arguments in place; a
  call where f's run raises (Python's 1/0.0, where a trace takes NumPy's inf)
  is traced (reuse_pullback.py says why y is not a kernel's).

The cache holds at most `MAX_FUNCTIONS` functions (least recently used first
out); the events go to `logging.getLogger("zygote_sym.reuse")`.
"""
import logging
import threading
import types
from collections import OrderedDict
from typing import Any, Callable, Hashable, Tuple

import numpy as np

from . import dask as dask_support, eager
from .compiled import Compiled
from .params import Params
from .reuse_pullback import PullbackSpecialization, Retrace
from .specialize import Unreusable, _name
from .transform import WithGradient
from .trace.tracer import tracing

log = logging.getLogger("zygote_sym.reuse")
MAX_FUNCTIONS = 64

_BY_VALUE = (int, bool, str, bytes, type(None))
_EMPTY = object()  # an empty closure cell


class Reused(Compiled):
    """`zygote_sym.gradient`'s compiled form of one f: no compile warnings
    (what compile warns about makes `unsafe` say why f is traced each call)."""

    reuse = True

    def pullback(self, args: Tuple[Any, ...]) -> Tuple[Any, Callable[[Any], Any]]:
        """(y, back) as :func:`zygote_sym.pullback`, from a kernel (reuse_pullback.py)."""
        spec, point = self._run(args, PullbackSpecialization)
        if point is None:  # (its guards fail at the arguments it was traced at)
            raise Unreusable("the trace's guards do not hold at its own arguments")
        return point.pullback(self.f, args)


def _held(v):
    """How the key holds one object f reaches: by value for immutable scalars
    (float by its bits: -0.0 is not 0.0), by identity otherwise."""
    t = type(v)
    if t is float:
        return (t, v.hex())
    if t in _BY_VALUE:
        return (t, v)
    if t is tuple:
        return (t, tuple(map(_held, v)))
    if isinstance(v, np.generic):
        return (t, v.tobytes())
    return id(v)


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


def key(f: Callable[..., Any]) -> Hashable:
    """What decides what f computes, as a hashable key (see the module docstring)."""
    if isinstance(f, types.FunctionType):
        cells, defaults, kw = f.__closure__, f.__defaults__, f.__kwdefaults__
        return (f.__code__, id(f.__globals__),
                tuple(_held(_contents(c)) for c in cells) if cells else (),
                tuple(map(_held, defaults)) if defaults else (),
                tuple((k, _held(v)) for k, v in kw.items()) if kw else ())
    if isinstance(f, types.MethodType):
        return ("method", key(f.__func__), id(f.__self__))
    return ("object", id(f))


_cache: "OrderedDict[object, Reused]" = OrderedDict()
# keys called once whose code already has a kernel for other closure values (a lambda
# whose values change at every call): traced as before until a key comes again
_seen: "OrderedDict[object, None]" = OrderedDict()
_lock = threading.Lock()


def _remember(table, k):
    table[k] = None
    if len(table) > 4 * MAX_FUNCTIONS:
        table.popitem(last=False)


def _compiled(f, kind=None):
    """The Reused for f: found by key, or new (the least recently used goes); None
    when f's code already has a kernel for other closure values and this key was
    not called before (a policy, not a proof: such a call traces as before).
    `kind` "pullback": the entry of `zygote_sym.pullback` (its own traces, and its
    own reasons not to reuse them), beside gradient's (None)."""
    fkey = key(f)
    k = fkey if kind is None else (kind, fkey)
    with _lock:
        c = _cache.get(k)
        # the cached function may since hold other objects: then it does not stand for f
        # (its key is recomputed on it: what it holds is alive, so ids are not reused)
        if c is not None and (c.f is f or key(c.f) == fkey):
            _cache.move_to_end(k)
            return c
        code = getattr(f, "__code__", None)
        code = code if kind is None or code is None else (kind, code)
        if c is None and code is not None and code in _seen and k not in _seen:
            _remember(_seen, k)
            return None
        _seen.pop(k, None)
        if code is not None:
            _remember(_seen, code)
        c = _cache[k] = Reused(f)
        if len(_cache) > MAX_FUNCTIONS:
            _cache.popitem(last=False)
            log.info("dropped the kernels of the least recently used function")
    return c


def _reusable(args):
    """Not a Params (implicit parameters), not Dask arrays (the eager API
    refuses them; a compiled function runs them block by block); the leaves of
    pytrees are checked by Reused before f is traced (other leaves: Unreusable)."""
    return not (len(args) == 1 and isinstance(args[0], Params)) and not dask_support.is_dask(args)


def withgradient(f: Callable[..., Any], args: Tuple[Any, ...], fname: str) -> WithGradient:
    """(value, gradient) of f at `args`: from a reused kernel when that is f, else
    traced now.  `fname` (the public function called) names it in errors."""
    if tracing() or not _reusable(args) or not callable(f):
        return eager.withgradient(f, args, fname)
    c = _compiled(f)
    if c is not None and c.unsafe is None:
        try:  # (an error f raises while traced is the user's: it propagates)
            return c.withgradient(*args)
        except Unreusable as e:
            c._unreusable(str(e))
    return eager.withgradient(f, args, fname)


def pullback(f: Callable[..., Any], args: Tuple[Any, ...]) -> Tuple[Any, Callable[[Any], Any]]:
    """(y, back) of f at `args`: from a reused kernel when that is f, else traced now."""
    if tracing() or not _reusable(args) or not callable(f):
        return eager.pullback(f, args)
    c = _compiled(f, "pullback")
    if c is not None and c.unsafe is None:
        try:  # (an error f raises while traced is the user's: it propagates)
            return c.pullback(args)
        except Unreusable as e:
            if isinstance(e, Retrace) or isinstance(e.__cause__, Retrace):
                log.debug("%s: traced at this call: %s", _name(f), e)  # the kernels stay
            else:
                c._unreusable(str(e))
    return eager.pullback(f, args)
