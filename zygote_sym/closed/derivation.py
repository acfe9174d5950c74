"""`derive`: closed forms of a scalar function and its gradient, for people.

The trace's DAG and its gradient become ordinary SymPy (closed/indexed.py)
in the user's names (closed/names.py), under a size budget
(closed/forms.py); a :class:`Derivation` shows them as text, LaTeX and
offline HTML (closed/display.py) and evaluates them with SymPy's own
`lambdify`, so anyone can check a closed form against the numeric gradient.
"""
import logging
import math
from typing import Any, Callable, Sequence, Union

import numpy as np
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

from .. import pytree
from ..ad.backward import grad, vjp
from ..codegen.kernel import Kernel
from ..ir.nodes import Leaf, tree_size
from ..trace.call import arg_names, trace_call
from ..transform import scalar_output
from . import display
from .forms import TREE_MAX, Forms, closed_forms
from .indexed import per_count
from .matrix import Matrices
from .names import Names, symbol_name
from .progress import Progress
from .recurrence import fold
from .unpack import split, tuple_names, unpacked_names, variable_names
from .variables import carrier, observed, user_names

_log = logging.getLogger("zygote_sym.derive")


class Derivation:
    """Closed forms of a scalar function and its gradient (from :func:`derive`).

    Attributes: `value` (SymPy expression of f), `gradient` (a tuple
    mirroring the arguments: for a scalar leaf its derivative, for an array
    leaf x the element ∂f/∂x[i, ...] at the index symbols `indices[path]`,
    None for arguments not in `wrt` or that f does not depend on),
    `lines` (let-bound temporaries `(t_k, definition)` the forms refer to,
    when the budget cut them), `notes` (what was cut and why), `legend`
    (names the library chose), `symbols` (argument path -> Symbol or
    IndexedBase), `guards` (the branch decisions the forms assume),
    `source` (the generated kernel of f and its gradient; symbolic arguments
    are its scalar float inputs).
    A vector argument the user unpacked (`A, k, c = p`) has the column
    `Matrix([∂f/∂A, ∂f/∂k, ∂f/∂c])` as its gradient (`parts` maps its leaf
    to the scalar leaves of its elements).  For a loop folded into a
    recurrence (closed/recurrence.py), `lines` are its rows, and `value` and
    `gradient` read its last elements (`y[199]`, `dy_dk[199]`).
    """

    def __init__(self, traced, names, forms, wrt_leaves, source, consts, matrices, parts,
                 recurrence=None):
        self.traced, self._names, self._forms = traced, names, forms
        self._wrt, self._matrices, self._parts = wrt_leaves, matrices, parts
        self._recurrence = recurrence
        self.value = forms.exprs[0]
        per_leaf = dict(zip(wrt_leaves, forms.exprs[1:]))
        self.lines, self.notes, self._loops = forms.lines, forms.notes, {}
        self._before_f = len(self.lines)  # rows shown before `f = ...`
        if recurrence is not None:
            self.value = recurrence.value
            per_leaf = {x: recurrence.gradient[names.base(x)] for x in wrt_leaves}
            self.lines = recurrence.value_rows + recurrence.tangent_rows
            self.notes = forms.notes + [recurrence.note]
            self._loops, self._before_f = recurrence.loops, len(recurrence.value_rows)
        self._per_leaf = per_leaf
        self._index = dict(zip(wrt_leaves, forms.indices[1:]))
        self.gradient = pytree.mirror_all(
            traced.arg_trees, self._per_argument(lambda x: matrices.get(x, per_leaf.get(x))))
        self.index_form = pytree.mirror_all(traced.arg_trees, self._per_argument(per_leaf.get))
        self.indices = {leaf.name: self._index[leaf] for leaf in wrt_leaves if leaf.shape}
        self.symbols = {leaf.name: names.base(leaf) for leaf in traced.leaves}
        self.legend = names.legend(consts) + [
            f"{', '.join(names.names[x] for x in xs)} = {names.names[leaf]} (unpacked in f)"
            for leaf, xs in parts.items()]
        self._consts = consts
        self.guards = traced.guards
        self.source = source

    def _per_argument(self, get, stack=sp.ImmutableMatrix):
        """`get(leaf)` per traced leaf; a split vector's parts `stack`ed
        (0 for an element f does not depend on), None when not differentiated."""
        out = []
        for leaf in self.traced.leaves:
            xs = self._parts.get(leaf)
            if xs is None or xs[0] not in self._index:
                out.append(get(leaf))
            else:
                out.append(stack([0 if get(x) is None else get(x) for x in xs]))
        return out

    def rows(self):
        """(left-hand side, right-hand side) pairs shown: the temporaries,
        then one row per differentiated leaf that f depends on."""
        rows = list(self.lines)
        for leaf in self._wrt:
            e = self._per_leaf.get(leaf)
            if leaf in self._matrices:
                rows.append((display.partial(self._matrices.symbol(leaf), ()),
                             self._matrices[leaf]))
            elif e is not None:
                rows.append((display.partial(self._names.base(leaf), self._index[leaf]), e))
        return rows

    def latex(self):
        """LaTeX of the gradient: the expression alone for one scalar input
        with one small closed form, else an aligned block."""
        rows = self.rows()
        if len(rows) == 1 and not self.lines and len(self.traced.leaves) == 1 \
                and not self.traced.leaves[0].shape:
            return sp.latex(rows[0][1])
        return display.aligned(rows, self._loops)

    def _latex(self, printer):  # sympy.latex(d) is d.latex()
        return self.latex()

    def _repr_latex_(self):
        return f"$\\displaystyle {self.latex()}$"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """text/plain, text/latex and text/html: MathML (rendered by every
        current browser without a network: no MathJax CDN needed), the
        notes and legend, and the kernel source in a <details> block."""
        return {"text/plain": repr(self), "text/latex": self._repr_latex_(),
                "text/html": display.html(self.rows(), self._comments(), self.source,
                                          self._loops)}

    def _comments(self):
        return [f"where {line}" for line in self.legend] + list(self.notes) + \
            [f"assuming {guard}" for guard in self.guards]

    def __repr__(self):
        rows = self.rows()
        k = self._before_f  # temporaries first: f may refer to them
        lines = [self._row_text(*row) for row in rows[:k]] + [f"f = {self.value}"]
        lines += [self._row_text(*row) for row in rows[k:]]
        return "\n".join(lines + self._comments())

    def _row_text(self, lhs, rhs):
        loop = self._loops.get(lhs)
        return f"{sp.sstr(lhs)} = {rhs}" + (f"  for {loop[0]} = {loop[1]}…{loop[2]}"
                                            if loop else "")

    def evaluate(self, *args: Any, notation: str = "shown") -> tuple:
        """The gradient at new arguments (same structure and shapes as the
        traced ones, same branches), computed from the closed forms by
        SymPy's own `lambdify`: a check of the forms independent of
        zygote_sym's kernels.  Arguments not differentiated give None.
        `notation="index"` evaluates the index-notation forms even where
        a matrix form is shown.

        >>> d = derive(lambda x, y: x**2 * y, 3.0, 2.0)
        >>> d.evaluate(1.0, 5.0)
        (10.0, 1.0)
        """
        flat: list = []
        for i, a in enumerate(args):
            pytree.flatten(a, f"args[{i}]", flat)
        values = dict(zip(self.traced.leaves, [v for _, v in flat]))
        values.update(self._consts)
        for leaf, xs in self._parts.items():
            values.update(zip(xs, np.asarray(values[leaf], dtype=float).tolist()))
        numeric = {leaf: np.asarray(v) if np.ndim(v) else float(v)
                   for leaf, v in values.items() if leaf in self._names.names}
        env = {self._names.base(leaf): v for leaf, v in numeric.items()}
        env.update({s: n for n, s in self._names.lengths.items()})
        if self._recurrence is not None:
            at = self._recurrence.evaluate(env, _compile)
            return pytree.mirror_all(self.traced.arg_trees, self._per_argument(
                lambda x: at.get(self._names.base(x)) if x in self._index else None,
                lambda column: np.array(column, dtype=float)))
        for (lhs, rhs), (node, shape, computed) in zip(self.lines, self._forms.temps):
            base = self._forms.base[node]
            if not computed:
                env[base] = _tabulate(rhs, lhs.indices if shape else (), shape, env)
            else:  # shown as computed: NumPy's value of the op, from its operands' values
                env[base] = node.value(*[env[self._forms.base[c]] if c in self._forms.base
                                         else numeric[c] if c in numeric
                                         else float(self._names.symbolic.get(c, c))  # the seed: 1
                                         for c in node.operands])
        per_leaf = {}
        for leaf, e in zip(self._wrt, self._forms.exprs[1:]):
            if leaf in self._matrices and notation == "shown":
                per_leaf[leaf] = self._matrices.evaluate(leaf, numeric, env)
            else:
                per_leaf[leaf] = None if e is None else \
                    _tabulate(e, self._index[leaf], leaf.shape, env)
        return pytree.mirror_all(self.traced.arg_trees, self._per_argument(
            per_leaf.get, lambda column: np.array(column, dtype=float)))


