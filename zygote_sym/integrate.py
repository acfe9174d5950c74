"""`scipy.integrate.odeint` and `solve_ivp` with gradients: the adjoint method.

`odeint(func, y0, t, args=(), ...)` and `solve_ivp(fun, t_span, y0, ...,
args=None, ...)` take SciPy's signatures and defaults.  On plain values they
*are* SciPy's functions; when y0, the times or `args` hold traced values
(inside `zs.gradient`, `zs.compile`, ...), the solution is one node of the
trace, named `odeint` or `solve_ivp`, whose value SciPy computes on plain
values and whose pullback solves the adjoint ODE backwards in time, again
with SciPy (the same solver and tolerances):

    d/dt [y, a, a_t, a_θ] = [f(y, t, θ), -aᵀ ∂f/∂y, -aᵀ ∂f/∂t, -aᵀ ∂f/∂θ]

from each output time t_i to the one before, where the cotangent of the
output y(t_i) is added to `a`.  This is the scheme of autograd's
`autograd/scipy/integrate.py` and JAX's `jax/experimental/ode.py` (after
Froehlich et al. 2017, arXiv:1711.08079, Sec. 2.4.2): it gives cotangents
for y0, for every output time (t_i gets g_i·f(y(t_i), t_i); t_0 the rest) and
for every float leaf of `args` (floats and float arrays in nested tuples,
lists, dicts; untraced integers and other objects are passed unchanged).

The VJP of the dynamics (aᵀ ∂f/∂y, aᵀ ∂f/∂t, aᵀ ∂f/∂θ) at each step of the
backward solve comes from `zs.compile` of `sum(f(y, t, *args) * a)`: traced
once per problem, then a generated kernel per call; f is ordinary user
Python (NumPy code, a list of expressions).

Limits, each raising an error that names it rather than giving a wrong
gradient:
- f must get its differentiated quantities through `args`: a traced value
  f reads from a closure or a global raises TracerConversionError naming it
  (autograd and JAX's odeint have the same contract; JAX closure-converts).
- `solve_ivp`: `events` and `dense_output=True` are refused while traced.
  Without `t_eval`, the output times are the solver's own steps, taken as
  constants (only the end points t_span carry a gradient).
- The backward solve re-integrates y from y(t_i) backwards, as autograd and
  JAX do; for a stiff, strongly dissipative f that is ill-conditioned
  (pass output times densely, so each interval is short).
- The pullback runs as plain Python: a second derivative (Hessian) raises
  NoRuleError.
- `rtol`/`atol` given per component are applied to the augmented state as
  their minimum; banded/`Dfun`/`jac` options serve only the forward solve.

It lives beside custom.py rather than in trace/handlers/ because it is
built on `custom_vjp` and `compile`, which sit above trace/ (ir <- trace <-
transform <- api/compiled <- custom).  Importing this module registers both in the table of library functions
(`trace.library.register`: this module sits above trace/, which cannot
import it), so a traced function that calls `scipy.integrate.odeint`,
however imported, runs this code (docs/integrate.md).

>>> import numpy as np, zygote_sym as zs
>>> from zygote_sym.integrate import odeint
>>> t = np.array([0.0, 1.0])
>>> decay = lambda k: odeint(lambda y, t, k: -k * y, 1.0, t, args=(k,),
...                           rtol=1e-10, atol=1e-12)[1, 0]
>>> g, = zs.gradient(decay, 0.5)
>>> print(round(g, 8), round(-np.exp(-0.5), 8))  # d/dk exp(-k t) at t = 1
-0.60653066 -0.60653066
"""
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.integrate as si

from .compiled import Compiled
from .custom import custom_vjp
from .errors import NoRuleError, TracerConversionError
from .trace import library
from .trace.capture import Reach
from .trace.handlers.common import as_tracer, trace_of
from .trace.tracer import Tracer, tracing

# options of the forward solve that also hold for the adjoint solve (the rest
# describe f's Jacobian or the first step, which the augmented system lacks)
_ODEINT_ADJOINT = ("rtol", "atol", "mxstep", "hmax", "hmin", "mxordn", "mxords")
_IVP_ADJOINT = ("rtol", "atol", "max_step", "min_step")


def _dot(out, a):
    """sum(out * a) for f's output, also when f returns a list of expressions."""
    if isinstance(out, (list, tuple)):
        return sum(_dot(o, a[i]) for i, o in enumerate(out))
    return np.sum(out * a)


def _floats(x):
    return np.asarray(x, dtype=float)


