"""Matrix notation: a gradient that is a matrix expression, as SymPy's
MatrixSymbol algebra (`2*X.T*(X*w - Y)`, as matrixcalculus.org prints it).

Vectors are columns (n x 1).  What converts: matrix and vector leaves,
`@`, transposes, reshapes between a vector and a column or row, sums and
differences of same-shaped operands (a scalar added to every element is
c·1, SymPy's OneMatrix), scalar multiples, elementwise products and
integer powers of same-shaped operands (Hadamard, `∘`), and SymPy's
elementwise functions that NumPy has as ufuncs (`tanh(W x + b)`, SymPy's
ElementwiseApplyFunction printed as a person writes it), so a layer reads
∂f/∂x = 2Wᵀ(tanh(Wx+b) ∘ (1 − tanh^{∘2}(Wx+b))).  Any other node (a
reduction, a broadcast, erf) means the expression is not a matrix
expression: :func:`matrix_form` returns None and the index-notation form
stands.  The tests evaluate every matrix form with `lambdify` against the
numeric gradient (Derivation.evaluate).
"""
import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter

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
        if form is not None and form.has(Elementwise) and not _products(form):
            form = None  # elementwise only (sin(x) ∘ x): a person writes it per element, x_i
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
        fn = sp.lambdify(list(args), self[leaf], modules="numpy", printer=_NumPy)
        return np.reshape(np.asarray(fn(*args.values()), dtype=float), leaf.shape)


class _NumPy(NumPyPrinter):
    """SymPy's NumPy printer plus the elementwise power (it has the
    elementwise product, not `HadamardPower`)."""

    def _print_ElementwiseApplyFunction(self, expr):
        d = expr.function.variables[0]
        return "(lambda %s: %s)(%s)" % (self._print(d), self._print(expr.function.expr),
                                        self._print(expr.expr))

    def _print_HadamardPower(self, expr):
        return "%s(%s, %s)" % (self._module_format("numpy.power"), self._print(expr.base),
                               self._print(expr.exp))


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
            if scalars and mats:  # a scalar added to every element: c 𝟙 (the all-ones matrix)
                mats.append(sp.Add(*scalars) * sp.OneMatrix(*mats[0].shape))
            return sp.MatAdd(*mats).doit(deep=False) if mats else sp.Add(*scalars)
        m = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats) if mats else None
        return sp.Mul(*scalars) * m if m is not None else sp.Mul(*scalars)
    if isinstance(node, sp.Pow) and isinstance(args[0], sp.MatrixExpr):
        if not (args[1].is_Integer and args[1] > 0):
            raise _NotMatrix
        return sp.HadamardPower(args[0], args[1])
    if len(args) == 1 and isinstance(args[0], sp.MatrixExpr) and _elementwise(node):
        d = sp.Dummy("d")
        return Elementwise(sp.Lambda(d, node.func(d)), args[0])
    if any(isinstance(a, sp.MatrixExpr) for a in args):
        raise _NotMatrix
    return node.func(*args)


def _products(m):
    """Whether `m` holds a matrix product or a transpose: matrix algebra."""
    return any(isinstance(e, sp.Transpose) or isinstance(e, sp.MatMul) and sum(
        isinstance(a, sp.MatrixExpr) for a in e.args) > 1 for e in sp.preorder_traversal(m))


def _elementwise(node):
    """A function of SymPy's own (tanh, exp, log, ...) that SymPy's NumPy
    printer writes as a NumPy ufunc: elementwise on an array, and `lambdify`
    can check it (erf prints as the scalar `math.erf`: index notation)."""
    if not (isinstance(node, sp.Function) and type(node).__module__.startswith("sympy.functions")):
        return False
    try:
        code = _NumPy({"strict": True}).doprint(node.func(sp.Symbol("d")))
    except PrintMethodNotImplementedError:
        return False
    return code.startswith("numpy.")


class Elementwise(ElementwiseApplyFunction):
    """A function applied to every element, written as a person writes it:
    `tanh(W x + b)` (SymPy's own form prints `(d ↦ tanh(d))_∘(W x + b)`)."""

    def _latex(self, printer):
        return _applied(self, printer._print)

    def _sympystr(self, printer):
        return _applied(self, printer._print)

    def _mathml_presentation(self, printer):
        # (the function of a placeholder, the placeholder's node replaced by the argument's)
        out = printer._print(self.function(_HOLE))
        for node in out.getElementsByTagName("mi"):
            if node.firstChild is not None and node.firstChild.data == _HOLE.name:
                node.parentNode.replaceChild(printer._print(self.expr), node)
        return out


_HOLE = sp.Symbol("HOLE")


def _applied(e, show):
    """`show` (a printer's text) of the function at a placeholder, the
    placeholder's text replaced by the argument's: `\\tanh{\\left(W x + b\\right)}`."""
    return show(e.function(_HOLE)).replace(show(_HOLE), show(e.expr))


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
    if isinstance(m, sp.HadamardProduct):  # 2 (a ∘ b): the numbers out of the product
        parts = [_split(a) for a in m.args]
        return sp.Mul(*[c for c, _ in parts]), sp.HadamardProduct(*[r for _, r in parts],
                                                                   evaluate=False)
    if isinstance(m, sp.MatMul):
        coef, mats = sp.S.One, []
        for a in m.args:
            if isinstance(a, sp.MatrixExpr):
                c, r = _split(a)
                coef, mats = coef * c, mats + [r]
            elif a.is_Rational:
                coef *= a
            elif isinstance(a, sp.Mul) and a.args[0].is_Rational:  # (2*x: a scalar's number)
                coef, mats = coef * a.args[0], mats + [sp.Mul(*a.args[1:])]
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
