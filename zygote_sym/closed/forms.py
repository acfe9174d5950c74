"""Closed forms of DAG nodes for people, under a size budget.

Small results (their expanded trees at most TREE_MAX nodes) are one SymPy
expression each, in index notation, tidied by bounded rewrites (`factor_terms`
always, `simplify` only below SIMPLIFY_MAX operations: its cost is unbounded,
DESIGN.md).  Larger results, and results holding a node with no
index-notation form, are let-bound: shared nodes (and every CHUNK nodes of a
long chain) become named temporaries `t_k`, each defined once, each line an
ordinary SymPy expression, so the text grows with the DAG, not with its
expanded tree.  A temporary an op without index notation defines is shown
as its let-bound text (ir/printer.py) and said so in `notes`.
"""
import time

import sympy as sp

from ..ir.nodes import Leaf, children, postorder, tree_size
from ..ir.ops import static
from .indexed import IndexForm, Unsupported
from .progress import Progress

TREE_MAX = 400       # nodes of an expanded tree shown whole
TEMP_NAMES = ("t", "u", "v", "s", "tmp")  # temporaries t_0, t_1, ...: the first letter no one uses
SIMPLIFY_MAX = 40    # sympy.simplify only below this many operations
TIDY_MAX = 400       # factor_terms/collect only below this many operations
CHUNK = 40           # a long unshared chain is cut into temporaries this large
TIDY_SECONDS = 3.0   # time for tidying all forms; the rest are shown as built


class Forms:
    """`exprs`: one SymPy expression per root (None stays None), each for the
    element at `indices[k]`; `lines`: let-bound temporaries (name,
    definition) the exprs refer to, in order; `notes`: what was cut or shown
    as computed, and why."""

    def __init__(self, exprs, indices, lines, notes, temps):
        self.exprs, self.indices, self.lines, self.notes = exprs, indices, lines, notes
        self.temps = temps  # per line: (node, shape, shown as computed?)
        self.base = {}      # node -> the Symbol/IndexedBase of its temporary


def closed_forms(roots, shapes, names, tidy=True, progress=None):
    """Forms of `roots` (nodes or None) with leaves named by `names`
    (closed/names.py); `progress` (closed/progress.py) hears of each form."""
    progress = progress or Progress()
    present = [r for r in roots if r is not None]
    bound, notes = set(), []
    size = tree_size(present)
    if size > TREE_MAX:
        bound = _shared(present)
        size = f"{size}" if size < 10**6 else f"about 10^{len(str(size)) - 1}"
        notes.append(f"the expanded result would have {size} nodes (more than {TREE_MAX}): "
                     f"shared subexpressions are shown as temporaries {_temp(names, 0)}, "
                     f"{_temp(names, 1)}, …")
    while True:
        try:
            exprs, indices, lines, bases, computed = _convert(roots, shapes, names, bound,
                                                              progress)
            break
        except Unsupported as e:  # show it as computed, its operands as temporaries
            bound |= {e.node} | {c for c in children(e.node) if children(c)}
            notes.append(f"{e}: no index-notation form, shown as computed")
    if tidy:
        exprs, lines = _tidy_all(exprs, lines, notes, not bound, progress)
    forms = Forms(exprs, indices, lines, notes, [(n, shapes(n), n in computed) for n in bases])
    forms.base = bases
    return forms


def _tidy_all(exprs, lines, notes, simplify, progress):
    """`person` on every form (the results first) until TIDY_SECONDS have passed."""
    deadline = time.perf_counter() + TIDY_SECONDS
    todo = [e for e in exprs if e is not None] + [d for _, d in lines if isinstance(d, sp.Basic)]
    done = {}
    progress.stage("tidying closed forms", len(todo))
    for e in todo:
        if time.perf_counter() > deadline:
            notes.append(f"tidying stopped after {TIDY_SECONDS} s: {len(todo) - len(done)} "
                         "of the forms are shown as built")
            break
        done[e] = person(e, simplify)
        progress.update()
    return ([None if e is None else done.get(e, e) for e in exprs],
            [(t, done.get(d, d) if isinstance(d, sp.Basic) else d) for t, d in lines])


def _shared(roots):
    """Nodes to bind: operands of more than one node, and every CHUNK-th of a chain."""
    parents, size, bound = {}, {}, set()
    order = postorder(roots)
    for n in order:
        for c in children(n):
            parents[c] = parents.get(c, 0) + 1
    for n in order:
        if not children(n):
            continue
        size[n] = 1 + sum(size.get(c, 0) for c in children(n) if c not in bound)
        if parents.get(n, 0) > 1 or size[n] > CHUNK:
            bound.add(n)
    return bound


