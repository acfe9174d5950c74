"""Matrix notation: a gradient that is a matrix expression, as SymPy's
MatrixSymbol algebra (`2*X.T*(X*w - Y)`, as matrixcalculus.org prints it).

Vectors are columns (n x 1).  What converts: matrix and vector leaves,
`@`, transposes, reshapes between a vector and a column or row, sums and
differences of same-shaped operands, scalar multiples, and elementwise
products and integer powers of same-shaped operands (Hadamard, `∘`).  Any
other node (an elementwise function, a reduction, a broadcast) means the
expression is not a matrix expression: :func:`matrix_form` returns None and
the index-notation form stands.
"""
import numpy as np
import sympy as sp

from ..ir.nodes import Leaf, children, postorder
from ..ir.ops import ArrayOp, MatMul, Reshape, Transpose
from .forms import person
from .indexed import _number


class Matrices(dict):
    """Leaf -> its gradient in matrix notation, for the leaves that have one;
    `symbol(leaf)` is the leaf's MatrixSymbol."""

    def __init__(self, names):
        super().__init__()
        self.names, self.bases = names, {}

    def add(self, leaf, node, shapes):
        form = matrix_form(node, shapes, self.names, self.bases)
        if form is not None:
            matrix_form(leaf, shapes, self.names, self.bases)
            self[leaf] = _common_factors(person(form, simplify=False))

    def symbol(self, leaf):
        return self.bases[leaf]

    def evaluate(self, leaf, numeric, env):
        """The form at the values `numeric` (Leaf -> value) by `sympy.lambdify`
        (NumPy: `@`, `.T`); vectors are passed as columns."""
        args = {self.bases[x]: np.reshape(v, _as_matrix_shape(np.shape(v)))
                for x, v in numeric.items() if x in self.bases}
        args.update((s, v) for s, v in env.items() if isinstance(s, sp.Symbol))
        fn = sp.lambdify(list(args), self[leaf], modules="numpy")
        return np.reshape(np.asarray(fn(*args.values()), dtype=float), leaf.shape)


class _NotMatrix(Exception):
    pass


def matrix_form(root, shapes, names, bases):
    """`root` (a node of ndim 1 or 2) as a MatrixExpr over MatrixSymbols
    `bases` (Leaf -> MatrixSymbol, filled in here), or None."""
    if isinstance(root, Leaf):  # (a leaf's own MatrixSymbol)
        return _convert(root, [], shapes, names, bases)
    if len(shapes(root)) not in (1, 2):
        return None
    try:
        new = {}
        for node in postorder([root]):
            new[node] = _convert(node, [new[c] for c in children(node)], shapes, names, bases)
        result = new[root]
    except _NotMatrix:
        return None
    return result if isinstance(result, sp.MatrixExpr) else None


def _as_matrix_shape(shape):
    return shape + (1,) if len(shape) == 1 else shape


def _convert(node, args, shapes, names, bases):
    shape = shapes(node)
    if isinstance(node, Leaf):
        if not shape:
            return names.base(node)
        if len(shape) > 2:
            raise _NotMatrix
        if node not in bases:
            rows, cols = _as_matrix_shape(shape)
            bases[node] = sp.MatrixSymbol(names.names[node], names.length(rows),
                                          names.length(cols))
        return bases[node]
    if not children(node):
        return _number(node)
    if len(shape) > 2:
        raise _NotMatrix
    if isinstance(node, ArrayOp) and not isinstance(node, (MatMul, Transpose, Reshape)):
        raise _NotMatrix
    if isinstance(node, MatMul):
        return sp.MatMul(*args).doit(deep=False)
    if isinstance(node, Transpose):
        return args[0].T
    if isinstance(node, Reshape):
        return _reshape(args[0], shapes(node.operands[0]), shape)
    if isinstance(node, (sp.Add, sp.Mul)):
        mats = [a for a in args if isinstance(a, sp.MatrixExpr)]
        if any(_as_matrix_shape(shapes(c)) != _as_matrix_shape(shape)
               for c, a in zip(children(node), args) if isinstance(a, sp.MatrixExpr)):
            raise _NotMatrix
        scalars = [a for a in args if not isinstance(a, sp.MatrixExpr)]
        if isinstance(node, sp.Add):
            if scalars and mats:
                raise _NotMatrix  # a scalar added to every element: not matrix algebra
            return sp.MatAdd(*mats).doit(deep=False) if mats else sp.Add(*scalars)
        m = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats) if mats else None
        return sp.Mul(*scalars) * m if m is not None else sp.Mul(*scalars)
    if isinstance(node, sp.Pow) and isinstance(args[0], sp.MatrixExpr):
        if not (args[1].is_Integer and args[1] > 0):
            raise _NotMatrix
        return sp.HadamardPower(args[0], args[1])
    if any(isinstance(a, sp.MatrixExpr) for a in args):
        raise _NotMatrix
    return node.func(*args)


def _reshape(m, old, new):
    """A vector seen as a column or a row (or back): the only reshapes here."""
    old_m, new_m = _as_matrix_shape(old), _as_matrix_shape(new)
    if old_m == new_m:
        return m
    if old_m == new_m[::-1] and 1 in old_m:
        return m.T
    raise _NotMatrix


def _split(m):
    """(numeric coefficient, the rest) of a matrix expression, with common
    numeric factors pulled out of sums, innermost first."""
    if isinstance(m, sp.MatAdd):
        parts = [_split(a) for a in m.args]
        coeffs = [c for c, _ in parts]
        g = sp.gcd_list(coeffs) if all(c.is_Rational for c in coeffs) else sp.S.One
        g = -g if all(c < 0 for c in coeffs) else g
        terms = [_join(c / g, r) for c, r in parts]
        return g, sp.MatAdd(*terms, evaluate=False)
    if isinstance(m, sp.MatMul):
        coef, mats = sp.S.One, []
        for a in m.args:
            if isinstance(a, sp.MatrixExpr):
                c, r = _split(a)
                coef, mats = coef * c, mats + [r]
            elif a.is_Rational:
                coef *= a
            else:
                mats.append(a)
        return coef, sp.MatMul(*mats, evaluate=False) if len(mats) > 1 else mats[0]
    return sp.S.One, m


def _join(c, m):
    if c == 1:
        return m
    if isinstance(m, sp.MatMul):
        return sp.MatMul(c, *m.args, evaluate=False)
    return sp.MatMul(c, m, evaluate=False)


def _common_factors(m):
    """`X.T*(2*X*w - 2*y)` reads `2*X.T*(X*w - y)` (SymPy's `2*(a + b)`
    distributes, so the product is built unevaluated)."""
    return _join(*_split(m))
