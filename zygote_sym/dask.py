"""Compiled gradients on Dask arrays: the kernel run block by block, for data beyond one machine.

`withgradient(c, *args)` takes a compiled function (`zygote_sym.compile(f)`) and arguments of
which some are Dask arrays.  The top-level Dask arrays are the *data*; every other argument
(numbers, NumPy arrays, pytrees) is a *parameter*, sent whole to every block.  Two cases,
decided by f's value on the first rows of the data:

- **gradient field** (f returns an array: a function written for scalars, evaluated
  elementwise): every argument is broadcast to one Dask array and the compiled kernel runs
  per block (`da.map_blocks`); the value and every gradient come back as Dask arrays with
  the same chunks.  Exact by construction: the compiled function only returns an array for
  an elementwise DAG (compiled.py, `BatchedSpecialization`).
- **a loss summed over the data** (f returns a scalar): the data are split into row blocks
  (axis 0; other axes are rechunked to one block); the kernel runs per block and the value
  and the gradients of the parameters are the sums of the per-block ones, added by a Dask
  tree reduction (`split_every` per node), so memory is bounded by the chunk size.  The
  gradients of data arguments are per-block fields (Dask arrays with the data's chunks).

Summing per-block results is right only when f really is a sum over rows.  Before running
anything, f is traced on the first 2 and the first 3 rows and its output DAG must be

    L = sum_j c_j * Sum(E_j(rows)) + R(parameters)

with every E_j computed row by row from the data (elementwise operations, NumPy `where`,
reductions over axes other than 0, `rows @ parameter`), every c_j independent of the data,
and no Python branch on the data.  Terms that are the same in both traces are sums; a
term whose factor scales as 1/rows is a mean (`np.mean`), weighted by rows/N per block.  A
data-independent part R (a regularizer) is computed once, from f on zero rows, and not
counted once per block.  Everything else raises `ChunkedLossError` naming the cause
(`np.sum(r)**2`, `np.max(r)`, `r[0]`, a normalization by the data, a mean with a
regularizer, ...): a wrong number is never returned.

Results are lazy Dask arrays (`compute=True` computes them together); the first rows of
the data are computed at call time for the check.  Compiled functions travel to workers
(`dask.distributed`) as f and their options and are compiled once per worker process.
"""
import collections
import itertools
import logging
import operator
import sys
import threading
import uuid
import weakref
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import sympy as sp

from . import pytree
from .ir.nodes import Leaf, children, postorder
from .ir.ops import ArrayOp, BroadcastTo, MatMul, Reshape, Where, _Reduce
from .ir.printer import let_bound
from .trace.call import trace_call
from .transform import WithGradient

__all__ = ["withgradient", "gradient", "is_dask", "ChunkedLossError"]

log = logging.getLogger("zygote_sym.dask")

SPLIT_EVERY = 8  # per-block results added per task of the tree reduction (as dask's split_every)


class ChunkedLossError(ValueError):
    """f is not a sum (or mean) over the rows of its Dask data: per-block results cannot be
    added into the right value."""


def is_dask(args: Sequence[Any]) -> bool:
    """Is any top-level argument a Dask array?  Costs nothing when Dask was never imported.

    >>> is_dask((1.0, np.ones(3)))
    False
    """
    da = sys.modules.get("dask.array")
    return da is not None and any(isinstance(a, da.Array) for a in args)


# ------------------------------------------------------------- compiled functions on workers
_REBUILT: "collections.OrderedDict[str, Any]" = collections.OrderedDict()  # token -> Compiled
_REBUILT_LOCK = threading.Lock()
# the most recently used compiled functions a worker process keeps: each holds buffers the
# size of a block for its kernels, so an unbounded cache would grow by them per function
MAX_REBUILT = 4


def _rebuild(cls: type, f: Callable, options: dict, token: str) -> Any:
    """The compiled function `token` names, compiled once in this process (pickle's hook)."""
    with _REBUILT_LOCK:
        c = _REBUILT.get(token)
        if c is None:
            while len(_REBUILT) >= MAX_REBUILT:
                _REBUILT.popitem(last=False)
            c = _REBUILT[token] = cls(f, **options)
            log.debug("compiled %s in this process", token)
        _REBUILT.move_to_end(token)
        return c