class _Printer(MpmathPrinter):
    """SymPy's mpmath printer (scalar code, an element at a time), plus a
    Product printed as SymPy prints a Sum (a generator under `builtins.sum`;
    SymPy has no Python printer for `Product`)."""

    def _print_floor(self, expr):  # an index: a Python int (mpmath's floor is an mpf)
        return f"int(floor({self._print(expr.args[0])}))"

    def _print_Product(self, expr):
        loops = " ".join(f"for {self._print(i)} in range({self._print(a)}, {self._print(b)}+1)"
                         for i, a, b in expr.limits[::-1])
        return f"(math.prod({self._print(expr.function)} {loops}))"


def _compile(args, expr):
    """`sympy.lambdify(args, expr)` with mpmath, an element at a time."""
    return sp.lambdify(args, expr, modules=[{"math": math}, "mpmath"],
                       printer=_Printer({"fully_qualified_modules": False, "inline": True,
                                         "allow_unknown_functions": True,
                                         "user_functions": {}}))


def _tabulate(expr, idx, shape, env):
    """expr at every index of `shape` by `sympy.lambdify` (mpmath, element by element)."""
    args = list(env)
    fn = _compile(args + list(idx), expr)
    vals = [env[a] for a in args]
    if not shape:
        return float(fn(*vals))
    out = np.empty(shape)
    for k in np.ndindex(shape):
        out[k] = fn(*vals, *k)
    return out