def _key(values):
    """Equality key of plain inputs (one solve serves several calls)."""
    return tuple((np.shape(v), _floats(v).tobytes()) for v in values)


def _hashable(v):
    """v, or a stand-in for it that is hashable (arrays by content, others by identity)."""
    try:
        hash(v)
        return v
    except TypeError:
        return (type(v).__name__, _floats(v).tobytes()) if isinstance(v, np.ndarray) else id(v)


def _adjoint_options(options, names):
    """The forward options that hold for the augmented state (per-component
    tolerances become their minimum: the augmented state has other components)."""
    out = {k: options[k] for k in names if options.get(k) is not None}
    for k in ("rtol", "atol"):
        if k in out and np.ndim(out[k]):
            out[k] = float(np.min(out[k]))
    return out


class _Problem:
    """One ODE problem (dynamics, solver, options, structure of args): its
    solution at given times as a custom_vjp node with the adjoint as rule."""

    def __init__(self, kind, fn, solve, adjoint_step, rebuild, n_leaves):
        self.kind, self.fn, self._solve, self._adjoint_step = kind, fn, solve, adjoint_step
        self._rebuild = rebuild
        self.node = custom_vjp(self._value)
        self.node.__name__ = self.node.__qualname__ = kind
        self.node.defvjp(self._fwd, self._bwd)
        # aᵀ f(y, t, *args) of y, t, the cotangent a, then the leaves of args; a
        # closure over f alone (compile re-checks the state its function reaches)
        self._vjp = Compiled(lambda y, t, a, *flat: _dot(fn(y, t, *rebuild(iter(flat))), a),
                             wrt=(0, 1, *range(3, 3 + n_leaves)))
        self._memo = self._bwd_memo = (None, None)

    def args(self, flat):
        return self._rebuild(iter(flat))

    def solution(self, y0, times, flat):
        """(ys of shape (len(times), size of y0), SciPy's result), memoized:
        the node's value, its residuals and its pullback need the same solve."""
        key = _key([y0, times, *flat])
        memo = self._memo
        if memo[0] != key:
            memo = self._memo = (key, self._solve(_floats(y0), _floats(times), self.args(flat)))
        return memo[1]

    def _value(self, y0, times, *flat):
        return self.solution(y0, times, flat)[0]

    def _fwd(self, y0, times, *flat):
        if trace_of([y0, times, *flat]) is not None:  # a symbolic trace of the rule
            raise TracerConversionError(f"{self.kind}'s pullback runs SciPy on plain values")
        return self._value(y0, times, *flat), (y0, times, flat)

    def _bwd(self, res, g):
        y0, times, flat = res
        key = _key([y0, times, *flat, g])
        memo = self._bwd_memo
        if memo[0] != key:
            memo = self._bwd_memo = (key, self._adjoint(y0, times, flat, _floats(g)))
        return memo[1]

    def _adjoint(self, y0, times, flat, g):
        ys = self.solution(y0, times, flat)[0]
        times, args = _floats(times), self.args(flat)  # (integer leaves stay integers)
        d = ys.shape[1]
        sizes = [np.size(v) for v in flat]
        splits = np.cumsum([2 * d + 1, *sizes])[:-1]

        def augmented(t, state):  # d/dt [y, a, a_t, a_θ]
            y, a = state[:d], state[d:2 * d]
            gy, gt, _, *gflat = self._vjp.gradient(y, t, -a, *flat)  # (none for a)
            return np.concatenate([_floats(self.fn(y, t, *args)).ravel(),
                                   *[np.zeros(np.size(x)) if gr is None else _floats(gr).ravel()
                                     for gr, x in zip([gy, gt, *gflat], [y, t, *flat])]])

        a, a_t0, a_args = g[-1].copy(), 0.0, [np.zeros(s) for s in sizes]
        times_bar = np.zeros(len(times))
        for i in range(len(times) - 1, 0, -1):
            times_bar[i] = np.dot(_floats(self.fn(ys[i], times[i], *args)).ravel(), g[i])
            a_t0 -= times_bar[i]
            if times[i] != times[i - 1]:
                state = self._adjoint_step(augmented, np.concatenate(
                    [ys[i], a, [a_t0], *a_args]), times[i], times[i - 1])
                _, a, a_t0, *a_args = np.split(state, [d, 2 * d, 2 * d + 1, *splits[1:]])
                a_t0 = float(a_t0[0])
            a = a + g[i - 1]
        times_bar[0] = a_t0
        return (a.reshape(np.shape(y0)), times_bar.reshape(np.shape(times)),
                *[c.reshape(np.shape(v)) for c, v in zip(a_args, flat)])