class Shipped:
    """A compiled function as it travels to Dask workers.

    In this process it is the compiled object itself; pickled (dask.distributed sends tasks
    with cloudpickle) it is f, `wrt`, `max_specializations` and the backend, rebuilt once per
    worker process and shared by its threads (a compiled function is thread safe).  Its
    specializations, locks and generated code never travel; f must pickle (cloudpickle
    takes lambdas and closures).
    """

    def __init__(self, compiled: Any):
        self.compiled = compiled
        self.token = f"zs-{uuid.uuid4().hex}"
        self.options = {"wrt": compiled.wrt, "max_specializations":
                        compiled.max_specializations, "backend": compiled.mode}

    def __reduce__(self):
        return _shipped, (type(self.compiled), self.compiled.f, self.options, self.token)

    def __dask_tokenize__(self):
        return self.token

    def __call__(self, *args, with_value=True):
        return self.compiled.withgradient(*args, with_value=with_value)


def _shipped(cls, f, options, token):
    s = Shipped.__new__(Shipped)
    s.compiled, s.token, s.options = _rebuild(cls, f, options, token), token, options
    return s


_SHIPPED: "weakref.WeakKeyDictionary[Any, Shipped]" = weakref.WeakKeyDictionary()


def _ship(compiled) -> Shipped:
    """One Shipped per compiled function (one token: workers compile it once)."""
    with _REBUILT_LOCK:
        s = _SHIPPED.get(compiled)
        if s is None:
            s = _SHIPPED[compiled] = Shipped(compiled)
        return s


# ------------------------------------------------------------------------- gradient fields
def _field_block(shipped, nout, with_value, *blocks):
    """One block of a gradient field: value and gradients stacked on a new axis 0."""
    val, grads = shipped(*blocks, with_value=with_value)
    outs = ([val] if with_value else []) + [g for g in grads if g is not None]
    out = np.empty((nout,) + blocks[0].shape)
    for k, o in enumerate(outs):
        out[k] = o
    return out


def _is_field(f, first):
    """Does f, traced on the first row of the data, return an array (a gradient field)?  A
    Python branch on an array also means a function of scalars (compiled.py evaluates it per
    element, or refuses it on every block)."""
    try:
        traced = trace_call(f, first)
    except ValueError as e:
        if "ambiguous" in str(e):
            return True
        raise
    return len(traced.out_exprs) == 1 and traced.shapes(traced.out_exprs[0]) != ()


def _field(da, compiled, args, with_value):
    arrays = [a if isinstance(a, da.Array) else da.asarray(a) for a in args]
    try:
        arrays = da.broadcast_arrays(*arrays)
    except ValueError as e:
        raise ValueError(f"f returns an array, so it is evaluated as a gradient field, point by "
                         f"point, but its arguments of shapes {[a.shape for a in arrays]} do not "
                         f"broadcast together ({e}); for a loss, return a number (np.sum)") from e
    arrays = [a.astype(float) for a in arrays]
    one = [np.asarray(a[(slice(0, 1),) * a.ndim].compute()) for a in arrays]
    _, sample_grads = compiled.withgradient(*one, with_value=False)
    present = [g is not None for g in sample_grads]
    nout = with_value + sum(present)
    stacked = da.map_blocks(_field_block, _ship(compiled), nout, with_value, *arrays,
                            new_axis=0, chunks=((nout,),) + arrays[0].chunks, dtype=float,
                            meta=np.empty((0,) * (arrays[0].ndim + 1)))
    it = iter(range(nout))
    val = stacked[next(it)] if with_value else None
    return val, tuple(stacked[next(it)] if p else None for p in present)


# --------------------------------------------------------------- the structure of a sum loss
def _data_leaves(traced, data_pos):
    """The leaves of the data arguments (top-level arrays: one leaf each)."""
    leaves, start = set(), 0
    for i, tree in enumerate(traced.arg_trees):
        n = pytree.count_leaves(tree)
        if i in data_pos:
            leaves.update(traced.leaves[start:start + n])
        start += n
    return leaves


def _depends(roots, data):
    """The nodes under `roots` that depend on a data leaf."""
    dep = set()
    for n in postorder(roots):
        if n in data or any(c in dep for c in children(n)):
            dep.add(n)
    return dep


def _row_wise(node, dep, shapes, rows):
    """Why `node` (data-dependent, under a full sum) is not computed row by row, or None."""
    if isinstance(node, ArrayOp) and not isinstance(node, (Where, BroadcastTo)):
        ops = node.operands
        if isinstance(node, _Reduce) and 0 not in node.params[0]:
            pass
        elif isinstance(node, MatMul) and ops[1] not in dep and len(shapes(ops[0])) == 2:
            pass  # rows @ parameter: row i of the product is row i of the data times it
        elif isinstance(node, Reshape) and shapes(ops[0])[:1] == (rows,):
            pass  # (C order: keeping axis 0 keeps every row's elements in that row)
        else:
            return f"{type(node).__name__} mixes the rows of the data ({_text(node)})"
    shape = shapes(node)
    if not shape or shape[0] != rows:
        return f"{node!s:.60} is not indexed by the data's rows (shape {shape})"
    return None