def _selected(traced, names, wrt):
    """The leaves of the arguments in `wrt` (None: all; an int, an argument
    name, or a tuple of them)."""
    if wrt is None:
        return list(traced.leaves)
    chosen = set()
    for w in (wrt if isinstance(wrt, (tuple, list)) else (wrt,)):
        if isinstance(w, str):
            if w not in names:
                raise ValueError(f"derive(..., wrt={wrt!r}): f has no argument {w!r} "
                                 f"(its arguments: {', '.join(map(str, names))})")
            w = names.index(w)
        if not isinstance(w, int) or not -len(names) <= w < len(names):
            raise ValueError(f"derive(..., wrt={wrt!r}): {w!r} is not an argument position "
                             f"or name of f (it has {len(names)} arguments)")
        chosen.add(w % len(names))
    starts = np.cumsum([0] + [pytree.count_leaves(t) for t in traced.arg_trees])
    return [traced.leaves[k] for i in sorted(chosen) for k in range(starts[i], starts[i + 1])]


def derive(f: Callable[..., Any], *args: Any,
           wrt: Union[None, int, str, Sequence[Union[int, str]]] = None) -> Derivation:
    """Closed forms of scalar `f(*args)` and of its gradient, as ordinary SymPy.

    Arguments are SymPy expressions (fully symbolic: Python branches on them
    raise SymbolicBranchError) or example values (branches follow the
    example, recorded in `.guards`; the forms use symbols named after the
    argument paths, e.g. `a.x`, `p_A` for `p['A']`, and arrays f captures
    by their variable names).  An array argument x is an `IndexedBase`; its
    gradient is the element ∂f/∂x[i] in index notation (`Sum(..., (j, 0,
    n - 1))`, lengths as symbols listed in `.legend`; a count from a sum
    reads `n`).  Elements the user unpacked (`A, k, c = p`, `A = p[0]`, read
    from f's bytecode) are named so, and the gradient of p is the column of
    their rows.  `wrt` chooses the arguments to differentiate (positions or
    names; default all).  Large results come let-bound (`.lines`, `.notes`
    say what was cut); a loop that repeats one scalar update comes as a
    recurrence `y[j + 1] = ...` with its derivative recurrence (the range of
    each loop row in `._loops`).  A tqdm bar shows progress once derive has
    run 1.5 s (closed/progress.py).  Returns
    a :class:`Derivation`; SymPy's `lambdify`, `simplify`, `diff` and
    `latex` work on its expressions, and `.evaluate(*args)` computes the
    gradient from them with `lambdify`.

    >>> import sympy
    >>> x = sympy.Symbol('x')
    >>> d = derive(lambda x: 3*x**2 + 2*x + 1, x)
    >>> d.gradient[0]
    6*x + 2
    >>> d.latex()
    '6 x + 2'
    >>> import numpy as np
    >>> data = np.array([1.0, 2.0, 4.0])
    >>> d = derive(lambda mu, x: np.sum((x - mu)**2), 0.5, data, wrt=0)
    >>> d.gradient
    (-2*Sum(-mu + x[i], (i, 0, n - 1)), None)
    """
    with Progress() as progress:
        return _derive(f, args, wrt, progress)