def _temp(names, k):
    """The k-th temporary's name: `t_k`, or `u_k`, ... when the user has a
    `t` (t_{0} would read as an element of it) or the name is in use."""
    prefix = next((p for p in TEMP_NAMES if p not in names.reserved
                   and not any(r.startswith(p + "_") for r in names.reserved)), "tmp")
    return f"{prefix}_{k}"


def _convert(roots, shapes, names, bound, progress):
    """(exprs, free indices per root, temporaries) with `bound` nodes named."""
    temps, bases, lines, reserved, computed = {}, {}, [], set(names.reserved), set()
    form = IndexForm(shapes, names.element, names.length, reserved, temps, names.counts)
    order = [n for n in postorder([r for r in roots if r is not None]) if n in bound]
    progress.stage("index notation", len(order) + len(roots))
    for k, node in enumerate(order):
        progress.update()
        shape = shapes(node)
        name = _temp(names, k)
        base = sp.IndexedBase(name, real=True) if shape else sp.Symbol(name, real=True)
        idx = form.free_index(shape)
        form.start(idx)
        try:
            definition = form.element(node, idx)
            if not isinstance(definition, sp.Basic):
                raise Unsupported(node, "not a SymPy expression")
        except Unsupported as e:
            if e.node is not node:
                raise
            computed.add(node)
            definition = as_computed(node, [bases[c] if c in bases else names.base(c)
                                             if isinstance(c, Leaf) else c for c in children(node)])
        lines.append((base[idx] if shape and node not in computed else base, definition))
        bases[node] = base
        temps[node] = (lambda b: lambda i: b[i])(base) if shape else (lambda b: lambda i: b)(base)
    exprs, indices = [], []
    for r in roots:
        if r is None:
            exprs.append(None)
            indices.append(())
            continue
        progress.update()
        idx = form.free_index(shapes(r))
        form.start(idx)
        exprs.append(form.element(r, idx))
        indices.append(idx)
    return exprs, indices, lines, bases, computed


def as_computed(node, operands):
    """An op with no index-notation form as an applied function of its
    operands' names and its static arguments: `max(x, (0,), 0)`, `det(A)`
    (real SymPy that prints as a person reads it; evaluated by NumPy)."""
    return sp.Function(type(node).__name__.lower())(
        *operands, *[static(p) for p in node.params if p is not None])


def person(e, simplify=True):
    """A form a person would write: constants pulled out of sums, like
    terms collected, double negatives gone; `simplify` only when small."""
    if not isinstance(e, sp.Basic):
        return e
    ops = sp.count_ops(e)
    if ops > TIDY_MAX:
        return _minus_out(e)
    best, best_ops = e, ops
    candidates = [lambda: _pull_constants(e), lambda: _pull_constants(sp.factor_terms(e))]
    if simplify and ops <= SIMPLIFY_MAX and not e.has(sp.Sum, sp.Product):  # (slow on sums)
        candidates.append(lambda: sp.simplify(e))
    for make in candidates:
        try:
            c = make()
        except Exception:  # noqa: BLE001  SymPy's simplify has bugs (sum_add: StopIteration)
            continue
        c_ops = sp.count_ops(c)
        if c_ops < best_ops or c_ops == best_ops and len(str(c)) <= len(str(best)):  # (ties:
            # the rewritten form, constants outside the sum, as a person writes)
            best, best_ops = c, c_ops
    return _minus_out(best)


def _minus_out(e):
    """`Σ −a_i` as `−Σ a_i`: SymPy prints a sum's body without parentheses,
    so `\\sum -a_i` would read as "sum minus"."""
    return e.replace(lambda x: isinstance(x, sp.Sum) and isinstance(x.function, sp.Mul)
                     and x.function.could_extract_minus_sign(),  # (a sum body is parenthesised)
                     lambda x: -sp.Sum(-x.function, *x.limits))


def _pull_constants(e):
    """Factors that do not depend on a sum's index moved out of the sum
    (`Σ c·f(i) = c·Σ f(i)`), innermost sums first."""
    def pull(s):
        body, limits = s.function, s.limits
        dummies = {lim[0] for lim in limits}
        inside, outside = [], []
        for f in sp.Mul.make_args(sp.factor_terms(body)):
            (inside if f.free_symbols & dummies else outside).append(f)
        triangular = any((lo.free_symbols | hi.free_symbols) & dummies for _, lo, hi in limits)
        if not inside and not triangular:  # Σ_{i=0}^{n-1} c = n c
            return sp.Mul(*outside, *[hi - lo + 1 for _, lo, hi in limits])
        if not outside:
            return s
        return sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), *limits)
    return e.replace(lambda x: isinstance(x, sp.Sum), pull)