def _frontier(node, dep, shapes, rows):
    """The row-wise operand of a full sum over rows, or the reason it is not one (`r @ r`
    traces as a reshaped matrix product: refused, `np.sum(r**2)` is the sum)."""
    if isinstance(node, _Reduce) and type(node).__name__ == "Sum":
        x = node.operands[0]
        if set(node.params[0]) == set(range(len(shapes(x)))):
            return [x], None
    return None, (f"f's output is {type(node).__name__} of the data ({_text(node)}), not a sum "
                  "over rows: only sums and means of row-wise terms can be added block by block")


def _text(node):
    """A node's let-bound form on one line, shortened."""
    return " ".join(let_bound([node], limit=4).split())


def _canon(roots, dep, rows):
    """The let-bound text of `roots` with the row count in the shapes of data-dependent
    nodes written `rows`, so traces on 2 and on 3 rows compare equal where f does not
    depend on the row count (numbers, including 1/rows, stay as they are)."""
    names, lines = {}, []
    for n in postorder(roots):
        if not children(n):
            continue
        ops = ", ".join(names.get(c) or str(c) for c in children(n))
        params = [("rows",) + p[1:] if n in dep and isinstance(p, tuple) and p[:1] == (rows,)
                  else p for p in getattr(n, "params", ())]
        names[n] = f"t{len(lines)}"
        lines.append(f"{names[n]} = {type(n).__name__}({ops}; {params})")
    return "; ".join(lines) + " -> " + ", ".join(names.get(r) or str(r) for r in roots)


def _terms(node):
    if isinstance(node, sp.Add):
        return [t for a in node.args for t in _terms(a)]
    return [node]


def _structure(traced, data, rows):
    """[(kind, coefficient, text)] per term of f's output: kind "R" (no data) or "D" (c*Sum(E)
    with E row-wise); raises ChunkedLossError naming what is neither."""
    out, shapes = traced.out_exprs[0], traced.shapes
    dep = _depends([out] + [g.expr for g in traced.guards], data)
    branch = [g for g in traced.guards if g.expr in dep]
    if branch:
        raise ChunkedLossError(f"f branches on the data ({branch[0]}): each block could take "
                               "another branch; write the branch with np.where")
    terms = []
    for term in _terms(out):
        if term not in dep:
            terms.append(("R", 1.0, _canon([term], dep, rows)))
            continue
        factors = term.args if isinstance(term, sp.Mul) else (term,)
        number = float(np.prod([float(a) for a in factors if a.is_Number]))
        inner = [a for a in factors if a in dep]
        if len(inner) != 1:
            raise ChunkedLossError(f"the term {term!s:.80} multiplies {len(inner)} sums over the "
                                   "data, so it is not a sum over rows")
        operands, why = _frontier(inner[0], dep, shapes, rows)
        for n in postorder(operands) if why is None else ():
            if n in dep and not isinstance(n, Leaf):
                why = _row_wise(n, dep, shapes, rows)
                if why:
                    break
        if why:
            raise ChunkedLossError(why)
        rest = [a for a in factors if not a.is_Number]
        terms.append(("D", number, _canon(rest, dep, rows)))
    return terms


def _weights(t1, t2, m1, m2):
    """'sum' or 'mean' from the terms traced on m1 and on m2 rows, or ChunkedLossError."""
    if [(k, s) for k, _, s in t1] != [(k, s) for k, _, s in t2]:
        raise ChunkedLossError("f's operations change with the number of rows (traced on "
                               f"{m1} and on {m2} rows): a sum over blocks would not be f")
    kinds = set()
    for (kind, c1, _), (_, c2, _) in zip(t1, t2):
        if kind == "R" or np.isclose(c1, c2, rtol=1e-13, atol=0):
            kinds.add("sum" if kind == "D" else "R")
        elif np.isclose(c1 * m1, c2 * m2, rtol=1e-13, atol=0):
            kinds.add("mean")
        else:
            raise ChunkedLossError(f"a term of f is scaled by a factor that depends on the "
                                   f"number of rows in another way than 1/rows ({c1} on {m1} "
                                   f"rows, {c2} on {m2})")
    if {"sum", "mean"} <= kinds:
        raise ChunkedLossError("f adds a sum and a mean over the data: compute it as one sum "
                               "(divide by the number of rows yourself)")
    if "mean" in kinds and "R" in kinds:
        raise ChunkedLossError("f adds a data-independent term (a regularizer) to a mean over "
                               "the data: add it outside (c.gradient(...) + zs.gradient(reg, "
                               "theta)) or write the loss as a sum")
    return "mean" if "mean" in kinds else "sum", "R" in kinds


