"""A compiled evaluator for nodes of one trace: backend choice, fallback, stages.

The backend follows the inputs: Fractions (with ints) give the "exact"
kernel, all-scalar traces give a `math` kernel (about a microsecond a call)
that falls back to the NumPy kernel when Python raises where NumPy returns
inf/nan (`1/0.0`, `math.log(0)`, overflow), and anything with arrays gives a
NumPy kernel.  The passes run in this order: rewrite_dots (NumPy only),
lower_logistic (NumPy only, in emit.generate), fold_constants, then the
plan (temporaries, regions) and emission.

A kernel is safe to call from any number of threads at once (its buffers
and numexpr objects are per thread, emit.py).  An exception from inside
generated code is never the caller's to decode: a failing numexpr region
is replaced by NumPy code and the call repeated; anything else becomes a
KernelError naming the function, the kernel line and the cause.
"""
import sys
import traceback
from fractions import Fraction

import numpy as np

from ..errors import KernelError
from ..ir.nodes import Shapes, postorder
from ..ir.ops import ArrayOp, Where
from ..ir.printer import let_bound
from .emit import compile_source, generate
from .passes import rewrite_dots

# Errors that are the input's or the caller's, raised as they are: a singular
# matrix (NumPy raises it for f itself), running out of memory or of stack.
_THE_INPUTS = (np.linalg.LinAlgError, MemoryError, RecursionError)


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


def _kind(v):
    """"int", "python" (a Python float or Fraction) or None, for _cast."""
    return "int" if _is_int(v) else "python" if type(v) in (float, Fraction) else None


def _cast(inputs, kinds, backend):
    """The inputs a kernel casts to float on entry: integers (their results are
    floats), and in NumPy kernels Python numbers too, so that they compute
    as NumPy does (`s**-2` at 0.0 is inf, not Python's ZeroDivisionError; an
    overflow is inf, not OverflowError; a Fraction meets np.sinh as a float)."""
    cast = {"math": ("int",), "numpy": ("int", "python")}.get(backend, ())
    return {leaf for leaf, kind in zip(inputs, kinds) if kind in cast}


class Kernel:
    """`Kernel(nodes, inputs, values)(*input_values)` -> tuple of node values.

    inputs: Leaf symbols in call order; values: example values of those
    inputs (they choose the backend and which inputs are cast to float);
    fname: the name of the function the nodes were traced from, for errors.
    `.source` is the generated Python; `.stages()` shows every pass.
    """

    def __init__(self, nodes, inputs, values, name="kernel", guards=(), backend=None,
                 fname=None):
        self.backend = backend or choose_backend(values, nodes)
        self.fname = fname
        self._args = (nodes, inputs, [_kind(v) for v in values], name, guards)
        self.fn, self.plan = self._build(self.backend)
        self._numpy = None

    def _build(self, backend, fuse=True):
        nodes, inputs, kinds, name, guards = self._args
        if backend == "numpy":
            nodes = rewrite_dots(nodes, Shapes())
        source, extra, plan = generate(nodes, inputs, backend, guards=guards, name=name,
                                       int_leaves=_cast(inputs, kinds, backend), fuse=fuse)
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
            f"{len(plan.cut)} NumPy ufunc chains, {len(plan.buffered)} reused buffers, "
            f"{len(plan.accumulate)} sums of scatters added in place",
            f"# source ({self.backend} backend, after fold_constants)", self.source])

    def numpy_fallback(self):
        if self._numpy is None:  # (two threads may both build it: either result is right)
            self._numpy = self._build("numpy")[0]
        return self._numpy

    def __call__(self, *values):
        try:
            return self.fn(*values)
        except _THE_INPUTS:
            raise
        except Exception as e:  # noqa: BLE001 (every other error is ours: see _recover)
            return self._recover(e, values)

    def _recover(self, error, values):
        """After `self.fn` raised `error` on `values`: the math kernel's NumPy
        fallback, or (when a numexpr region raised) the NumPy kernel without
        regions, else a KernelError.  Only the latter replaces `self.fn`:
        numexpr cannot run these inputs, while the math kernel stays the fast
        path (Python raises only at special points)."""
        if self.backend == "math":
            # NumPy scalars, so that 1/0.0 is inf (as NumPy gives), not an error
            fn = self.numpy_fallback()
            values = [np.float64(v) if type(v) in (int, float) else v for v in values]
        elif "= _ne" in _kernel_line(error, self.fn)[1]:
            self.fn, self.plan = self._build(self.backend, fuse=False)
            fn = self.fn
        else:
            raise self._error(error, values, self.fn) from error
        try:
            return fn(*values)
        except _THE_INPUTS:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._error(e, values, fn) from e

    def _error(self, error, values, fn):
        """A KernelError naming the function, the kernel line and the cause."""
        lineno, line = _kernel_line(error, fn)
        where = f" at kernel line {lineno}, `{line}`" if line else ""
        inputs = self._args[1]
        empty = [leaf.name for leaf, v in zip(inputs, values) if np.size(v) == 0]
        hint = (f" (the input {', '.join(empty)} is empty: NumPy or SciPy rejected a size-0 "
                "array that the traced function accepted)" if empty else "")
        fname = self.fname or _differentiated_function() or "the differentiated function"
        return KernelError(
            f"the kernel generated for {fname} raised {type(error).__name__}: {error}{where}"
            f"{hint}.  This is a fault in zygote_sym's code generation, not in {fname}: "
            "please report it with the kernel's source (zs.compile(f).stages() shows every "
            "pass)")


def _differentiated_function():
    """The user's function, for a KernelError when the kernel's maker gave no
    `fname`: the `f` argument (or a compiled function's `self.f`) of the
    nearest zygote_sym frame on the stack.  (Only on the error path.)"""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("zygote_sym."):
            local = frame.f_locals
            f = local.get("f", getattr(local.get("self"), "f", None))
            if callable(f):
                return getattr(f, "__qualname__", None) or repr(f)
        frame = frame.f_back
    return None


def _kernel_line(error, fn):
    """(line number, text) of the generated line `error` was raised in."""
    lines = fn.source.splitlines()
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == fn.__code__.co_filename and frame.lineno <= len(lines):
            return frame.lineno, lines[frame.lineno - 1].strip()
    return 0, ""
