"""Expressions from user text: ONE reader for `derive EXPR` and NIST model lines.

The text is never run (no eval, exec, sympify or parse_expr): :func:`parse`
walks Python's `ast` of it and builds SymPy for a whitelist of syntax, within
the MAX_ bounds, so that no text makes it compute something huge;
:func:`as_numpy_function` computes the result with NumPy (and tracers).
"""
import ast
import inspect
import math
import operator
from functools import lru_cache, reduce

import numpy as np
import scipy.special as sc
import sympy as sp
from sympy.codegen.cfunctions import Cbrt, expm1, log1p, log2, log10

__all__ = ["ExprError", "FUNCTIONS", "parse", "as_numpy_function"]

MAX_CHARS = 10_000
MAX_NODES = 2_000     # ast expression nodes
MAX_DEPTH = 100       # levels of nesting (a chain a + b - c ... is one level)
MAX_DIGITS = 1_000    # of an integer literal, and of a power of numbers that parse computes
MAX_EXPONENT = 1_000  # of a power of numbers that parse computes


class ExprError(ValueError):
    """Text that :func:`parse` refuses, or a node :func:`as_numpy_function` cannot compute."""


# One line per function: its names (NumPy's first), SymPy and NumPy functions, arguments.
_TABLE = [
    ("sin", sp.sin, np.sin, 1),
    ("cos", sp.cos, np.cos, 1),
    ("tan", sp.tan, np.tan, 1),
    ("arcsin asin", sp.asin, np.arcsin, 1),
    ("arccos acos", sp.acos, np.arccos, 1),
    ("arctan atan", sp.atan, np.arctan, 1),
    ("arctan2 atan2", sp.atan2, np.arctan2, 2),
    ("sinh", sp.sinh, np.sinh, 1),
    ("cosh", sp.cosh, np.cosh, 1),
    ("tanh", sp.tanh, np.tanh, 1),
    ("arcsinh asinh", sp.asinh, np.arcsinh, 1),
    ("arccosh acosh", sp.acosh, np.arccosh, 1),
    ("arctanh atanh", sp.atanh, np.arctanh, 1),
    ("exp", sp.exp, np.exp, 1),
    ("expm1", expm1, np.expm1, 1),
    ("log", sp.log, np.log, 1),
    ("log1p", log1p, np.log1p, 1),
    ("log2", log2, np.log2, 1),
    ("log10", log10, np.log10, 1),
    ("sqrt", sp.sqrt, np.sqrt, 1),  # SymPy writes x**(1/2)
    ("cbrt", Cbrt, np.cbrt, 1),
    ("absolute abs", sp.Abs, np.abs, 1),
    ("sign", sp.sign, np.sign, 1),
    ("floor", sp.floor, np.floor, 1),
    ("ceil", sp.ceiling, np.ceil, 1),
    ("erf", sp.erf, sc.erf, 1),
    ("erfc", sp.erfc, sc.erfc, 1),
    ("gamma", sp.gamma, sc.gamma, 1),
]
#: name -> (SymPy function, NumPy function, number of arguments)
FUNCTIONS = {name: (s, n, k) for names, s, n, k in _TABLE for name in names.split()}
_NUMPY = {s: n for s, n, _ in FUNCTIONS.values() if isinstance(s, type)}
_CHAINS = {ast.Add: sp.Add, ast.Sub: sp.Add, ast.Mult: sp.Mul, ast.Div: sp.Mul}
_INVERSE = {ast.Sub: operator.neg, ast.Div: lambda v: sp.Pow(v, -1)}
_FIX = "write arithmetic (+ - * /, ** for powers) of numbers and names, and calls like sin(x)"


def _short(text, n=60):
    return repr(text if len(text) <= n else text[:n - 3] + "...")


def _fold_pow(b, e):
    """b**e of two SymPy numbers if small and real, sized with logarithms first."""
    log10 = (max(math.log10(abs(b.p)), math.log10(b.q)) if b.is_Rational
             else abs(float(sp.log(abs(b)))) / math.log(10)) if b else 0.0
    if abs(e) > MAX_EXPONENT or log10 * float(abs(e)) >= MAX_DIGITS:
        raise ExprError(f"exponent tower too large ({_short(f'{b}**{e}', 30)[1:-1]}); powers of "
                        f"numbers need |exponent| <= {MAX_EXPONENT} and < {MAX_DIGITS} digits")
    if b.is_negative and not (e.is_Integer or e.is_Float and e == int(e)):
        raise ExprError("not a real number; use cbrt(x) for a cube root")
    return sp.Pow(b, e)


