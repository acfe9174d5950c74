"""A compiled evaluator for nodes of one trace: backend choice, fallback, results.

The backend follows the inputs: Fractions (with ints) give the "exact"
kernel, all-scalar traces give a `math` kernel (about a microsecond a call)
that falls back to the NumPy kernel when Python raises where NumPy returns
inf/nan (`1/0.0`, `math.log(0)`, overflow), and anything with arrays gives a
NumPy kernel.
"""
from fractions import Fraction

import numpy as np

from . import graph as g
from .codegen import reduce
from .codegen.emit import compile_source, generate
from .ops import ArrayOp, Where


def choose_backend(values, nodes):
    if any(isinstance(v, Fraction) for v in values) and all(
            isinstance(v, (Fraction, int)) and not isinstance(v, bool) for v in values):
        return "exact"
    scalar = all(np.ndim(v) == 0 for v in values) and not any(
        isinstance(n, ArrayOp) and not isinstance(n, Where) for n in g.postorder(nodes))
    return "math" if scalar else "numpy"


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "iu")


class Kernel:
    """`Kernel(nodes, inputs, values)(*input_values)` -> tuple of node values.

    inputs: Leaf symbols in call order; values: example values of those
    inputs (they choose the backend and which inputs are cast to float).
    `.source` is the generated Python.
    """

    def __init__(self, nodes, inputs, values, name="kernel", guards=(), backend=None):
        self.backend = backend or choose_backend(values, nodes)
        ints = {leaf for leaf, v in zip(inputs, values) if _is_int(v)}
        self._args = (nodes, inputs, ints, name, guards)
        self.fn = self._build(self.backend)
        self._numpy = None

    def _build(self, backend):
        nodes, inputs, ints, name, guards = self._args
        if backend == "numpy":
            nodes = reduce.rewrite(nodes, g.Shapes())
        source, extra = generate(nodes, inputs, backend, int_leaves=ints, guards=guards,
                                 name=name, fuse=True)
        return compile_source(source, name, extra)

    @property
    def source(self):
        return self.fn.source

    def numpy_fallback(self):
        if self._numpy is None:
            self._numpy = self._build("numpy")
        return self._numpy

    def __call__(self, *values):
        if self.backend != "math":
            return self.fn(*values)
        try:
            return self.fn(*values)
        except (ArithmeticError, ValueError):
            # NumPy scalars, so that 1/0.0 is inf (as NumPy gives), not an error
            return self.numpy_fallback()(*[np.float64(v) if type(v) in (int, float) else v
                                           for v in values])


def as_result(value, example):
    """A kernel result in the form its input had: Fraction in -> Fraction out
    where the result is exact, arrays -> float arrays of the input's shape,
    numbers -> float."""
    if isinstance(example, Fraction) and isinstance(value, (Fraction, int)):
        return Fraction(value)
    if isinstance(example, np.ndarray):
        dtype = complex if np.iscomplexobj(example) or np.iscomplexobj(value) else float
        return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), example.shape))
    if isinstance(value, np.ndarray) and value.ndim:
        return value.astype(float)
    if np.iscomplexobj(value):
        return complex(value)
    return float(value)
