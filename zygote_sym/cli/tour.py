"""The tour: the founding examples, each shown as the call, its result and,
where one exists, its closed form and LaTeX.  `python -m zygote_sym` runs it.

Each step is real source code: the setup and the step's statements run with
`exec`, its last expression with `eval`, so what is printed is exactly what
ran.  As in the Python prompt, a result of None is not printed, and what a
step prints itself (`print(loss.source)`) is shown.

The colour-difference chapter runs `zygote_sym/cli/colordiff.py`, a colour
library written for plain NumPy that ships with the package, so the tour runs
from an installed wheel as it does from a checkout.
"""
import ast
import contextlib
import io
import textwrap

SETUP = """
import numpy as np, sympy
from dataclasses import dataclass
from fractions import Fraction
import zygote_sym as zs
from zygote_sym.cli.colordiff import colordiff

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

    # ---- arrays (issue 3): one symbol per array, elementwise; structural ops as nodes
    ("Arrays: the gradient of W @ x has rows equal to x",
     "W = np.ones((2, 3)); x = np.array([1.0, 2.0, 3.0])\n"
     "zs.gradient(lambda W: np.sum(W @ x), W)[0]", None),
    ("Elementwise functions of a whole array",
     "zs.gradient(lambda x: np.sum(np.abs(x)**2), np.array([7.0, 11.0, 13.0]))",
     "zs.derive(lambda x: np.sum(np.abs(x)**2), np.array([7.0, 11.0, 13.0]))"),
    ("Shapes are Python integers; an integer argument used as an index gets None",
     "zs.gradient(lambda x, y, d: np.sum(x**x.shape[d] + y), np.array([7.0, 11.0]), 0, 0)", None),
    ("A dict of parameters",
     "theta = {'W': np.ones((2, 3)), 'b': np.zeros(2)}\n"
     "def linear(θ, x): return θ['W'] @ x + θ['b']\n"
     "zs.gradient(lambda θ: np.sum(linear(θ, x)), theta)", None),
    ("A callable dataclass (a model): the gradient is a Tangent",
     "@dataclass\n"
     "class Linear:\n"
     "    W: np.ndarray\n"
     "    b: np.ndarray\n"
     "    def __call__(self, x):\n"
     "        return self.W @ x + self.b\n"
     "zs.gradient(lambda m: np.sum(m(x)), Linear(np.ones((2, 3)), np.zeros(2)))[0]", None),
    ("Implicit parameters: Params of globals, Grads keyed by the arrays themselves",
     "x = np.array([[1, 2, 3], [4, 5, 6]]); y = np.array([7, 8]); z = np.array([1, 10, 100])\n"
     "g = zs.gradient(lambda: np.sum(x * y[:, None] * z), zs.Params([x, y]))\n"
     "g[x], g[y], z in g", None),
    ("Broadcasting: each gradient is summed back to its input's shape",
     "zs.gradient(lambda x, y: np.sum(x * y), np.array([[1.0], [2.0]]), "
     "np.array([[3.0, 4.0, 5.0]]))", None),
    ("Fancy indexing with a repeated index adds up",
     "zs.gradient(lambda x: np.dot(np.ones(4), x[[0, 1, 2, 2]]), np.array([1.0, 2.0, 3.0]))",
     None),
    ("Sorting: the gradient follows the element", 
     "zs.gradient(lambda x: np.sort(x)[0], np.array([3.0, 1.0, 2.0]))", None),
    ("Item assignment is a functional update (Zygote refuses it)",
     "def f(x): y = x.copy(); y[0] = 2*x[1]; return np.sum(y)\n"
     "zs.gradient(f, np.array([1.0, 2.0, 3.0]))", None),
    ("Jacobians: one block per argument, output shape + input shape",
     "zs.jacobian(lambda a, x: a**2 * x, np.array([1.0, 2.0, 3.0]), 1.0)", None),
    ("Hessians", "zs.hessian(lambda x: x[0]*x[1], np.array([0.3, -0.2]))", None),
    ("", "zs.hessian(lambda x: np.sum(x**3), np.array([[1.0, 2.0], [3.0, 4.0]])).shape", None),
    ("", "zs.diaghessian(lambda x: np.sum(x**3), np.array([[1.0, 2.0], [3.0, 4.0]]))", None),

    # ---- closed forms of array code (issue 12): real SymPy, in the code's own names
    ("Closed forms of array code: matrix notation where it is matrix algebra",
     "X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]); y = np.array([1.0, 0.0, 2.0])\n"
     "zs.gradient(lambda w: np.sum((X @ w - y)**2), np.array([0.5, -0.5]))",
     "zs.derive(lambda w: np.sum((X @ w - y)**2), np.array([0.5, -0.5]))"),
    ("Index notation over the data, named as in the code",
     "data = np.array([1.2, 0.7, 2.3, 1.9])\n"
     "def loglik(mu, sigma):\n"
     "    return -len(data) * np.log(sigma) - np.sum((data - mu)**2) / (2 * sigma**2)\n"
     "zs.gradient(loglik, 1.5, 0.8)",
     "zs.derive(loglik, 1.5, 0.8)"),

    # ---- a library written for plain NumPy: Zygote's founding example
    ("Colour difference (CIEDE2000) from zygote_sym/cli/colordiff.py, plain NumPy",
     "red, green = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])\n"
     "zs.withgradient(colordiff, red, green)", None),
    ("", "from zygote_sym.testing import check_grads, numerical_gradient\n"
         "check_grads(colordiff, red, green)  # raises AssertionError on a mismatch\n"
         "numerical_gradient(colordiff, red, green)  # the central differences it compared",
     None),

    # ---- compiled gradients (issue 4)
    ("Compiled: trace once, then every call runs the generated kernel",
     "@zs.compile(wrt=0)\n"
     "def loss(p, t, y):\n"
     "    a, b, c = p\n"
     "    return np.sum((a*np.exp(-b*t) + c - y)**2)\n"
     "t = np.linspace(0.0, 1.0, 5); y = 2*np.exp(-t) + 0.5\n"
     "loss.gradient(np.array([1.0, 1.0, 0.0]), t, y)", None),
    ("", "print(loss.source)", None),
    ("A function of scalars called with an array: a gradient field, branch by branch",
     "zs.compile(lambda x: x**2 if x > 0 else -x).gradient(np.linspace(-1, 1, 5))", None),
]


def _prompted(code, tree):
    """The code as typed at the Python prompt: `>>> ` where a statement
    starts (at its first decorator), `... ` on its continuation lines."""
    starts = {min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
              for n in tree.body}
    return [(">>> " if i in starts else "... ") + line
            for i, line in enumerate(code.split("\n"), start=1)]


def _run_step(code, ns, out):
    """Run the statements of `code`, then return its last expression's value;
    what they print goes through `out`."""
    tree = ast.parse(code)
    *statements, last = tree.body
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(ast.Module(statements, []), "<tour>", "exec"), ns)
        value = eval(compile(ast.Expression(last.value), "<tour>", "eval"), ns)
    if buffer.getvalue():
        out(buffer.getvalue().rstrip("\n"))
    return value


def run(out=print):
    ns = {}
    exec(SETUP, ns)
    for title, code, closed in STEPS:
        if title:
            out(f"\n## {title}")
        for line in _prompted(code, ast.parse(code)):
            out(line)
        value = _run_step(code, ns, out)
        if value is not None:
            out(repr(value))
        if closed:
            d = eval(closed, ns)
            out(f">>> {closed}")
            out(textwrap.indent(repr(d), "    "))
            out(f"    LaTeX: {d.latex()}")
