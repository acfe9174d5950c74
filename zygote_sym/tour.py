"""The tour: the founding examples, each shown as the call, its result and,
where one exists, its closed form and LaTeX.  `python -m zygote_sym` runs it.

Each step is real source code: the setup runs with `exec`, the shown call
with `eval`, so what is printed is exactly what ran.
"""
import textwrap

SETUP = """
import numpy as np, sympy
from dataclasses import dataclass
from fractions import Fraction
import zygote_sym as zs

def pow(x, n):
    r = 1
    for i in range(n):
        r *= x
    return r

def pow2(x, n):
    return 1 if n <= 0 else x * pow2(x, n - 1)

d = {}
def f(x):
    d['x'] = x
    return d['x'] * d['x']

@dataclass
class Point:
    x: float
    y: float
    def __add__(self, o): return Point(self.x + o.x, self.y + o.y)
    def __sub__(self, o): return Point(self.x - o.x, self.y - o.y)

def dist(p):
    return np.sqrt(p.x**2 + p.y**2)

a, b = Point(1, 2), Point(3, 4)

def piecewise(x):
    if x > 0:
        return x**2
    elif x < 0:
        return -x
    else:
        return 0 * x

def halvings(x):
    n = 0
    while x > 1:
        x = x / 2
        n += 1
    return x * n
"""

# (title, code whose last line is the expression shown, closed form to derive or None)
STEPS = [
    ("A polynomial", "zs.gradient(lambda x: 3*x**2 + 2*x + 1, 5)",
     "zs.derive(lambda x: 3*x**2 + 2*x + 1, sympy.Symbol('x'))"),
    ("Several arguments", "zs.gradient(lambda a, b: a*b, 2, 3)", None),
    ("", "zs.gradient(lambda a, b, c: a*b*c, 2.0, 3.0, 5.0)", None),
    ("Exact rationals in, exact rationals out",
     "zs.gradient(lambda x: 3*x**2 + 2*x + 1, Fraction(1, 4))", None),
    ("A for loop", "zs.gradient(lambda x: pow(x, 3), 5)",
     "zs.derive(lambda x: pow(x, 3), sympy.Symbol('x'))"),
    ("Recursion", "zs.gradient(lambda x: pow2(x, 3), 5)", None),
    ("Mutation of a dict (and d['x'] is a plain number afterwards)",
     "(zs.gradient(f, 5), d)", None),
    ("A dataclass: the gradient is a Tangent with its fields",
     "zs.gradient(lambda a: dist(a + b), a)[0]", "zs.derive(lambda a: dist(a + b), a)"),
    ("Value and gradient together", "zs.withgradient(lambda a, b: a / b, 1, 2)", None),
    ("A pullback (vector-Jacobian product)",
     "y, back = zs.pullback(lambda a, b, c: a*b*c, 2.0, 3.0, 5.0)\ny, back(2.0)", None),
    ("An unused argument gets None", "zs.gradient(lambda x, y: y, 1.0, 2.0)", None),
    ("Dicts keep their keys; static entries get None",
     "zs.gradient(lambda p: p['a']*p['b'] + p['b'], {'a': 2.0, 'b': 3.0, 'name': 'k'})", None),
    ("if / elif / else: the branch taken", "[zs.gradient(piecewise, v)[0] for v in (3.0, -2.0)]",
     "zs.derive(piecewise, 3.0)"),
    ("A while loop whose trip count depends on x", "zs.gradient(halvings, 10.0)", None),
]


def run(out=print):
    ns = {}
    exec(SETUP, ns)
    for title, code, closed in STEPS:
        if title:
            out(f"\n## {title}")
        *statements, expr = code.split("\n")
        for line in code.split("\n"):
            out(f">>> {line}")
        for line in statements:
            exec(line, ns)
        out(repr(eval(expr, ns)))
        if closed:
            d = eval(closed, ns)
            out(f">>> {closed}")
            out(textwrap.indent(repr(d), "    "))
            out(f"    LaTeX: {d.latex()}")