_PROBLEMS: dict[tuple, _Problem] = {}  # (kind, func, options, structure of args) -> _Problem


def _flatten(x, leaves):
    """Append the differentiable leaves of `args` (tracers, floats, float
    arrays, inside tuples, lists and dicts) to `leaves`; return (structure
    key, rebuild), where rebuild(iterator of leaves) gives the container back.
    Untraced integers stay static: f may use them as Python ints."""
    if isinstance(x, (Tracer, float, np.floating)) or isinstance(
            x, np.ndarray) and x.dtype.kind == "f":
        leaves.append(x)
        return "leaf", next
    if isinstance(x, (tuple, list, dict)):
        keys = list(x) if isinstance(x, dict) else range(len(x))
        kids = [_flatten(x[k], leaves) for k in keys]
        cls, structure = type(x), (type(x), tuple(keys), tuple(k for k, _ in kids))
        if isinstance(x, dict):
            return structure, lambda it: cls((k, r(it)) for k, (_, r) in zip(keys, kids))
        if hasattr(x, "_fields"):  # a namedtuple
            return structure, lambda it: cls(*[r(it) for _, r in kids])
        return structure, lambda it: cls(r(it) for _, r in kids)
    if Reach([x]).tracers:
        raise TracerConversionError(
            f"an argument in args is a {type(x).__name__} holding traced values: pass the "
            "numbers and arrays in tuples, lists or dicts")
    return ("static", _hashable(x)), lambda it: x  # SciPy passes it through unchanged


def _problem(kind, func, args, options, make):
    """The cached _Problem of this call (one node class and one compiled VJP
    per dynamics function, option set and structure of args), and the leaves
    of args."""
    leaves = []
    structure, rebuild = _flatten(tuple(args), leaves)
    key = (kind, func, tuple(sorted((k, _hashable(v)) for k, v in options.items())), structure)
    problem = _PROBLEMS.get(key)
    if problem is None:
        problem = _PROBLEMS[key] = _Problem(kind, *make(), rebuild, len(leaves))
    return problem, leaves


def _check_closure(name, func):
    """func must not read traced values from its closure or globals: the
    node sees only its arguments, so their gradient would be lost."""
    reach = Reach([func])
    if reach.tracers:
        where = reach.path(reach.tracers[0])
        raise TracerConversionError(
            f"{name}: the dynamics function reads a traced value ({where}), whose gradient "
            f"{name} cannot follow; pass it through args (`{name}(..., args=(k,))` with "
            "the function taking it as an extra argument)")


def _traced(*values):
    return library.has_tracer(list(values))


def _array(x):
    """x as a traced array if it holds traced values (lists of them too)."""
    return as_tracer(trace_of([x]), x) if _traced(x) else _floats(x)


def _plain(x):
    return x.value if isinstance(x, Tracer) else x


def odeint(func: Callable[..., Any], y0: Any, t: Any, args: Any = (),
           Dfun: Callable[..., Any] | None = None, col_deriv: int = 0, full_output: int = 0,
           ml: int | None = None, mu: int | None = None, rtol: Any = None, atol: Any = None,
           tcrit: Any = None, h0: float = 0.0, hmax: float = 0.0, hmin: float = 0.0,
           ixpr: int = 0, mxstep: int = 0, mxhnil: int = 0, mxordn: int = 12, mxords: int = 5,
           printmessg: int = 0, tfirst: bool = False) -> Any:
    """`scipy.integrate.odeint` (same signature), differentiable in y0, t and
    args by the adjoint method (see the module doc).

    Returns the array of shape (len(t), len(y0)) (and SciPy's info dict
    with `full_output`), traced when y0, t or args are.

    >>> import numpy as np, zygote_sym as zs
    >>> ts = np.array([0.0, 0.5])
    >>> g, = zs.gradient(lambda y0: odeint(lambda y, t: -2 * y, y0, ts)[1, 0], 3.0)
    >>> print(round(g, 6), round(np.exp(-1.0), 6))  # d/dy0 of y0 exp(-2 t) at t = 0.5
    0.367879 0.367879
    """
    options = dict(Dfun=Dfun, col_deriv=col_deriv, ml=ml, mu=mu, rtol=rtol, atol=atol,
                   tcrit=tcrit, h0=h0, hmax=hmax, hmin=hmin, ixpr=ixpr, mxstep=mxstep,
                   mxhnil=mxhnil, mxordn=mxordn, mxords=mxords, printmessg=printmessg)
    if not tracing() or not _traced(y0, t, args) and not Reach([func]).tracers:
        return si.odeint(func, y0, t, args, full_output=full_output, tfirst=tfirst, **options)
    _check_closure("odeint", func)
    if not isinstance(args, tuple):
        args = (args,)  # as SciPy's odeint

    def make():
        fn = (lambda y, t, *a: func(t, y, *a)) if tfirst else func
        adjoint = _adjoint_options(options, _ODEINT_ADJOINT)

        def solve(y0, times, args):
            ys, info = si.odeint(func, y0, times, args, full_output=True, tfirst=tfirst,
                                 **options)
            return ys, info

        def step(aug, state, t_from, t_to):
            return si.odeint(aug, state, [t_from, t_to], tfirst=True, **adjoint)[1]
        return fn, solve, step

    problem, flat = _problem("odeint", func, args, {**options, "tfirst": tfirst}, make)
    y0, t = _array(y0), _array(t)
    ys = problem.node(y0, t, *flat)
    if full_output:
        return ys, problem.solution(_plain(y0), _plain(t), [_plain(v) for v in flat])[1]
    return ys