def _holds_big(e, depth=2):  # (SymPy keeps a sum's or product's numbers in two levels)
    """Does e hold an exact number above MAX_EXPONENT?"""
    return (max(abs(e.p), e.q) > MAX_EXPONENT if e.is_Rational
            else depth > 0 and any(_holds_big(a, depth - 1) for a in e.args))


def parse(text, *, names=None, brackets=False):
    """A SymPy expression from text: int and float literals, names, `+ - * /
    **`, unary `-`/`+`, parentheses and calls of the :data:`FUNCTIONS` by
    bare name, with positional arguments.  A name is a function only where it
    is called (`gamma(x)` is the Gamma function, `gamma*x` a product); every
    other name is a real Symbol (`beta`, `N`, `S`, `I`, also `e` and `E`:
    write `exp(1)`); the constant is `pi`.  names: if given, the only names
    allowed as symbols.  brackets: read `[...]` as parentheses (NIST's
    notation).  Raises ExprError (a ValueError) naming the offending part.

    >>> parse("sin(x)*y + x**2 + gamma*x + gamma(x)")
    gamma*x + x**2 + y*sin(x) + gamma(x)
    >>> parse("b1*(1-exp[-b2*x])", names={"b1", "b2", "x"}, brackets=True)
    b1*(1 - exp(-b2*x))
    >>> parse("2 * 9**9**9")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    zygote_sym.cli.expr.ExprError: cannot read '2 * 9**9**9': '9**9**9': exponent tower too large...
    """
    if len(text) > MAX_CHARS:
        raise ExprError(f"the expression has {len(text)} characters (at most {MAX_CHARS})")
    src = (text.replace("[", "(").replace("]", ")") if brackets else text).strip()
    head = f"cannot read {_short(text)}"
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError) as e:  # (ValueError: a null byte, before Python 3.11)
        where = f" at column {getattr(e, 'offset', 0) or len(src)}"
        raise ExprError(f"{head}: {getattr(e, 'msg', e)}{where}") from None
    except (RecursionError, MemoryError):  # the parser's own stack
        raise ExprError(f"{head}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    if sum(isinstance(n, ast.expr) for n in ast.walk(tree)) > MAX_NODES:
        raise ExprError(f"{head}: more than {MAX_NODES} numbers, names and operations")

    def fail(problem, node=None):
        part = node and ast.get_source_segment(src, node)
        raise ExprError(f"{head}: " + (f"{_short(part, 40)}: " if part and part != src else "")
                        + problem)

    bigs = set()  # the nodes that hold a big number

    def make(build, *parts, big=False):
        # Above a big number nodes are built as written, unevaluated: SymPy
        # could raise something to it (exp(c*log(2*x)) is (2*x)**c, so 2**c).
        big = big or any(p in bigs for p in parts)
        with sp.evaluate(not big):
            out = build(*parts)
        if big or _holds_big(out):
            bigs.add(out)
        return out

    def walk(node, depth):
        if depth > MAX_DEPTH:
            fail(f"nested more than {MAX_DEPTH} levels deep", node)
        if isinstance(node, ast.Constant):
            v = node.value
            if type(v) is int and abs(v) < 10**MAX_DIGITS or type(v) is float and math.isfinite(v):
                return make(sp.Integer if type(v) is int else sp.Float, v)
            fail(f"the constant {v!r:.30} is not allowed; write int (of at most {MAX_DIGITS} "
                 "digits) or finite float literals", node)
        if isinstance(node, ast.Name):
            if names is not None and node.id not in names and node.id != "pi":
                fail(f"unknown name {node.id!r}; allowed: {', '.join(sorted(names))} and pi")
            return sp.pi if node.id == "pi" else sp.Symbol(node.id, real=True)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return make(operator.neg if isinstance(node.op, ast.USub) else operator.pos,
                        walk(node.operand, depth + 1))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            b, e = walk(node.left, depth + 1), walk(node.right, depth + 1)
            try:
                return make(_fold_pow if b.is_Number and e.is_Number else sp.Pow, b, e)
            except ExprError as err:
                fail(str(err), node)
        if isinstance(node, ast.BinOp) and type(node.op) in _CHAINS:
            # a + b - c (or a * b / c) is one level: a long sum is not deep nesting
            kind, rights = _CHAINS[type(node.op)], []
            while isinstance(node, ast.BinOp) and _CHAINS.get(type(node.op)) is kind:
                rights.append(node)
                node = node.left
            parts = [walk(node, depth + 1)]
            for op_node in reversed(rights):
                v = walk(op_node.right, depth + 1)
                if isinstance(op_node.op, ast.Div) and v.is_zero:
                    fail("division by zero", op_node)
                parts.append(make(_INVERSE[type(op_node.op)], v)
                             if type(op_node.op) in _INVERSE else v)
            return make(kind, *parts)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                walk(node.func, depth + 1)  # names what is wrong with it, e.g. an attribute
                fail("only functions named by themselves can be called", node.func)
            if node.func.id not in FUNCTIONS:
                fail(f"unknown function {node.func.id!r}; known: {', '.join(FUNCTIONS)}")
            build, _, n = FUNCTIONS[node.func.id]
            if node.keywords or len(node.args) != n:  # (a *args is refused as Starred)
                fail(f"{node.func.id} takes {n} positional argument(s), no keywords", node)
            args = [walk(a, depth + 1) for a in node.args]
            # Of numbers it stays as written: SymPy would compute floor(exp(exp(20))).
            return make(build, *args, big=not any(a.free_symbols for a in args))
        op = getattr(node, "op", None)
        fail(f"{f'the operator {type(op).__name__}' if op else type(node).__name__} is not "
             f"allowed; {_FIX}", node)

    expr = walk(tree.body, 0)
    bad = [a for a in (sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I) if expr.has(a)]
    if bad:
        fail(f"not finite and real: it holds {bad[0]} (as 0**-1 and sqrt(-exp(x)) do)")
    return expr


def as_numpy_function(expr, symbols):
    """f(*args): expr with args in place of symbols, computed by a walk over
    expr (each distinct node once per call) with NumPy functions and Python
    operators, so that arrays and zygote_sym's tracers flow through.

    >>> x = sp.Symbol("x", real=True)
    >>> f = as_numpy_function(parse("sqrt(x)/(1 + x**2)"), [x])
    >>> f(np.array([1.0, 4.0]))
    array([0.5       , 0.11764706])
    """
    symbols = tuple(symbols)
    position = {s: i for i, s in enumerate(symbols)}
    for node in sp.preorder_traversal(expr):
        if not (node in position or node.is_Rational or node.is_Float or node in (sp.pi, sp.E)
                or isinstance(node, (sp.Add, sp.Mul, sp.Pow)) or type(node) in _NUMPY):
            what = "no value for the symbol" if node.is_Symbol else "no NumPy spelling of"
            raise ExprError(f"{what} {_short(str(node), 40)} in {_short(str(expr))}")

    def f(*args):
        @lru_cache(maxsize=None)  # each distinct node once
        def ev(e):
            if e in position:
                return args[position[e]]
            if e.is_Integer:
                return int(e)  # exact, so that x**2 stays a power of an integer
            if e.is_Rational or e.is_Float or e in (sp.pi, sp.E):
                return float(e)  # (float(sp.pi) is np.pi)
            if e.is_Add:
                return reduce(operator.add, map(ev, e.args))
            if e.is_Mul:  # a*b/c: the factors with negative exponents divide
                den = [a for a in e.args if a.is_Pow and a.exp.is_Number and a.exp < 0]
                num = reduce(operator.mul, [ev(a) for a in e.args if a not in den] or [1])
                den = [ev(sp.Pow(a.base, -a.exp, evaluate=False)) for a in den]
                return num / reduce(operator.mul, den) if den else num
            if e.is_Pow and e.exp == sp.S.Half:
                return np.sqrt(ev(e.base))
            if e.is_Pow and e.exp.is_Number and e.exp < 0:  # x**-1 is 1/x
                return 1 / ev(sp.Pow(e.base, -e.exp, evaluate=False))
            if e.is_Pow:
                b = ev(e.base)
                return (float(b) if isinstance(b, int) else b) ** ev(e.exp)  # no exact huge powers
            return _NUMPY[type(e)](*map(ev, e.args))
        return ev(expr)

    if all(s.name.isidentifier() for s in symbols):  # so that traces name the arguments
        f.__signature__ = inspect.Signature(
            [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_ONLY) for s in symbols])
    return f
