"""Print one node as Python source, for one backend.

Backends: "math" (Python floats and the `math` module: ~1 µs per scalar
call), "exact" (Python arithmetic on Fractions: rational constants stay
exact), "numpy" (arrays) and "numexpr" (fuse.py's dialect).  Operands
arrive already printed, so the printer never walks the DAG (SymPy's printers
are exponential on shared DAGs).  As in SymPy's printers, a node of class C
is printed by the method `_print_C` (the first one found along C's MRO);
functions without one are rows of the name table (names.py).

Special points: the stable forms of ir/special.py are kernel helpers in
`math` and NumPy/SciPy calls in NumPy; a select (and a `safe`) in `math` is
a conditional expression, which evaluates only the branch taken.
"""
import math

import sympy as sp

from ..ir.nodes import Shapes
from .names import MATH, NUMPY
from .runtime import one_blas_thread

_CONSTANTS = {sp.pi: "pi", sp.E: "e", sp.oo: "inf", -sp.oo: "-inf", sp.nan: "nan"}

ATOM, POW, UNARY, MUL, ADD, REL, NOT, AND, OR, COND = 100, 60, 55, 50, 40, 30, 25, 20, 10, 5


def wrap(code, prec):
    text, p = code
    return f"({text})" if p < prec else text


def _paren(code):
    return code if code.isidentifier() else f"({code})"


def _axis_code(axes):
    return str(axes[0]) if len(axes) == 1 else repr(tuple(axes))


def _keepdims(keep):
    return ", keepdims=True" if keep else ""


def _key_code(text, arrays):
    # np.asarray(., np.intp): index inputs may reach the kernel cast to float
    return text.format(*[f"np.asarray({a}, np.intp)" for a in arrays])


def _scan_code(fn, x, axis, reverse):
    if reverse:
        return f"np.flip({fn}(np.flip({x}, {axis}), axis={axis}), {axis})"
    return f"{fn}({x}, axis={axis})"