def solve_ivp(fun: Callable[..., Any], t_span: Sequence[Any], y0: Any, method: Any = "RK45",
              t_eval: Any = None, dense_output: bool = False, events: Any = None,
              vectorized: bool = False, args: Any = None, **options: Any) -> Any:
    """`scipy.integrate.solve_ivp` (same signature), differentiable in y0,
    t_span, t_eval and args by the adjoint method (see the module doc).

    Returns SciPy's OdeResult; while traced its `y` (shape (len(y0),
    len(t))) and `t` are traced, `sol`, `t_events`, `y_events` are None.

    >>> import numpy as np, zygote_sym as zs
    >>> end = lambda k: solve_ivp(lambda t, y, k: -k * y, (0, 1), [1.0], args=(k,),
    ...                           rtol=1e-10, atol=1e-12).y[0, -1]
    >>> print(round(zs.gradient(end, 0.5)[0], 7), round(-np.exp(-0.5), 7))
    -0.6065307 -0.6065307
    """
    def plain_solve(t_span, y0, t_eval, args):
        return si.solve_ivp(fun, t_span, y0, method, t_eval, dense_output, events, vectorized,
                            args, **options)
    if not tracing() or not _traced(t_span, y0, t_eval, args) and not Reach([fun]).tracers:
        return plain_solve(t_span, y0, t_eval, args)
    _check_closure("solve_ivp", fun)
    if events is not None or dense_output:
        raise NoRuleError("solve_ivp: events and dense_output have no gradient rule here; "
                          "ask for the solution at t_eval instead")
    args = () if args is None else tuple(args) if isinstance(args, (tuple, list)) else (args,)
    t0, t1 = t_span

    def make():
        adjoint = _adjoint_options(options, _IVP_ADJOINT)

        def solve(y0, times, args):
            sol = plain_solve((times[0], times[-1]), y0, times, args)
            if not sol.success:
                raise RuntimeError(f"solve_ivp failed: {sol.message}")
            return sol.y.T, sol

        def step(aug, state, t_from, t_to):
            sol = si.solve_ivp(aug, (t_from, t_to), state, method, **adjoint)
            if not sol.success:
                raise RuntimeError(f"solve_ivp's adjoint (backward) solve failed: {sol.message}")
            return sol.y[:, -1]
        return (lambda y, t, *a: fun(t, y, *a)), solve, step

    problem, flat = _problem("solve_ivp", fun, args,
                             {**options, "method": method, "vectorized": vectorized}, make)
    if t_eval is None:  # the solver's own steps, constants but for the end points
        steps = plain_solve((_plain(t0), _plain(t1)), _floats(_plain_tree(y0)), None,
                            tuple(_plain_tree(args)) or None).t
        times, first = _array([t0, *steps[1:-1], t1]), 0
    else:
        times, first = _array([t0, *(t_eval if _traced(t_eval) else _floats(t_eval))]), 1
    y0 = _array(y0)
    ys = problem.node(y0, times, *flat)
    sol = problem.solution(_plain(y0), _plain(times), [_plain(v) for v in flat])[1]
    out = type(sol)(sol)
    out.update(t=times[first:], y=ys[first:].T, sol=None, t_events=None, y_events=None)
    return out


def _plain_tree(x):
    """x with the values of its tracers (lists and tuples walked)."""
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_tree(v) for v in x)
    return _plain(x)


library.register(si.odeint, odeint)
library.register(si.solve_ivp, solve_ivp)
