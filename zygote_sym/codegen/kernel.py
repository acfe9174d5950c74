"""A compiled evaluator for nodes of one trace: backend choice, fallback, stages.

The backend follows the inputs: Fractions (with ints) give the "exact"
kernel, all-scalar traces give a `math` kernel (about a microsecond a call)
that falls back to the NumPy kernel when Python raises where NumPy returns
inf/nan (`1/0.0`, `math.log(0)`, overflow), and anything with arrays gives a
NumPy kernel.  The passes run in this order: rewrite_dots (NumPy only),
fold_constants, then the plan (temporaries, regions) and emission.
"""
from fractions import Fraction

import numpy as np

from ..ir.nodes import Shapes, postorder
from ..ir.ops import ArrayOp, Where
from ..ir.printer import let_bound
from .emit import compile_source, generate
from .passes import rewrite_dots


def choose_backend(values, nodes):
    if any(isinstance(v, Fraction) for v in values) and all(
            isinstance(v, (Fraction, int)) and not isinstance(v, bool) for v in values):
        return "exact"
    scalar = all(np.ndim(v) == 0 for v in values) and not any(
        isinstance(n, ArrayOp) and not isinstance(n, Where) for n in postorder(nodes))
    return "math" if scalar else "numpy"


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "iu")


class Kernel:
    """`Kernel(nodes, inputs, values)(*input_values)` -> tuple of node values.

    inputs: Leaf symbols in call order; values: example values of those
    inputs (they choose the backend and which inputs are cast to float).
    `.source` is the generated Python; `.stages()` shows every pass.
    """

    def __init__(self, nodes, inputs, values, name="kernel", guards=(), backend=None):
        self.backend = backend or choose_backend(values, nodes)
        ints = {leaf for leaf, v in zip(inputs, values) if _is_int(v)}
        self._args = (nodes, inputs, ints, name, guards)
        self.fn, self.plan = self._build(self.backend)
        self._numpy = None

    def _build(self, backend):
        nodes, inputs, ints, name, guards = self._args
        if backend == "numpy":
            nodes = rewrite_dots(nodes, Shapes())
        source, extra, plan = generate(nodes, inputs, backend, int_leaves=ints, guards=guards,
                                       name=name, fuse=True)
        return compile_source(source, name, extra), plan

    @property
    def source(self):
        return self.fn.source

    def stages(self):
        """The kernel pass by pass, as text (like numexpr's `disassemble`): the
        traced DAG, the DAG after rewriting, the plan, the source."""
        nodes, inputs, _, _, _ = self._args
        rewritten = rewrite_dots(nodes, Shapes()) if self.backend == "numpy" else nodes
        plan = self.plan
        return "\n".join([
            "# traced", let_bound(nodes, inputs),
            f"# after rewrite_dots{' (NumPy kernels only)' if self.backend != 'numpy' else ''}",
            let_bound(rewritten, inputs),
            f"# plan: {len(plan.temps)} temporaries, {len(plan.region)} numexpr regions, "
            f"{len(plan.cut)} NumPy ufunc chains, {len(plan.buffered)} reused buffers",
            f"# source ({self.backend} backend, after fold_constants)", self.source])

    def numpy_fallback(self):
        if self._numpy is None:
            self._numpy = self._build("numpy")[0]
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
