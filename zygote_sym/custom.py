"""Custom derivative rules: `custom_vjp` and `custom_jvp` (JAX's spellings).

A function decorated with one of them is one node of the trace, named after
it, so closed forms and LaTeX show it by name (`quad_area(a)`), and
generated kernels call it as plain Python (it may call `scipy.integrate.quad`,
an ODE solver or C code).  Its pullback is the rule you give:

- `custom_vjp`: `f.defvjp(fwd, bwd)`, `fwd(*xs) -> (y, residuals)`,
  `bwd(residuals, ct) -> (cotangent per argument)`;
- `custom_jvp`: `f.defjvp(jvp)`, `jvp(primals, tangents) -> (y, tangent)`;
  its pullback is the transpose of the tangent map, which is linear in the
  tangents: one backward pass over the traced `jvp`.

The rule is traced into the gradient DAG on symbolic tracers, so it is
recomputed by compiled kernels at every call and can itself be
differentiated (nesting, Hessians).  A `bwd` that cannot be traced (it
converts to float, calls SciPy, branches on values) becomes an opaque node
that kernels call as plain Python; differentiating that again raises
NoRuleError naming the function.

Each decorated function registers its node classes in the rule registry
(ad/rules), the name table (codegen/names.py) and the kernel namespace
(codegen/runtime.py): the documented way to extend them from outside.
"""
import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from . import pytree
from .ad.backward import vjp
from .ad.rules import VJPS
from .codegen import names, runtime
from .errors import NoRuleError, SymbolicBranchError, TracerConversionError
from .ir import build
from .ir.nodes import Leaf, substitute
from .trace.dispatch import DISPATCH
from .trace.tracer import Trace, Tracer, newest

_ids = itertools.count()
_UNTRACEABLE = (TracerConversionError, NoRuleError, SymbolicBranchError, TypeError, ValueError)


class RuleError(TypeError):
    """A custom rule that breaks its contract (the user's to fix, so never a
    reason to fall back to running the rule as opaque Python)."""


def _node_class(name, shape, runtime_fn, rule):
    """A SymPy function class for one custom function and output shape: its
    kernel name, shape and pullback registered in their tables."""
    kernel_name = f"_custom{next(_ids)}"
    cls = type(name, (sp.Function,), {
        "shape_rule": lambda self, *_: shape, "is_real": True, "custom_name": name})
    runtime.NAMESPACE[kernel_name] = runtime_fn
    names.MATH[cls] = names.NUMPY[cls] = kernel_name
    VJPS[cls] = rule
    return cls


def _plain_call(fn, values):
    """fn on plain values, its result as a float or float array."""
    out = fn(*values)
    if isinstance(out, (tuple, list, dict)):
        raise NotImplementedError("a custom_vjp/custom_jvp function returns one array or "
                                  "number; return a stacked array for several outputs")
    return np.asarray(out, dtype=float) if np.ndim(out) else float(out)


def _symbolic(shapes):
    """A fresh trace and symbolic tracers of these shapes (values unknown):
    what a rule is traced on, once per node, at backward-pass time."""
    trace = Trace(DISPATCH)
    leaves = [Leaf(f"_s{i}", shape) for i, shape in enumerate(shapes)]
    return trace, leaves, [trace.new(leaf, None) for leaf in leaves]


class _Custom:
    """What custom_vjp and custom_jvp share: calling f on tracers builds its node."""

    __name__: str  # f's, copied by functools.update_wrapper

    def __init__(self, f: Callable[..., Any]) -> None:
        functools.update_wrapper(self, f)
        self.f = f
        self._classes: dict[tuple, type] = {}

    def __call__(self, *args: Any) -> Any:
        trace = newest(args)
        if trace is None:  # not being differentiated: plain Python
            return self.f(*args)
        values = [x.value if isinstance(x, Tracer) else x for x in args]
        shapes = tuple(np.shape(x) for x in args)
        # on symbolic tracers (a rule being traced) the value is unknown and
        # the output takes the broadcast shape of the arguments
        value = None if any(v is None for v in values) else _plain_call(self.f, values)
        out_shape = np.broadcast_shapes(*shapes) if value is None else np.shape(value)
        key = (out_shape, shapes)
        if key not in self._classes:
            self._classes[key] = _node_class(self.__name__, out_shape,
                                             lambda *xs: _plain_call(self.f, xs), self._rule)
        node = build.call(self._classes[key], *[trace.lift(x) for x in args])
        return trace.new(node, value)

    def _rule(self, ctx, y, ct):
        self._check()
        shapes = [ctx.shapes(a) for a in y.args]
        try:
            return self._traced_pullback(ctx, y, ct, shapes)
        except RuleError:
            raise
        except _UNTRACEABLE:
            return [build.call(self._opaque(i, shapes, ctx.shapes(y)), ct, *y.args)
                    for i in range(len(y.args))]

    def _opaque(self, i, shapes, out_shape):
        """The node of the i-th cotangent computed by plain Python."""
        key = ("bwd", i, tuple(shapes), out_shape)
        if key not in self._classes:
            def refuse(ctx, y, ct):
                raise NoRuleError(
                    f"the pullback of {self.__name__} runs as plain Python (its rule converts "
                    "values to numbers or branches on them), so it cannot be differentiated "
                    "again: write the rule with NumPy functions on its arguments")
            self._classes[key] = _node_class(f"{self.__name__}_pullback{i}", shapes[i],
                                             lambda ct, *xs: self._plain_cotangents(ct, xs)[i],
                                             refuse)
        return self._classes[key]