def _derive(f, args, wrt, progress):
    arg_list = arg_names(f, len(args))
    with observed() as seen:  # the user's scalar variables, by value (closed/variables.py)
        traced = trace_call(f, args, names=arg_list, capture=not _symbolic(args))
    out = scalar_output(traced, "derive")
    wrt_leaves = _selected(traced, arg_list, wrt)
    consts = _constants(traced)
    unpacked = unpacked_names(f)
    taken = set(arg_list) | {symbol_name(leaf.name) for leaf in traced.leaves + list(consts)}
    out_named, parts = split(out, traced.leaves, unpacked, taken)
    rows = [x for leaf in wrt_leaves for x in parts.get(leaf, [leaf])]
    # The seed cotangent is a symbol read as 1 (not the number 1): a constant
    # cotangent summed over an axis then stays a sum, shown as the axis length
    # (`-n/σ`) rather than the count the backward pass would fold in (`-200/σ`).
    seed = Leaf("seed", (), role="ct")
    grads = vjp([out_named], [seed], rows, traced.shapes)
    symbolic = {leaf: v for leaf, v in zip(traced.leaves, traced.leaf_values)
                if isinstance(v, sp.Expr)}
    names = Names(traced.leaves + [x for xs in parts.values() for x in xs], list(consts),
                  {**symbolic, seed: sp.S.One},
                  renamed={**tuple_names(traced.leaves, unpacked, taken),
                           **variable_names(f, consts, taken)}, unlisted=set(parts),
                  used=user_names(f))  # names the library makes never clash with the user's
    names.counts = per_count(out_named, traced.shapes, names.length)
    recurrence = _loop(seen, out_named, rows, traced, names, consts, progress)
    if recurrence is not None:  # the gradient is the tangent recurrence: no reverse-mode form
        forms = recurrence.forms
    else:
        forms = closed_forms([out_named] + grads, traced.shapes, names, progress=progress)
    matrices = Matrices(names)
    if not forms.lines:  # within the budget: matrix notation where it is matrix algebra
        progress.stage("matrix notation", len(rows))
        for leaf, gr in zip(rows, grads):
            if gr is not None and len(leaf.shape) in (1, 2):
                matrices.add(leaf, gr, traced.shapes)
            progress.update()
    progress.stage("kernel source", 1)
    present = [out] + [gr for gr in grad(out, wrt_leaves, traced.shapes) if gr is not None]
    examples = [1.0 if isinstance(v, sp.Expr) else v for v in traced.leaf_values]  # (symbolic
    try:  # arguments: scalar float inputs)
        source = Kernel(present, traced.leaves + list(consts),
                        examples + list(consts.values())).source
    except NotImplementedError as e:  # the kernel is shown, not used: the forms stand without it
        _log.info("derive: no kernel source to show (%s)", e)
        source = None
    progress.update()
    return Derivation(traced, names, forms, rows, source, consts, matrices, parts, recurrence)


def _loop(seen, out, rows, traced, names, consts, progress):
    """A :class:`~.recurrence.Recurrence` when f is a loop past the size
    budget that repeats one scalar update (closed/recurrence.py), else None;
    its `forms` are the let-bound value alone.  The sequence takes the name
    of f's variable whose values it holds (`seen`, closed/variables.py)."""
    if traced.symbolic or any(x.shape for x in rows) or tree_size([out]) <= TREE_MAX:
        return None
    primal = closed_forms([out], traced.shapes, names, tidy=False, progress=progress)
    if not primal.lines or any(computed for _, _, computed in primal.temps):
        return None
    recurrence = fold(primal.lines, primal.exprs[0], names.reserved)
    if recurrence is not None:
        leaves = set(names.names.values()) | {str(s) for s in names.lengths.values()}
        name = carrier(_sequence(recurrence, traced, names, consts), seen)
        if name and name not in leaves:
            recurrence.rename(name)
        recurrence.differentiate([names.base(x) for x in rows])
        recurrence.forms = Forms(primal.exprs + [None] * len(rows), [()] * (1 + len(rows)),
                                 primal.lines, primal.notes, primal.temps)
    return recurrence


def _sequence(recurrence, traced, names, consts):
    """The loop-carried values at the traced arguments ([] if a row reads
    a value not at hand, such as an unpacked element)."""
    values = dict(zip(traced.leaves, traced.leaf_values))
    values.update(consts)
    env = {names.base(x): np.asarray(v, dtype=float) if np.ndim(v) else float(v)
           for x, v in values.items() if x in names.names}
    env.update({s: n for n, s in names.lengths.items()})
    try:
        return recurrence.sequence(env, _compile)
    except (KeyError, NameError, TypeError):  # (a symbol without a value: no name from values)
        return []


def _constants(traced):
    """Constant leaf -> value: arrays made in f, then the captured arrays f
    read (named by their variables), at their values now."""
    consts = {c: traced.trace.const_values[c] for c in traced.consts}
    consts.update((leaf, slot.get()) for leaf, slot in traced.captured)
    return consts


def _symbolic(args):
    flat = []
    for i, a in enumerate(args):
        pytree.flatten(a, f"args[{i}]", flat)
    return any(isinstance(v, sp.Expr) for _, v in flat)
