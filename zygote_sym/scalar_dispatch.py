"""The fast path of a compiled function of scalars: a dispatcher generated for
one signature of argument types (say three floats), bound on the compiled
object in place of its `gradient` and `withgradient` methods.

A call checks, in the fewest Python operations, what the general path
checks (compiled.py's contract): the number and exact types of the
arguments, that no trace runs in this thread (a nested derivative must stay
traced), and that the state f reaches still matches the specialization
(its watch); then it runs the kernel and returns Python floats.  Anything
else goes to the general method, unchanged.  The generated source is kept
as `.source` on the dispatcher.

"No trace runs" is read first from the thread's set of live traces
(trace/tracer.py keeps them in a WeakSet; an empty one means none); only
when it is not empty is `tracing()` asked (finished traces may linger).
"""
import itertools
import types
from typing import Any, Dict, Tuple

from .codegen.fused import FusedKernel
from .codegen.fused_tier import _Timed
from .codegen.kernel import Kernel
from .trace import tracer
from .transform import WithGradient


_NOTRACE = ('((_ts := _LIVE.__dict__.get("traces")) is None or not _ts.data '
            'or not _tracing())')

# the kernel call: a math Kernel's generated function directly while the specialization
# still holds that kernel, or the auto backend's timer around it (codegen/fused_tier.py:
# then one call in its SAMPLE goes through the timer, counted here by a C-level counter);
# once the tier swaps in another kernel, that is called as it is (a fused one through its
# Numba function, as the math kernel is: a Python frame less).  An error goes to the
# Kernel's own recovery (the kernel is pure: re-running it is safe)
_RUN = """\
        k = _spec.kernel
        if k is _k or k is _timer and next(_count) % _SAMPLE:
            try:
                r = _fn(*a)
            except Exception:
                r = _k(*a)
        elif k is _timer:
            r = k.timed(*a)
        elif type(k) is _Fused:  # the swapped-in fused kernel: its Numba function, directly
            try:
                r = k.fn(*a)
            except Exception:
                r = k(*a)
        else:
            r = k(*a)
        _self._last = _spec
"""


def install(compiled: Any, arg_types: Tuple[type, ...], spec: Any) -> None:
    """Bind dispatchers for `arg_types` running `spec` (an all-float math
    kernel without guards or captured arrays) on `compiled`."""
    n = len(arg_types)
    checks = " and ".join([f"len(a) == {n}"] + [f"type(a[{i}]) is _t{i}" for i in range(n)])
    if spec.watch.checks:  # (a watch without checks is always fresh; its one generated
        checks += " and (_quick() or _fresh())"  # expression first, as Watch.fresh does)
    grads = "".join(f"_float(r[{i + 1}]), " for i in range(n))
    src = f"""\
def gradient(*a):
    if {checks} and {_NOTRACE}:
{_RUN}        return ({grads})
    return _gradient(*a)


def withgradient(*a, with_value=True):
    if {checks} and {_NOTRACE}:
{_RUN}        return _new(_WG, (_float(r[0]), ({grads})))
    return _withgradient(*a, with_value=with_value)
"""
    k = timer = spec.kernel
    if type(timer) is _Timed:
        k = timer.kernel
    else:
        timer = None
    math_kernel = type(k) is Kernel and k.backend == "math"
    env: Dict[str, Any] = {f"_t{i}": t for i, t in enumerate(arg_types)}
    env.update(_LIVE=tracer._LIVE, _tracing=tracer.tracing, _fresh=spec.watch.fresh,
               _quick=spec.watch._fast,
               _spec=spec, _self=compiled, _float=float, _WG=WithGradient, _new=tuple.__new__,
               _k=k if math_kernel else None, _fn=k.fn if math_kernel else None,
               _timer=timer if math_kernel else None, _count=itertools.count(1),
               _SAMPLE=_Timed.SAMPLE, _Fused=FusedKernel,
               _gradient=types.MethodType(type(compiled).gradient, compiled),
               _withgradient=types.MethodType(type(compiled).withgradient, compiled))
    exec(compile(src, f"<zygote_sym dispatcher {arg_types}>", "exec"), env)
    for name in ("gradient", "withgradient"):
        fn = env[name]
        fn.__doc__, fn.source = getattr(type(compiled), name).__doc__, src
        setattr(compiled, name, fn)


def remove(compiled: Any) -> None:
    """Back to the general methods (the specialization went stale or was dropped)."""
    for name in ("gradient", "withgradient"):
        compiled.__dict__.pop(name, None)
