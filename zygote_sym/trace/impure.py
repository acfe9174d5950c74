"""The random draws, clock reads and I/O a traced function makes (a
specialization that depends on them is not reusable: compile warns or
refuses; zygote_sym.gradient runs f at every call instead).

`Calls` watches C-level calls through a profile function; `Quiet` pauses it
inside our own handlers; `rngs`/`rng_state` compare NumPy generators' states
before and after (their draws are invisible to a profiler).
"""
import builtins
import datetime
import gc
import io
import os
import random
import sys
import time
import types

import numpy as np


_RANDOM = (random.Random, np.random.Generator, np.random.RandomState, np.random.BitGenerator)
_SPECIAL = {id(os.urandom): ("random", "os.urandom"), **{id(fn): ("clock", f"time.{fn.__name__}")
            for fn in (time.time, time.time_ns, time.perf_counter, time.perf_counter_ns,
                       time.monotonic, time.monotonic_ns, time.process_time)}}
_SPECIAL.update({id(fn): ("io", fn.__name__) for fn in (builtins.print, builtins.input,
                                                       builtins.open)})
_NOW = frozenset({"now", "utcnow", "today"})


def _impure(fn):
    """("random" | "clock" | "io", public name) for a draw, a clock read or
    I/O (print, input, open, a file's methods: a kernel would not repeat them),
    else None."""
    hit = _SPECIAL.get(id(fn))
    if hit is not None:
        return hit
    s = getattr(fn, "__self__", None)
    if s is None or type(s) is types.ModuleType:
        return None
    name = getattr(fn, "__name__", "?")
    if isinstance(s, _RANDOM):
        owner = ("np.random" if s is np.random.mtrand._rand else "random" if s is random._inst
                 else type(s).__name__)
        return ("random", f"{owner}.{name}")
    if isinstance(s, io.IOBase):
        return ("io", f"{type(s).__name__}.{name}")
    if (s is datetime.datetime or s is datetime.date) and name in _NOW:  # (s may be an array)
        return ("clock", f"datetime.{s.__name__}.{name}")
    return None


def rngs(reach):
    """NumPy generators f may draw from (their draws are Cython calls, which
    no profiler sees: their state is compared instead), with a name."""
    found = [(np.random.mtrand._rand, "np.random (the global RandomState)")]
    for i, g in reach.nodes.items():
        if isinstance(g, _RANDOM[1:]):
            found.append((g, f"the {type(g).__name__} {reach.path(reach.parents[i][0])}"))
    return found


def rng_state(g):
    if isinstance(g, np.random.RandomState):  # with its cached second normal (Box-Muller)
        _, key, *rest = g.get_state()
        return key.tobytes(), *rest
    return _fingerprint((g.bit_generator if isinstance(g, np.random.Generator) else g).state)


def _fingerprint(x):  # a bit generator's state, arrays as bytes (repr would elide them)
    return tuple((k, _fingerprint(v)) for k, v in x.items()) if isinstance(x, dict) else \
        x.tobytes() if isinstance(x, np.ndarray) else x


def _ours(frame):
    """A draw made for zygote_sym or SymPy, not for f: `random.shuffle` and
    friends are Python, so the module asking is the first one above `random`
    (SymPy's assumption system shuffles its facts during nested derivatives)."""
    while frame is not None and frame.f_globals.get("__name__") == "random":
        frame = frame.f_back
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
        ("zygote_sym", "sympy"))


class Calls:
    """The random draws and clock reads f makes: a profile function sees each
    call of a C function from Python code (the draws of `random`,
    `np.random`, a Generator, clocks); our own handlers run with it paused
    (`Quiet`), so tracing costs about the same.  `blind` when another
    profiler is active (it is left alone)."""

    def __init__(self):
        self.found, self.blind, self.outer, self.prev = [], False, None, None

    def __enter__(self):
        self.prev = sys.getprofile()
        if self.prev is not None:
            self.outer = getattr(self.prev, "__self__", None)
            if not isinstance(self.outer, Calls):
                self.blind, self.outer = True, None
                return self
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        if not self.blind:
            sys.setprofile(self.prev)

    def _profile(self, frame, event, arg):
        if event == "c_call":
            what = _impure(arg)
            if what is not None:
                self._hit(frame, what)

    def _hit(self, frame, what):
        # not ours, nor a garbage-collector callback or a finalizer that ran meanwhile
        gc_codes, up = {getattr(cb, "__code__", None) for cb in gc.callbacks}, frame
        while up is not None and up.f_code not in gc_codes and up.f_code.co_name != "__del__":
            up = up.f_back
        if up is None and not _ours(frame):
            self.found.append((*what, f"at {frame.f_code.co_filename}:{frame.f_lineno}"))
        if self.outer is not None:
            self.outer._hit(frame, what)


class Quiet:
    """The dispatch registry with the profiler paused inside our handlers."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        fn = getattr(self._inner, name)
        if not callable(fn):
            return fn

        def quiet(*a, **k):
            prof = sys.getprofile()
            if not isinstance(getattr(prof, "__self__", None), Calls):
                return fn(*a, **k)  # not ours (cProfile's is not even callable): leave it
            sys.setprofile(None)
            try:
                return fn(*a, **k)
            finally:
                sys.setprofile(prof)
        self.__dict__[name] = quiet
        return quiet
