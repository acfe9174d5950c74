"""ONE registry of what NumPy and Python calls do on tracers.

`Tracer.__array_ufunc__`, `__array_function__`, its operators and its
`[]` all come here (the Trace hands its tracers this registry).  The tables
live with their handlers, one module per family (handlers/); this module
merges them: UFUNCS (elementwise builders), HANDLERS (NumPy functions,
`operator.getitem`/`setitem`) and REDUCERS (`ufunc.reduce`).  Anything
missing raises a NoRuleError naming the public function.
"""
import itertools

import scipy.special as sc

from ..errors import NoRuleError
from .handlers import elementwise, indexing, linalg, products, reductions, selects, shapes

UFUNCS = elementwise.UFUNCS
HANDLERS = {**reductions.HANDLERS, **shapes.HANDLERS, **indexing.HANDLERS, **selects.HANDLERS,
            **products.HANDLERS, **linalg.HANDLERS}
REDUCERS = reductions.REDUCERS

_HOW_TO_ADD = ("docs/adding_rules.md shows how to add one; until then, compute this part "
               "outside the differentiated function or wrap it in zygote_sym.stop_gradient")


def public_name(func):
    """`np.linalg.eigh`, `scipy.special.erf`: the name a user calls it by."""
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None)
    if module is None:  # SciPy's ufuncs do not say where they live
        module = "scipy.special" if getattr(sc, name, None) is func else "numpy"
    parts = itertools.takewhile(lambda p: not p.startswith("_"), module.split("."))
    return ".".join(["np" if p == "numpy" else p for p in parts] + [name])


class Dispatch:
    """The registry a Trace hands its tracers."""

    def operator(self, trace, ufunc, pyop, operands):
        """A Python operator (`+`, `<`, `abs`): the ufunc's node, pyop's value."""
        return elementwise.call(trace, ufunc, operands, pyop)

    def ufunc(self, trace, ufunc, method, inputs, kwargs):
        if method == "reduce" and ufunc in REDUCERS:
            return REDUCERS[ufunc](*inputs, **kwargs)
        if method == "__call__" and ufunc in HANDLERS:  # structural ufuncs (np.matmul)
            return HANDLERS[ufunc](*inputs, **kwargs)
        if method != "__call__" or ufunc not in UFUNCS or kwargs.get("out") is not None:
            what = public_name(ufunc) + ("" if method == "__call__" else "." + method)
            if kwargs.get("out") is not None:
                what += " with out="
            raise NoRuleError(f"zygote_sym has no rule for {what} on traced values: "
                              + _HOW_TO_ADD)
        return elementwise.call(trace, ufunc, inputs)

    def function(self, func, args, kwargs):
        handler = HANDLERS.get(func)
        if handler is None:
            raise NoRuleError(f"zygote_sym has no rule for {public_name(func)} on traced "
                              "values: " + _HOW_TO_ADD)
        return handler(*args, **kwargs)


DISPATCH = Dispatch()