# ------------------------------------------------------------------------- summed losses
def _block(shipped, weight, params, data_pos, with_value, *blocks):
    """f on one block: weight * (value, parameter gradients), and the data gradients."""
    args, it = list(params), iter(blocks)
    for i in data_pos:
        args[i] = next(it)
    val, grads = shipped(*args, with_value=with_value)
    scale = (lambda g: None if g is None else _scaled(g, weight))
    own = [scale(g) for i, g in enumerate(grads) if i not in data_pos]
    data_grads = [scale(grads[i]) for i in data_pos]
    return (None if val is None else weight * val), own, data_grads


def _scaled(g, w):
    if isinstance(g, (tuple, list)):
        return type(g)(_scaled(v, w) for v in g)
    if isinstance(g, dict):
        return {k: _scaled(v, w) for k, v in g.items()}
    return g if w == 1 else w * np.asarray(g) if np.ndim(g) else w * g


def _add(a, b):
    """The sum of two per-block results (numbers, arrays, their tuples/lists/dicts)."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, (tuple, list)):
        return type(a)(map(_add, a, b))
    if isinstance(a, dict):
        return {k: _add(a[k], b[k]) for k in a}
    return a + b


def _add_all(*parts):
    total = parts[0]
    for p in parts[1:]:
        total = _add(total, p)
    return total


def _tree_sum(delayed, parts, split_every=SPLIT_EVERY):
    """Dask's tree reduction: `split_every` partial results per task, log depth."""
    while len(parts) > 1:
        parts = [delayed(_add_all, pure=True)(*parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _rows(da, data):
    """Data chunked along axis 0 only, on the first argument's row blocks."""
    n = data[0].shape[0] if data[0].ndim else None
    for a in data:
        if a.ndim == 0 or a.shape[0] != n:
            raise ValueError(f"the Dask arguments must share their first axis (the rows): got "
                             f"shapes {[a.shape for a in data]}")
    rows = data[0].chunks[0]
    return [a.rechunk({0: rows, **{k: -1 for k in range(1, a.ndim)}}) for a in data], rows


def _summed(da, delayed, compiled, args, data_pos, at, with_value):
    """f summed over row blocks; `at(m)`: the arguments with the first m rows of the data."""
    data, chunks = _rows(da, [args[i] for i in data_pos])
    n = sum(chunks)
    if n < 3:  # too few rows to check f's structure: one block
        data, chunks = [d.rechunk({0: -1}) for d in data], (n,)
    params = [None if i in data_pos else a for i, a in enumerate(args)]
    if len(chunks) == 1:  # one block: f itself, nothing to add
        kind, reg = "sum", False
    else:
        try:
            traces = [trace_call(compiled.f, at(m)) for m in (2, 3)]
        except ValueError as e:
            raise ValueError(f"{e} (f traced on the first rows of its Dask data: an array with "
                             "one entry per row must be a Dask argument too, chunked like the "
                             "data)") from e
        structures = [_structure(t, _data_leaves(t, data_pos), m)
                      for t, m in zip(traces, (2, 3))]
        kind, reg = _weights(*structures, 2, 3)
    _, sample_grads = compiled.withgradient(*at(1), with_value=False)
    shipped, pos = _ship(compiled), tuple(data_pos)
    params = delayed(params, pure=True)  # (one key: large parameters are not copied per task)
    blocks = [d.to_delayed().reshape(len(chunks), -1)[:, 0] for d in data]
    parts = [delayed(_block, nout=3, pure=True)(
        shipped, (m / n if kind == "mean" else 1.0), params, pos, with_value,
        *[b[k] for b in blocks]) for k, m in enumerate(chunks)]
    if reg:  # R(params) counted once: f on zero rows is R (each Sum over no rows is 0)
        empty = [np.zeros((0,) + d.shape[1:]) for d in data]
        parts.append(delayed(_block, nout=3, pure=True)(
            shipped, 1.0 - len(chunks), params, pos, with_value, *empty))
    val = da.from_delayed(_tree_sum(delayed, [p[0] for p in parts]), (), float) \
        if with_value else None
    own = _tree_sum(delayed, [p[1] for p in parts])
    own_iter = (delayed(operator.getitem, pure=True)(own, k) for k in itertools.count())
    grads: List[Any] = []
    for i, g in enumerate(sample_grads):
        if i in data_pos:
            d = data[data_pos.index(i)]
            grads.append(None if g is None else da.concatenate([
                da.from_delayed(delayed(operator.getitem, pure=True)(p[2], data_pos.index(i)),
                                (m,) + d.shape[1:], float) for p, m in zip(parts, chunks)]))
            continue
        part = next(own_iter)
        if g is None:
            grads.append(None)
        elif isinstance(g, (float, np.ndarray)):
            grads.append(da.from_delayed(part, np.shape(g), float))
        else:  # a pytree parameter: its summed gradient as one Delayed
            grads.append(part)
    return val, tuple(grads)


def withgradient(compiled: Any, *args: Any, with_value: bool = True,
                 compute: bool = False) -> WithGradient:
    """(value, gradients) of a compiled function called with Dask arrays, run block by block.

    compiled: `zygote_sym.compile(f)`.  args: as for `compiled.withgradient`; the top-level
    Dask arrays are the data, every other argument a parameter.  A gradient field gives Dask
    arrays chunked as the broadcast arguments; a loss summed (or averaged) over the rows
    gives a 0-d Dask value, parameter gradients of the parameters' shapes (a Delayed for a
    pytree parameter) and data gradients chunked as the data (module docstring).  Results
    are lazy; `compute=True` computes them in one pass and returns NumPy values.

    Raises ChunkedLossError when f is neither elementwise nor a sum or mean over rows, and
    TypeError when `compiled` is not a compiled function.

    >>> import dask.array as da, zygote_sym as zs
    >>> c = zs.compile(lambda p, t, y: np.sum((p[0]*t - y)**2))
    >>> t = da.arange(6.0, chunks=2); y = 2*t
    >>> val, (g, gt, gy) = withgradient(c, np.array([1.0]), t, y, compute=True)
    >>> float(val), g.tolist(), gt.shape
    (55.0, [-110.0], (6,))
    """
    if not hasattr(compiled, "withgradient") or not hasattr(compiled, "f"):
        raise TypeError(f"zygote_sym.dask needs a compiled function (zygote_sym.compile(f)), "
                        f"got {type(compiled).__name__}")
    import dask
    import dask.array as da

    data_pos = [i for i, a in enumerate(args) if isinstance(a, da.Array)]
    for i, a in enumerate(args):
        if i not in data_pos and _holds(a, da.Array):
            raise TypeError(f"argument {i} holds a Dask array inside a container: pass Dask "
                            "data as top-level arguments")
    heads = iter(dask.compute(*[args[i][:3] if args[i].ndim else args[i] for i in data_pos]))
    head = [np.asarray(next(heads), dtype=float) if i in data_pos else None
            for i in range(len(args))]  # (the first rows, computed once for the checks)

    def at(m):
        return [a if h is None else h[:m] for a, h in zip(args, head)]

    if _is_field(compiled.f, at(1)):
        val, grads = _field(da, compiled, args, with_value)
    else:
        val, grads = _summed(da, dask.delayed, compiled, args, data_pos, at, with_value)
    if compute:
        lazy = [val] + list(grads)
        done = dask.compute(*[x for x in lazy if x is not None])
        it = iter(done)
        val, *rest = [None if x is None else next(it) for x in lazy]
        val = None if val is None else (float(val) if np.ndim(val) == 0 else val)
        grads = tuple(rest)
    return WithGradient(val, grads)


def _holds(a, kind):
    """Does the container `a` hold a `kind` at any depth?"""
    if isinstance(a, (tuple, list)):
        return any(_holds(v, kind) for v in a)
    if isinstance(a, dict):
        return any(_holds(v, kind) for v in a.values())
    return isinstance(a, kind)


def gradient(compiled: Any, *args: Any, compute: bool = False) -> Tuple[Optional[Any], ...]:
    """The gradients of `withgradient` (f's value is not computed where it is not needed).

    >>> import dask.array as da, zygote_sym as zs
    >>> c = zs.compile(lambda x, y: np.sin(x)*np.exp(-y**2))
    >>> gx, gy = gradient(c, da.zeros(4, chunks=2), 0.0)
    >>> gx.chunks, gx.compute().tolist()
    (((2, 2),), [1.0, 1.0, 1.0, 1.0])
    """
    return withgradient(compiled, *args, with_value=False, compute=compute).grad
