"""Print one node as Python source, for one backend.

Backends: "math" (Python floats and the `math` module: ~1 µs per scalar
call), "exact" (Python arithmetic on Fractions: rational constants stay
exact) and "numpy" (arrays).  Operands arrive already printed, so the
printer never walks the DAG (SymPy's printers are exponential on shared
DAGs).  Function names are a table, one line per function; an entry with
`{}` or `{0}` is a template the arguments fill.

Special points: the stable forms of rules/special.py (`softplus` as
`max(x, 0) + log1p(exp(-|x|))`, `sigmoid` as `expit`, `strong_mul` as a product whose 0
beats inf) are kernel helpers in `math` and NumPy/SciPy calls in NumPy; a
select (and a `guard`) in `math` is a conditional expression, which
evaluates only the branch taken.
"""
import sympy as sp
from sympy.codegen.cfunctions import expm1, exp2, hypot, log1p, log2, log10
from sympy.core.relational import Relational

from ..ops import ArrayOp, Where
from ..rules.special import (either, guard, logaddexp, nonfinite, sigmoid, softplus,
                             strong_mul)

#  SymPy function   math backend (also "exact")   numpy backend
FUNCTIONS = {
    sp.exp:      ("math.exp",    "np.exp"),
    sp.log:      ("math.log",    "np.log"),
    log1p:       ("math.log1p",  "np.log1p"),
    expm1:       ("math.expm1",  "np.expm1"),
    exp2:        ("_exp2",       "np.exp2"),
    log2:        ("math.log2",   "np.log2"),
    log10:       ("math.log10",  "np.log10"),
    sp.sin:      ("math.sin",    "np.sin"),
    sp.cos:      ("math.cos",    "np.cos"),
    sp.tan:      ("math.tan",    "np.tan"),
    sp.asin:     ("math.asin",   "np.arcsin"),
    sp.acos:     ("math.acos",   "np.arccos"),
    sp.atan:     ("math.atan",   "np.arctan"),
    sp.atan2:    ("math.atan2",  "np.arctan2"),
    hypot:       ("math.hypot",  "np.hypot"),
    sp.sinh:     ("math.sinh",   "np.sinh"),
    sp.cosh:     ("math.cosh",   "np.cosh"),
    sp.tanh:     ("math.tanh",   "np.tanh"),
    sp.asinh:    ("math.asinh",  "np.arcsinh"),
    sp.acosh:    ("math.acosh",  "np.arccosh"),
    sp.atanh:    ("math.atanh",  "np.arctanh"),
    sp.erf:      ("math.erf",    "sc.erf"),
    sp.erfc:     ("math.erfc",   "sc.erfc"),
    sp.gamma:    ("math.gamma",  "sc.gamma"),
    sp.loggamma: ("math.lgamma", "sc.gammaln"),
    sp.Abs:      ("abs",         "np.abs"),
    sp.sign:     ("_sign",       "np.sign"),
    sp.floor:    ("math.floor",  "np.floor"),
    sp.ceiling:  ("math.ceil",   "np.ceil"),
    sp.Max:      ("max",         "np.maximum"),
    sp.Min:      ("min",         "np.minimum"),
    sp.Heaviside: ("float({} > 0)", "np.heaviside({}, {})"),  # built with H(0) = 0 only
    softplus:    ("_softplus",   "_np_softplus"),
    sigmoid:     ("_sigmoid",    "sc.expit"),
    logaddexp:   ("_logaddexp",  "np.logaddexp"),
    strong_mul:  ("_strong_mul({0}, {1})", "_np_strong_mul"),  # `math` checks by itself
    nonfinite:   ("(not math.isfinite({}))", "_nonfinite"),
    either:      ("({} or {})",  "({} or {})"),
    guard:       ("({0} if {1} else {2})", "np.where({1}, {0}, {2})"),
}

_CONSTANTS = {sp.pi: "pi", sp.E: "e", sp.oo: "inf", -sp.oo: "-inf", sp.nan: "nan"}

_REL = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}

ATOM, POW, UNARY, MUL, ADD, REL, NOT, AND, OR, COND = 100, 60, 55, 50, 40, 30, 25, 20, 10, 5


class Printer:
    """`render(node, operand_code)` -> (source, precedence)."""

    def __init__(self, backend):
        self.backend = backend
        self.mod = "np" if backend == "numpy" else "math"
        self.sqrt = {"numpy": "np.sqrt", "numexpr": "sqrt"}.get(backend, "math.sqrt")

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
        a = node.args
        if isinstance(node, sp.Add):
            out = wrap(code(a[0]), ADD)
            for t in a[1:]:
                s = wrap(code(t), ADD + 1)
                out += f" - {s[1:]}" if s.startswith("-") and code(t)[1] != ATOM else f" + {s}"
            return out, ADD
        if isinstance(node, sp.Mul):
            return self.mul(node, code)
        if isinstance(node, sp.Pow):
            return self.pow(node, code)
        if isinstance(node, Relational):
            return f"{wrap(code(a[0]), REL + 1)} {_REL[node.rel_op]} {wrap(code(a[1]), REL + 1)}", REL
        if isinstance(node, (sp.And, sp.Or, sp.Not)):
            return self.logic(node, code)
        if isinstance(node, Where):
            c, x, y = (code(v) for v in a)
            if self.backend == "numpy":
                return f"np.where({c[0]}, {x[0]}, {y[0]})", ATOM
            return f"{wrap(x, COND + 1)} if {wrap(c, COND + 1)} else {wrap(y, COND)}", COND
        if isinstance(node, ArrayOp):
            return node.numpy(*[code(v)[0] for v in node.operands]), ATOM
        if isinstance(node, sp.Mod):
            return f"{wrap(code(a[0]), MUL + 1)} % {wrap(code(a[1]), MUL + 1)}", MUL
        if node.func is sp.polygamma:
            return f"sc.polygamma({code(a[0])[0]}, {code(a[1])[0]})", ATOM
        if node.func is strong_mul and self.backend == "exact":  # Fractions are finite
            return self.mul(sp.Mul(*a[:2], evaluate=False), code)
        names = FUNCTIONS.get(node.func)
        if names is None:
            raise NotImplementedError(
                f"no code printer for {node.func.__name__}: add a line to FUNCTIONS "
                "in zygote_sym/codegen/printers.py")
        name = names[1] if self.backend == "numpy" else names[0]
        if "{" in name:  # a template: protect its operands like those of a comparison
            return name.format(*[wrap(code(v), REL + 1) for v in a]), ATOM
        return f"{name}({', '.join(code(v)[0] for v in a)})", ATOM

    def mul(self, node, code):
        num, den, sign = [], [], ""
        for f in node.args:
            if f == -1:
                sign = "-" if not sign else ""
            elif isinstance(f, sp.Pow) and isinstance(f.exp, sp.Number) and f.exp < 0 \
                    and code(f)[1] != ATOM:  # (a temporary is used as it is)
                e = -f.exp
                den.append(code(f.base) if e == 1 else self.pow(sp.Pow(f.base, e, evaluate=False), code))
            else:
                num.append(code(f))
        text = "*".join(wrap(c, MUL) for c in num) or "1"
        if den:
            d = "*".join(wrap(c, MUL) for c in den)
            text += f"/{d if len(den) == 1 and den[0][1] > MUL else '(' + d + ')'}"
        return (sign + text, UNARY) if sign else (text, MUL)

    def pow(self, node, code):
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

    def logic(self, node, code):
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


def wrap(code, prec):
    text, p = code
    return f"({text})" if p < prec else text
