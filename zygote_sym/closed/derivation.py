"""`derive`: closed forms of a scalar function and its gradient, for people.

The trace's DAG and its gradient become ordinary SymPy (closed/indexed.py)
in the user's names (closed/names.py), under a size budget
(closed/forms.py); a :class:`Derivation` shows them as text, LaTeX and
offline HTML (closed/display.py) and evaluates them with SymPy's own
`lambdify`, so anyone can check a closed form against the numeric gradient.
"""
import math

import numpy as np
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

from .. import pytree
from ..ad.backward import grad
from ..codegen.kernel import Kernel
from ..trace.call import arg_names, trace_call
from ..transform import scalar_output
from . import display
from .forms import closed_forms
from .matrix import Matrices
from .names import Names


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
    `source` (the generated kernel, when example values were given).
    """

    def __init__(self, traced, names, forms, wrt_leaves, source, consts, matrices):
        self.traced, self._names, self._forms = traced, names, forms
        self._wrt, self._matrices = wrt_leaves, matrices
        self.value = forms.exprs[0]
        per_leaf = dict(zip(wrt_leaves, forms.exprs[1:]))
        self._index = dict(zip(wrt_leaves, forms.indices[1:]))
        self.gradient = pytree.mirror_all(
            traced.arg_trees, [matrices.get(leaf, per_leaf.get(leaf)) for leaf in traced.leaves])
        self.index_form = pytree.mirror_all(
            traced.arg_trees, [per_leaf.get(leaf) for leaf in traced.leaves])
        self.indices = {leaf.name: self._index[leaf] for leaf in wrt_leaves if leaf.shape}
        self.symbols = {leaf.name: names.base(leaf) for leaf in traced.leaves}
        self.lines, self.notes = forms.lines, forms.notes
        self.legend = names.legend(consts)
        self._consts = consts
        self.guards = traced.guards
        self.source = source

    def rows(self):
        """(left-hand side, right-hand side) pairs shown: the temporaries,
        then one row per differentiated leaf that f depends on."""
        rows = list(self.lines)
        for leaf, e in zip(self._wrt, self._forms.exprs[1:]):
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
        return display.aligned(rows)

    def _latex(self, printer):  # sympy.latex(d) is d.latex()
        return self.latex()

    def _repr_latex_(self):
        return f"$\\displaystyle {self.latex()}$"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """text/plain, text/latex and text/html: MathML (rendered by every
        current browser without a network: no MathJax CDN needed), the
        notes and legend, and the kernel source in a <details> block."""
        return {"text/plain": repr(self), "text/latex": self._repr_latex_(),
                "text/html": display.html(self.rows(), self._comments(), self.source)}

    def _comments(self):
        return [f"where {line}" for line in self.legend] + list(self.notes) + \
            [f"assuming {guard}" for guard in self.guards]

    def __repr__(self):
        rows = self.rows()
        k = len(self.lines)  # temporaries first: f may refer to them
        lines = [f"{sp.sstr(lhs)} = {rhs}" for lhs, rhs in rows[:k]] + [f"f = {self.value}"]
        lines += [f"{sp.sstr(lhs)} = {rhs}" for lhs, rhs in rows[k:]]
        return "\n".join(lines + self._comments())

    def evaluate(self, *args, notation="shown"):
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
        flat = []
        for i, a in enumerate(args):
            pytree.flatten(a, f"args[{i}]", flat)
        values = dict(zip(self.traced.leaves, [v for _, v in flat]))
        values.update(self._consts)
        numeric = {leaf: np.asarray(v) if np.ndim(v) else float(v)
                   for leaf, v in values.items() if leaf in self._names.names}
        env = {self._names.base(leaf): v for leaf, v in numeric.items()}
        env.update({s: n for n, s in self._names.lengths.items()})
        for (lhs, rhs), (node, shape, computed) in zip(self.lines, self._forms.temps):
            base = self._forms.base[node]
            if not computed:
                env[base] = _tabulate(rhs, lhs.indices if shape else (), shape, env)
            else:  # shown as computed: NumPy's value of the op, from its operands' values
                env[base] = node.value(*[env[self._forms.base[c]] if c in self._forms.base
                                         else numeric[c] if c in numeric else float(c)
                                         for c in node.operands])
        per_leaf = {}
        for leaf, e in zip(self._wrt, self._forms.exprs[1:]):
            if leaf in self._matrices and notation == "shown":
                per_leaf[leaf] = self._matrices.evaluate(leaf, numeric, env)
            else:
                per_leaf[leaf] = None if e is None else \
                    _tabulate(e, self._index[leaf], leaf.shape, env)
        return pytree.mirror_all(self.traced.arg_trees,
                                 [per_leaf.get(leaf) for leaf in self.traced.leaves])


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


def _tabulate(expr, idx, shape, env):
    """expr at every index of `shape` by `sympy.lambdify` (mpmath, element by element)."""
    args = list(env)
    fn = sp.lambdify(args + list(idx), expr, modules=[{"math": math}, "mpmath"],
                     printer=_Printer({"fully_qualified_modules": False, "inline": True,
                                       "allow_unknown_functions": True,
                                       "user_functions": {}}))
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


def derive(f, *args, wrt=None):
    """Closed forms of scalar `f(*args)` and of its gradient, as ordinary SymPy.

    Arguments are SymPy expressions (fully symbolic: Python branches on them
    raise SymbolicBranchError) or example values (branches follow the
    example, recorded in `.guards`; the forms use symbols named after the
    argument paths, e.g. `a.x`, `p_A` for `p['A']`, and arrays f captures
    by their variable names).  An array argument x is an `IndexedBase`; its
    gradient is the element ∂f/∂x[i] in index notation (`Sum(..., (j, 0,
    n - 1))`, lengths as symbols listed in `.legend`).  `wrt` chooses the
    arguments to differentiate (positions or names; default all).  Large
    results come let-bound (`.lines`, `.notes` say what was cut).  Returns
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
    arg_list = arg_names(f, len(args))
    traced = trace_call(f, args, names=arg_list, capture=not _symbolic(args))
    out = scalar_output(traced, "derive")
    wrt_leaves = _selected(traced, arg_list, wrt)
    grads = grad(out, wrt_leaves, traced.shapes)
    symbolic = {leaf: v for leaf, v in zip(traced.leaves, traced.leaf_values)
                if isinstance(v, sp.Expr)}
    consts = _constants(traced)
    names = Names(traced.leaves, list(consts), symbolic)
    forms = closed_forms([out] + grads, traced.shapes, names)
    matrices = Matrices(names)
    if not forms.lines:  # within the budget: matrix notation where it is matrix algebra
        for leaf, gr in zip(wrt_leaves, grads):
            if gr is not None and len(leaf.shape) in (1, 2):
                matrices.add(leaf, gr, traced.shapes)
    source = None
    if not traced.symbolic:
        present = [out] + [gr for gr in grads if gr is not None]
        source = Kernel(present, traced.leaves + list(consts),
                        traced.leaf_values + list(consts.values())).source
    return Derivation(traced, names, forms, wrt_leaves, source, consts, matrices)


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