class custom_vjp(_Custom):
    """A function with a reverse-mode rule of your own (as `jax.custom_vjp`).

    >>> import numpy as np, zygote_sym as zs
    >>> @zs.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, ct: (np.clip(ct, -1, 1),))
    >>> zs.gradient(lambda x: 5 * clip_gradient(x), 2.0)
    (1.0,)
    """

    fwd: Callable[..., tuple[Any, Any]] | None = None
    bwd: Callable[[Any, Any], Any] | None = None

    def defvjp(self, fwd: Callable[..., tuple[Any, Any]], bwd: Callable[[Any, Any], Any]) -> None:
        """fwd(*xs) -> (y, residuals); bwd(residuals, ct) -> one cotangent per x."""
        self.fwd, self.bwd = fwd, bwd

    def _check(self):
        if self.bwd is None:
            raise NoRuleError(f"{self.__name__} is a custom_vjp without a rule: call "
                              f"{self.__name__}.defvjp(fwd, bwd)")

    def _cotangents(self, res, ct, n):
        """bwd's answer, checked: a tuple or list of one cotangent per argument."""
        cts = self.bwd(res, ct)
        if not isinstance(cts, (tuple, list)) or len(cts) != n:
            got = f"{len(cts)} cotangents" if isinstance(cts, (tuple, list)) else \
                "one value, not a tuple,"
            raise RuleError(f"{self.__name__}'s bwd returned {got} for {n} argument(s): "
                            "return a tuple with one cotangent per argument, e.g. (g,)")
        return cts

    def _plain_cotangents(self, ct, xs):
        _, res = self.fwd(*xs)
        return [np.asarray(c, dtype=float) if np.ndim(c) else float(c)
                for c in self._cotangents(res, ct, len(xs))]

    def _traced_pullback(self, ctx, y, ct, shapes):
        trace, leaves, tracers = _symbolic(shapes + [ctx.shapes(y)])
        _, res = self.fwd(*tracers[:-1])
        cts = self._cotangents(res, tracers[-1], len(shapes))
        exprs = [None if c is None else build.broadcast_to(trace.lift(c), s, trace.shapes)
                 for c, s in zip(cts, shapes)]
        return _substituted(exprs, leaves, [*y.args, ct])


class custom_jvp(_Custom):
    """A function with a forward-mode rule of your own (as `jax.custom_jvp`);
    reverse mode transposes it.

    >>> import numpy as np, zygote_sym as zs
    >>> @zs.custom_jvp
    ... def log1pexp(x):
    ...     return np.log1p(np.exp(x))
    >>> log1pexp.defjvp(lambda p, t: (log1pexp(p[0]), t[0] / (1 + np.exp(-p[0]))))
    >>> zs.gradient(log1pexp, 100.0)
    (1.0,)
    """

    jvp_rule: Callable[[tuple, tuple], tuple[Any, Any]] | None = None

    def defjvp(self, jvp_rule: Callable[[tuple, tuple], tuple[Any, Any]]) -> None:
        """jvp_rule(primals, tangents) -> (y, tangent of y), linear in the tangents."""
        self.jvp_rule = jvp_rule

    def _check(self):
        if self.jvp_rule is None:
            raise NoRuleError(f"{self.__name__} is a custom_jvp without a rule: call "
                              f"{self.__name__}.defjvp(jvp)")

    def _traced_pullback(self, ctx, y, ct, shapes):
        n = len(shapes)
        trace, leaves, tracers = _symbolic(shapes + shapes)
        _, tangent = self.jvp_rule(tuple(tracers[:n]), tuple(tracers[n:]))
        tangent = build.broadcast_to(trace.lift(tangent), ctx.shapes(y), trace.shapes)
        seed = Leaf("_ct", ctx.shapes(y), role="ct")
        exprs = vjp([tangent], [seed], leaves[n:], trace.shapes)  # the transpose in t
        return _substituted(exprs, leaves[:n] + [seed], [*y.args, ct])

    def _plain_cotangents(self, ct, xs):
        raise NoRuleError(f"the tangent rule of {self.__name__} could not be traced on "
                          "symbolic values, so it cannot be transposed: write it with NumPy "
                          "functions, or use custom_vjp")


def _substituted(exprs, leaves, nodes):
    """`exprs` with the rule's symbolic leaves replaced by the real nodes."""
    present = [e for e in exprs if e is not None]
    done = iter(substitute(present, dict(zip(leaves, nodes))))
    return [None if e is None else next(done) for e in exprs]


def hook(f: Callable[[Any], Any], x: Any) -> Any:
    """x, whose cotangent is `f(cotangent)` in the backward pass (Zygote's
    `hook`), e.g. `hook(g -> np.clip(g, -1, 1), x)` clips a gradient.

    >>> import zygote_sym as zs
    >>> zs.gradient(lambda x: 3 * hook(lambda g: 2 * g, x), 1.0)
    (6.0,)
    """
    rule = _HOOKS.get(f)
    if rule is None:
        rule = _HOOKS[f] = custom_vjp(lambda v: v)
        rule.__name__ = "hook"
        rule.defvjp(lambda v: (v, None), lambda _, ct: (f(ct),))
    flat: list[tuple[str, Any]] = []
    tree = pytree.flatten(x, "x", flat)
    return pytree.rebuild(tree, iter(rule(v) for _, v in flat))


_HOOKS: dict[Callable[[Any], Any], custom_vjp] = {}