class Printer:
    """`render(node, operand_code)` -> (source, precedence)."""

    def __init__(self, backend):
        self.backend = backend
        self.mod = "np" if backend == "numpy" else "math"
        self.sqrt = {"numpy": "np.sqrt", "numexpr": "sqrt"}.get(backend, "math.sqrt")
        self.names = NUMPY if backend == "numpy" else MATH
        self.shapes = Shapes()  # (static shapes: a kernel is made for one signature)
        self._methods = {}

    def number(self, n):
        if n is sp.true or n is sp.false:
            return str(bool(n)), ATOM
        if n in _CONSTANTS:
            text = f"{self.mod}.{_CONSTANTS[n].lstrip('-')}"
            return ("-" + text, UNARY) if _CONSTANTS[n][0] == "-" else (text, ATOM)
        if isinstance(n, sp.Integer):
            text = str(int(n))
        elif isinstance(n, sp.Rational) and self.backend == "exact":
            text = f"Fraction({n.p}, {n.q})"
        else:
            text = repr(float(n))
        return (text, UNARY) if text.startswith("-") else (text, ATOM)

    def render(self, node, code):
        """code: node -> (source, precedence) of an operand."""
        if isinstance(node, (sp.Number, sp.NumberSymbol)) or node is sp.true or node is sp.false \
                or node in _CONSTANTS:
            return self.number(node)
        method = self._methods.get(type(node))
        if method is None:
            method = next((getattr(self, f"_print_{c.__name__}") for c in type(node).__mro__
                           if hasattr(self, f"_print_{c.__name__}")), self._print_Function)
            self._methods[type(node)] = method
        return method(node, code)

    # ------------------------------------------------------------ arithmetic
    def _print_Add(self, node, code):
        a = node.args
        out = wrap(code(a[0]), ADD)
        for t in a[1:]:
            s = wrap(code(t), ADD + 1)
            out += f" - {s[1:]}" if s.startswith("-") and code(t)[1] != ATOM else f" + {s}"
        return out, ADD

    def _print_Mul(self, node, code):
        num, den, sign = [], [], ""
        for f in node.args:
            if f == -1:
                sign = "-" if not sign else ""
            elif isinstance(f, sp.Pow) and isinstance(f.exp, sp.Number) and f.exp < 0 \
                    and code(f)[1] != ATOM:  # (a temporary is used as it is)
                e = -f.exp
                den.append(code(f.base) if e == 1 else
                           self._print_Pow(sp.Pow(f.base, e, evaluate=False), code))
            else:
                num.append(code(f))
        text = "*".join(wrap(c, MUL) for c in num) or "1"
        if den:  # one factor parenthesised as it needs, several as a product
            text += "/" + (wrap(den[0], MUL + 1) if len(den) == 1 else
                           "(" + "*".join(wrap(c, MUL) for c in den) + ")")
        return (sign + text, UNARY) if sign else (text, MUL)

    def _print_Pow(self, node, code):
        base, e = node.args
        b = code(base)
        if e == sp.Rational(1, 2):
            return f"{self.sqrt}({b[0]})", ATOM
        if e == sp.Rational(-1, 2):
            return f"1/{self.sqrt}({b[0]})", MUL
        if e == -1:
            return f"1/{wrap(b, MUL + 1)}", MUL
        if isinstance(e, sp.Integer) or self.backend != "math":
            return f"{wrap(b, POW + 1)}**{wrap(code(e), POW + 1)}", POW
        # math: (-8.0)**(1/3) is complex in Python; math.pow raises instead,
        # and the caller falls back to the NumPy kernel (nan, as NumPy gives)
        return f"math.pow({b[0]}, {code(e)[0]})", ATOM

    def _print_Mod(self, node, code):
        a, b = node.args
        return f"{wrap(code(a), MUL + 1)} % {wrap(code(b), MUL + 1)}", MUL

    def _print_strong_mul(self, node, code):
        if self.backend == "exact":  # Fractions are finite
            return self._print_Mul(sp.Mul(*node.args[:2], evaluate=False), code)
        return self._print_Function(node, code)

    # ------------------------------------------------------------ logic
    def _print_Relational(self, node, code):
        a, b = node.args
        return f"{wrap(code(a), REL + 1)} {node.rel_op} {wrap(code(b), REL + 1)}", REL

    def _print_BooleanFunction(self, node, code):
        if isinstance(node, (sp.And, sp.Or, sp.Not)):
            return self._logic(node, code)
        return self._print_Function(node, code)

    def _logic(self, node, code):
        parts = [code(v)[0] for v in node.args]
        if self.backend == "numpy":
            fn = {sp.And: "np.logical_and", sp.Or: "np.logical_or", sp.Not: "np.logical_not"}
            text = parts[0]
            if isinstance(node, sp.Not):
                return f"{fn[sp.Not]}({text})", ATOM
            for p in parts[1:]:
                text = f"{fn[node.func]}({text}, {p})"
            return text, ATOM
        if isinstance(node, sp.Not):
            return f"not {wrap(code(node.args[0]), NOT)}", NOT
        op, prec = ("and", AND) if isinstance(node, sp.And) else ("or", OR)
        return f" {op} ".join(wrap(code(v), prec + 1) for v in node.args), prec

    def _print_Where(self, node, code):
        c, x, y = (code(v) for v in node.args)
        if self.backend == "numpy":
            return f"np.where({c[0]}, {x[0]}, {y[0]})", ATOM
        return f"{wrap(x, COND + 1)} if {wrap(c, COND + 1)} else {wrap(y, COND)}", COND

    # ------------------------------------------------------------ functions
    def _print_Function(self, node, code):
        name = self.names.get(node.func)
        if name is None:
            raise NotImplementedError(
                f"no code printer for {node.func.__name__}: add a row to NAMES in "
                "zygote_sym/codegen/names.py")
        if "{" in name:  # a template: protect its operands like those of a comparison
            return name.format(*[wrap(code(v), REL + 1) for v in node.args]), ATOM
        return f"{name}({', '.join(code(v)[0] for v in node.args)})", ATOM

    # ------------------------------------------------------------ structural ops (NumPy)
    def _structural(self, node, code):
        return [code(v)[0] for v in node.operands]

    def _print_BroadcastTo(self, node, code):
        return f"np.broadcast_to({self._structural(node, code)[0]}, {node.params[0]!r})", ATOM

    def _print_SumTo(self, node, code):
        return f"_sum_to({self._structural(node, code)[0]}, {node.params[0]!r})", ATOM

    def _print__Reduce(self, node, code):
        axes, keep = node.params
        x = self._structural(node, code)[0]
        return f"np.{node.fname}({x}, axis={_axis_code(axes)}{_keepdims(keep)})", ATOM

    def _print_LogSumExp(self, node, code):
        axes, keep = node.params
        x = self._structural(node, code)[0]
        if 0 in self.shapes(node.operands[0]):  # SciPy 1.17 raises over several empty axes
            shape = self.shapes(node)
            return (f"np.full({shape!r}, -np.inf)", ATOM) if shape else ("-np.inf", UNARY)
        return f"sc.logsumexp({x}, axis={_axis_code(axes)}{_keepdims(keep)})", ATOM

    def _print_Norm(self, node, code):
        axes, keep = node.params
        return f"_norm({self._structural(node, code)[0]}, {axes!r}, {keep})", ATOM

    def _print_Softmax(self, node, code):
        x = self._structural(node, code)[0]
        shape = self.shapes(node)
        if 0 in shape:  # SciPy's max over an empty axis raises; the softmax is empty
            return f"np.zeros({shape!r})", ATOM
        return f"sc.softmax({x}, axis={_axis_code(node.params[0])})", ATOM

    def _print_Cumsum(self, node, code):
        return _scan_code("np.cumsum", self._structural(node, code)[0], *node.params), ATOM

    def _print_Cumprod(self, node, code):
        return _scan_code("np.cumprod", self._structural(node, code)[0], *node.params), ATOM

    def _print_Shift(self, node, code):
        x = self._structural(node, code)[0]
        return f"_shift({x}, {', '.join(map(str, node.params))})", ATOM

    def _print_LinRec(self, node, code):
        a, b = self._structural(node, code)
        return f"_linrec({a}, {b}, {', '.join(map(str, node.params))})", ATOM

    def _print_Einsum(self, node, code):
        xs = self._structural(node, code)
        opt = ", optimize=True" if len(xs) > 2 else ""
        return f"np.einsum({node.params[0]!r}, {', '.join(xs)}{opt})", ATOM

    def _print_MatMul(self, node, code):
        a, b = self._structural(node, code)
        if one_blas_thread(*map(self.shapes, node.operands)):  # see runtime.py
            return f"_matmul1({a}, {b})", ATOM
        return f"{_paren(a)} @ {_paren(b)}", ATOM

    def _print_Dot(self, node, code):
        a, b = self._structural(node, code)
        n = math.prod(self.shapes(node.operands[0]))  # (a dot product of the raveled)
        if one_blas_thread((n,), (n,)):
            return f"_dot1({a}, {b})", ATOM
        return f"np.dot(np.ravel({a}), np.ravel({b}))", ATOM

    def _print_Transpose(self, node, code):
        return f"np.transpose({self._structural(node, code)[0]}, {node.params[0]!r})", ATOM

    def _print_Reshape(self, node, code):
        return f"np.reshape({self._structural(node, code)[0]}, {node.params[0]!r})", ATOM

    def _print_Concatenate(self, node, code):
        xs = self._structural(node, code)
        return f"np.concatenate([{', '.join(xs)}], axis={node.params[0]})", ATOM

    def _print_Index(self, node, code):
        x, *arrays = self._structural(node, code)
        return f"{_paren(x)}[{_key_code(node.key, arrays)}]", ATOM

    def _print_Scatter(self, node, code):
        ct, *arrays = self._structural(node, code)
        key, shape = node.params
        fn = "_scatter" if arrays else "_place"  # ints and slices never repeat an index
        return f"{fn}({ct}, {shape!r}, np.s_[{_key_code(key, arrays)}])", ATOM

    def _print_SetItem(self, node, code):
        x, v, *arrays = self._structural(node, code)
        return f"_setitem({x}, {v}, np.s_[{_key_code(node.params[0], arrays)}])", ATOM

    def _print_Det(self, node, code):
        return f"np.linalg.det({self._structural(node, code)[0]})", ATOM

    def _print_Inv(self, node, code):
        return f"np.linalg.inv({self._structural(node, code)[0]})", ATOM

    def _print_Solve(self, node, code):
        a, b = self._structural(node, code)
        return f"np.linalg.solve({a}, {b})", ATOM

    def _print_Band(self, node, code):
        lo, hi = node.params
        x = self._structural(node, code)[0]
        x = x if lo is None else f"np.triu({x}, {lo})"
        return (x if hi is None else f"np.tril({x}, {hi})"), ATOM

    # the same calls as ir/numpy_ops.py's LINALG, which computes the traced values
    def _print_Cholesky(self, node, code):
        return f"np.linalg.cholesky({self._structural(node, code)[0]})", ATOM

    def _print_SolveTriangular(self, node, code):
        a, b = self._structural(node, code)
        lower, trans = node.params
        a = f"np.tril({a})" if lower else f"np.triu({a})"
        return f"np.linalg.solve({f'np.swapaxes({a}, -1, -2)' if trans else a}, {b})", ATOM

    def _print_SlogDet(self, node, code):
        return f"np.linalg.slogdet({self._structural(node, code)[0]})[{node.params[0]}]", ATOM

    def _print_Eigh(self, node, code):
        which, upper = node.params
        uplo = "U" if upper else "L"
        return f"np.linalg.eigh({self._structural(node, code)[0]}, {uplo!r})[{which}]", ATOM

    def _print_Svd(self, node, code):
        x = self._structural(node, code)[0]
        return f"np.linalg.svd({x}, full_matrices=False)[{node.params[0]}]", ATOM

    def _print_Pinv(self, node, code):
        return f"np.linalg.pinv({self._structural(node, code)[0]}, {node.params[0]!r})", ATOM

    def _print_Qr(self, node, code):
        return f"np.linalg.qr({self._structural(node, code)[0]})[{node.params[0]}]", ATOM

    # scipy.linalg is `sl` in the kernels' namespace (codegen/runtime.py)
    def _print_Expm(self, node, code):
        return f"sl.expm({self._structural(node, code)[0]})", ATOM

    def _print_Sqrtm(self, node, code):
        return f"sl.sqrtm({self._structural(node, code)[0]})", ATOM

    def _print_SolveSylvester(self, node, code):
        xs = ", ".join(self._structural(node, code))
        return f"sl.solve_sylvester({xs})", ATOM
