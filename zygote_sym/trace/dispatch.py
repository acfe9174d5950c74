"""ONE registry of what NumPy and Python calls do on tracers.

`Tracer.__array_ufunc__`, `__array_function__`, its operators and its
`[]` all come here (the Trace hands its tracers this registry).  The tables
live with their handlers, one module per family (handlers/); this module
merges them: UFUNCS (elementwise builders), HANDLERS (NumPy functions,
`operator.getitem`/`setitem`) and REDUCERS (`ufunc.reduce`).  Anything
missing raises a NoRuleError naming the public function.
"""
from .handlers.common import no_rule, public_name
from .handlers import (elementwise, indexing, linalg, numeric, products, reductions, selects,
                       shapes, signal, special)

UFUNCS = {**elementwise.UFUNCS, **special.UFUNCS}
HANDLERS = {**reductions.HANDLERS, **shapes.HANDLERS, **indexing.HANDLERS, **selects.HANDLERS,
            **products.HANDLERS, **linalg.HANDLERS, **signal.HANDLERS,
            **numeric.HANDLERS}
REDUCERS = reductions.REDUCERS

class Dispatch:
    """The registry a Trace hands its tracers."""

    def operator(self, trace, ufunc, pyop, operands):
        """A Python operator (`+`, `<`, `abs`): the ufunc's node, pyop's value."""
        return elementwise.call(trace, ufunc, operands, pyop, UFUNCS[ufunc])

    def ufunc(self, trace, ufunc, method, inputs, kwargs):
        if method == "reduce" and ufunc in REDUCERS:
            return REDUCERS[ufunc](*inputs, **kwargs)
        if method == "__call__" and ufunc in HANDLERS:  # structural ufuncs (np.matmul)
            return HANDLERS[ufunc](*inputs, **kwargs)
        if method != "__call__" or ufunc not in UFUNCS or kwargs.get("out") is not None:
            what = public_name(ufunc) + ("" if method == "__call__" else "." + method)
            if kwargs.get("out") is not None:
                what += " with out="
            raise no_rule(what)
        return elementwise.call(trace, ufunc, inputs, builder=UFUNCS[ufunc])

    def function(self, func, args, kwargs):
        handler = HANDLERS.get(func)
        if handler is None:
            raise no_rule(public_name(func))
        return handler(*args, **kwargs)


DISPATCH = Dispatch()
