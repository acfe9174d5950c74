"""Closed forms (issue 12): real SymPy, in the user's names, faithful.

The faithfulness property: every closed form `derive` shows, evaluated by
SymPy's own `lambdify` (Derivation.evaluate: no zygote_sym kernel), equals
the numeric gradient, over the oracle's random expressions
(tests/test_oracle.py), the tour's examples and the issue's examples.
"""
import sys
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings

import zygote_sym as zs
from test_oracle import cases
from zygote_sym.closed import display, matrix
from zygote_sym.closed.unpack import unpacked_names

RNG = np.random.default_rng(12)
X, Y = RNG.normal(size=(5, 3)), RNG.normal(size=5)
W, B = RNG.normal(size=(4, 3)), RNG.normal(size=4)
DATA = RNG.normal(size=200)
T = np.linspace(0.0, 1.0, 5)
YT = 2 * np.exp(-T) + 0.5


def faithful(f, *args, **kw):
    """derive(f, *args): its closed forms, evaluated by lambdify, equal zs.gradient."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = zs.derive(f, *args, **kw)
        shown, ref = d.evaluate(*args), zs.gradient(f, *args)
        index = d.evaluate(*args, notation="index") if d._matrices else shown
    for m, r in [*zip(_leaves(shown), _leaves(ref)), *zip(_leaves(index), _leaves(ref))]:
        if m is None and "wrt" in kw:
            continue
        if r is None:
            assert m is None or np.all(np.asarray(m) == 0)
        else:
            np.testing.assert_allclose(m, r, rtol=1e-8, atol=1e-10 * max(1, np.max(np.abs(r))))
    text = repr(d) + d.latex()
    for internal in ("SumTo(", "BroadcastTo(", "Scatter(", "Index(", "Reshape(", "MatMul("):
        assert internal not in text or any(n.startswith(internal[:-1]) for n in d.notes)
    return d


def _leaves(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _leaves(x[k])]
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _leaves(item)]
    if hasattr(x, "__dict__") and not isinstance(x, np.ndarray):
        return [v for item in vars(x).values() for v in _leaves(item)]
    return [x]


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(cases())
def test_every_closed_form_of_the_oracle_is_faithful(case):
    d = faithful(case.f, *case.point)
    assert sp.latex(d) == d.latex()


def _euler(k, steps=30, dt=0.01):
    x, v = 1.0, 0.0
    for _ in range(steps):
        x, v = x + dt * v, v - dt * k * x
    return x


def _loss(p):
    a, k, c = p
    return np.sum((a * np.exp(-k * T) + c - YT) ** 2)


EXAMPLES = [  # (f, args): the tour's and the examples
    (lambda x: 3 * x**2 + 2 * x + 1, (5.0,)),
    (lambda x: x * x * x, (5.0,)),
    (lambda x: np.sum(np.abs(x) ** 2), (np.array([7.0, 11.0, 13.0]),)),
    (lambda w: np.sum((X @ w - Y) ** 2), (np.ones(3),)),
    (lambda x: np.sum(np.tanh(W @ x + B) ** 2), (np.ones(3),)),
    (lambda x: x[0] * x[1], (np.array([7.0, 11.0, 13.0]),)),
    (_loss, (np.array([1.0, 1.0, 0.0]),)),
    (lambda p: p["A"] * np.sin(p["k"]), ({"A": 1.5, "k": 2.0},)),
    (lambda mu: np.mean((DATA - mu) ** 2), (0.3,)),
    (lambda x: np.sum(np.cumsum(x) ** 2) + x[::-1][0], (np.array([1.0, 2.0, 3.0]),)),
    (lambda A: np.sum(A.T @ A) + np.trace(A), (np.array([[1.0, 2.0], [3.0, 4.0]]),)),
    (lambda x: np.max(x) * np.sum(x), (np.array([1.0, 5.0, 3.0]),)),  # Max: shown as computed
    (_euler, (2.0,)),  # let-bound past the budget
]


@pytest.mark.parametrize("f, args", EXAMPLES, ids=range(len(EXAMPLES)))
def test_examples_are_faithful(f, args):
    faithful(f, *args)


def _gaussian(mu, sigma):
    return -len(DATA) * np.log(sigma) - np.sum((DATA - mu) ** 2) / (2 * sigma**2)


def test_gaussian_log_likelihood_reads_as_on_paper():
    d = faithful(_gaussian, 0.1, 1.2)
    x, mu, sigma = d._names.base(d.traced.consts[0]) if d.traced.consts else \
        sp.IndexedBase("DATA", real=True), sp.Symbol("mu", real=True), \
        sp.Symbol("sigma", real=True)
    i, n = sp.Symbol("i", integer=True), sp.Symbol("n", integer=True, positive=True)
    x = sp.IndexedBase("DATA", shape=(n,), real=True)
    assert d.gradient[0] == sp.Sum(x[i] - mu, (i, 0, n - 1)) / sigma**2
    assert d.gradient[1] == -200 / sigma + sp.Sum((x[i] - mu) ** 2, (i, 0, n - 1)) / sigma**3
    assert "n = 200" in repr(d)  # the legend
    assert "c0" not in repr(d) and "200.0" not in repr(d)  # the captured array by name


def test_least_squares_gradient_is_right_and_named():
    """The issue printed {c_0}^T - 2c_1 + 2c_0 w for 2X^T(Xw - y)."""
    d = faithful(lambda w: np.sum((X @ w - Y) ** 2), np.ones(3))
    i, j, k = sp.symbols("i j k", integer=True)
    n, m = sp.symbols("n m", integer=True, positive=True)
    Xs, Ys, w = (sp.IndexedBase("X", shape=(m, n), real=True),
                 sp.IndexedBase("Y", shape=(m,), real=True),
                 sp.IndexedBase("w", shape=(n,), real=True))
    residual = sp.Sum(Xs[j, k] * w[k], (k, 0, n - 1)) - Ys[j]
    expected = 2 * sp.Sum(residual * Xs[j, i], (j, 0, m - 1))
    assert str(d.gradient[0]) == "2*X.T*(X*w - Y)"  # matrix notation, checked by faithful()
    assert sp.latex(d.gradient[0]) == r"2 X^{T} \left(X w - Y\right)"
    got = d.index_form[0]
    args = [Xs, Ys, w, n, m, i]
    at = (X, Y, np.array([0.3, -1.0, 2.0]), 3, 5)
    for row in range(3):
        assert sp.lambdify(args, got)(*at, row) == pytest.approx(
            sp.lambdify(args, expected)(*at, row), rel=1e-12)
    assert {"X", "Y", "w"} <= {s.name for s in got.atoms(sp.IndexedBase)}


def test_a_sum_sign_gets_parentheses():
    d = zs.derive(lambda mu: -np.sum((DATA - mu) ** 2), 0.3)
    assert r"\sum_{i=0}^{n - 1} \left(" in sp.latex(d.value)


def test_forms_are_plain_sympy():
    d = zs.derive(_gaussian, 0.1, 1.2)
    mu = sp.Symbol("mu", real=True)
    g = d.gradient[0]
    assert sp.diff(g, mu).doit() != 0 and not g.has(sp.Derivative)
    sp.simplify(g)
    assert "Sum" in sp.srepr(g) and sp.pretty(g)
    assert sp.latex(d) == d.latex() and d._repr_latex_() == f"$\\displaystyle {sp.latex(d)}$"


def test_notebook_display_has_latex_offline_html_and_the_kernel():
    d = zs.derive(_gaussian, 0.1, 1.2)
    bundle = d._repr_mimebundle_()
    assert bundle["text/latex"] == d._repr_latex_()
    html = bundle["text/html"]
    assert html.count("<math") == 2 and "&#x2211;" in html  # MathML: a rendered Σ
    assert "<details><summary>kernel source</summary><pre>" in html
    assert "def kernel(mu, sigma" in html and d.source.splitlines()[-1].strip() in html
    # symbolic arguments too: the kernel takes them as floats
    symbolic = zs.derive(lambda x: np.sin(x) * x, sp.Symbol("x"))._repr_mimebundle_()["text/html"]
    assert "<summary>kernel source</summary><pre>def kernel(x):" in symbolic
    # the source is HTML-escaped: a comparison in a kernel cannot open a tag
    d = zs.derive(lambda x: np.sum(np.where(x < 1.0, x, 2 * x)), np.array([0.5, 3.0]))
    html = d._repr_mimebundle_()["text/html"]
    assert "&lt;" in html.split("<pre>")[1] and "<" not in html.split("<pre>")[1].split("</pre>")[0]


def test_wrt_chooses_the_arguments():
    f = lambda w, X, y: np.sum((X @ w - y) ** 2)  # noqa: E731
    d = faithful(f, np.ones(3), X, Y, wrt=0)
    assert d.gradient[1] is None and d.gradient[2] is None
    assert zs.derive(f, np.ones(3), X, Y, wrt="y").gradient[0] is None
    with pytest.raises(ValueError, match="no argument 'z'"):
        zs.derive(f, np.ones(3), X, Y, wrt="z")
    with pytest.raises(ValueError, match="not an argument position"):
        zs.derive(f, np.ones(3), X, Y, wrt=5)


def test_a_long_loop_is_let_bound_not_megabytes():
    d = faithful(lambda k: _euler(k, steps=60), 2.0)
    assert d.lines and any("temporaries" in n for n in d.notes)
    assert not d._loops  # x and v updated together: two variables, not one recurrence
    assert len(d.latex()) < 200_000


def test_an_op_without_index_notation_is_shown_as_computed_and_said_so():
    d = faithful(lambda x: np.max(x) * np.sum(x), np.array([1.0, 5.0, 3.0]))
    assert any(n.startswith("Max") for n in d.notes)


# ---------------------------------------------------------------- lengths as n
N_SYM = sp.Symbol("n", integer=True, positive=True)
I_SYM = sp.Symbol("i", integer=True)
MU, SIGMA = sp.Symbol("mu", real=True), sp.Symbol("sigma", real=True)


def test_a_count_from_a_sum_reads_as_the_length_n():
    """The issue's Gaussian log-likelihood: ∂/∂σ = -n/σ + Σᵢ (xᵢ-μ)²/σ³, not -200/σ."""
    x = DATA

    def loglik(mu, sigma):
        return np.sum(-np.log(sigma) - (x - mu) ** 2 / (2 * sigma**2))

    d = faithful(loglik, 0.1, 1.2)
    xs = sp.IndexedBase("x", shape=(N_SYM,), real=True)
    assert d.gradient[0] == sp.Sum(xs[I_SYM] - MU, (I_SYM, 0, N_SYM - 1)) / SIGMA**2
    assert d.gradient[1] == -N_SYM / SIGMA + \
        sp.Sum((xs[I_SYM] - MU) ** 2, (I_SYM, 0, N_SYM - 1)) / SIGMA**3
    text = repr(d)
    assert "where n = 200" in text and "200" not in text.replace("n = 200", "")
    assert r"- \frac{n}{\sigma}" in d.latex()


def test_a_sum_of_a_constant_is_n_times_it_and_a_mean_divides_by_n():
    s = sp.Symbol("s", real=True)
    d = faithful(lambda s: np.sum(s * s + DATA), 0.5)
    assert d.gradient[0] == 2 * N_SYM * s
    d = faithful(lambda mu: np.mean((DATA - mu) ** 2), 0.3)
    xs = sp.IndexedBase("DATA", shape=(N_SYM,), real=True)
    assert d.value == sp.Sum((xs[I_SYM] - MU) ** 2, (I_SYM, 0, N_SYM - 1)) / N_SYM
    assert d.gradient[0] == -2 * sp.Sum(xs[I_SYM] - MU, (I_SYM, 0, N_SYM - 1)) / N_SYM
    # a literal the user wrote stays the number they wrote
    d = faithful(lambda s: 200 * s + np.sum(DATA * s), 0.5)
    assert d.gradient[0] == 200 + sp.Sum(xs[I_SYM], (I_SYM, 0, N_SYM - 1))


# ------------------------------------------------------------ unpacked names
def _model(p, t):
    A, k, c = p
    return np.sum((A * np.exp(-k * t) + c) ** 2)


def test_unpacked_elements_are_named_and_the_gradient_is_their_rows():
    """The issue's `A, k, c = p`: rows ∂f/∂A, ∂f/∂k, ∂f/∂c, no p[0] or KroneckerDelta."""
    d = faithful(_model, np.array([1.0, 2.0, 0.5]), T, wrt="p")
    A, k, c = sp.symbols("A k c", real=True)
    t = sp.IndexedBase("t", shape=(N_SYM,), real=True)
    r = A * sp.exp(-k * t[I_SYM]) + c
    e = sp.exp(-k * t[I_SYM])
    expected = [2 * sp.Sum(r * e, (I_SYM, 0, N_SYM - 1)),
                -2 * A * sp.Sum(r * e * t[I_SYM], (I_SYM, 0, N_SYM - 1)),
                2 * sp.Sum(r, (I_SYM, 0, N_SYM - 1))]
    assert d.gradient[0] == sp.ImmutableMatrix(expected) and d.gradient[1] is None
    text = repr(d)
    assert "∂f/∂A = " in text and "∂f/∂k = " in text and "∂f/∂c = " in text
    assert "KroneckerDelta" not in text and "p[" not in text
    assert "where A, k, c = p (unpacked in f)" in text
    assert d.value == sp.Sum(r**2, (I_SYM, 0, N_SYM - 1))


def test_names_from_subscripts_and_tuples_and_dict_keys():
    def f(p):
        a = p[0]
        b = p[-1]
        return a * np.sin(b)

    d = faithful(f, np.array([1.5, 2.0]))
    a, b = sp.symbols("a b", real=True)
    assert d.gradient[0] == sp.ImmutableMatrix([sp.sin(b), a * sp.cos(b)])
    d = faithful(lambda q: q[0] * q[1], (3.0, 4.0))  # no unpacking: the path's name
    assert str(d.gradient[0]) == "(q_1, q_0)"

    def g(q):
        u, v = q
        return u * v**2

    d = faithful(g, (3.0, 4.0))
    u, v = sp.symbols("u v", real=True)
    assert d.gradient[0] == (v**2, 2 * u * v) and "where" not in repr(d)
    d = faithful(lambda p: p["A"] * np.sin(p["k"]), {"A": 1.5, "k": 2.0})
    assert str(d.gradient[0]) == "{'A': sin(p_k), 'k': p_A*cos(p_k)}"


def test_an_element_name_is_not_used_where_it_would_mislead():
    def whole(p):  # p is also used as a whole: index notation stays
        A, k = p
        return A * k + np.sum(p**2)

    d = faithful(whole, np.array([1.0, 2.0]))
    assert "KroneckerDelta" in repr(d) or "p[i]" in repr(d)

    def reassigned(p):  # `A` names two things: not used
        A, k = p
        A = A * 2
        return A * k

    assert unpacked_names(reassigned) == {"p": {1: "k"}}
    d = faithful(reassigned, np.array([1.0, 2.0]))
    assert "∂f/∂A" not in repr(d)


# ------------------------------------------------------------------ progress
def test_progress_is_silent_when_quick_and_a_bar_when_slow(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    zs.derive(lambda k: _euler(k, steps=10), 2.0)
    assert capsys.readouterr() == ("", "")  # quick: nothing printed
    monkeypatch.setattr("zygote_sym.closed.progress.AFTER", 0.0)  # every call is "slow"
    zs.derive(lambda k: _euler(k, steps=10), 2.0)
    assert "derive: " in capsys.readouterr().err  # tqdm (text outside a notebook)


# ---------------------------------------------------------------- recurrences
def _decay(k, steps=200):
    y = 1.0
    for _ in range(steps):
        y = y + 0.01 * (-k * y + np.sin(y))
    return y


def test_a_loop_of_one_update_reads_as_a_recurrence_and_its_derivative_too():
    """The issue's 200-step explicit Euler loop: y_{j+1} = y_j + (-k y_j + sin y_j)/100."""
    d = faithful(_decay, 2.0)  # evaluated by running the recurrences with lambdify
    k = sp.Symbol("k", real=True)
    j = sp.Symbol("j", integer=True)
    rows = {str(lhs): (lhs, rhs) for lhs, rhs in d.lines}
    assert list(rows) == ["y[0]", "y[j + 1]", "dy_dk[0]", "dy_dk[j + 1]"]
    y, dy = rows["y[j + 1]"][0].base, rows["dy_dk[j + 1]"][0].base  # (∂y/∂k in LaTeX)
    assert sp.simplify(rows["y[j + 1]"][1] - (y[j] + (-k * y[j] + sp.sin(y[j])) / 100)) == 0
    assert d.value == y[199]
    step = sp.diff(y[j] + (-k * y[j] + sp.sin(y[j])) / 100, y[j]) * dy[j] - y[j] / 100
    assert sp.simplify(rows["dy_dk[j + 1]"][1] - step) == 0
    assert rows["dy_dk[0]"][1] == sp.Rational(-1, 100) and d.gradient[0] == dy[199]
    first = rows["y[0]"][1] - (1 + (-k + sp.sin(1)) / 100)  # the first step, folded by the trace
    assert not first.free_symbols and abs(float(first)) < 1e-15
    assert d._loops[y[j + 1]] == (j, 0, 198)
    assert any("199 repeated updates" in n and "folded" in n for n in d.notes)
    text, latex = repr(d), d.latex()
    assert "for j = 0…198" in text and r"\qquad j = 0, \ldots, 198" in latex
    assert len(text) < 2000 and len(latex) < 2000  # not 1.35 MB
    assert r"\frac{\partial y}{\partial k}" in latex
    assert "&#x2026;" in d._repr_mimebundle_()["text/html"]


def test_a_short_loop_is_not_folded():
    d = zs.derive(lambda k: _decay(k, steps=3), 2.0)  # small: shown whole
    assert not d._loops and not d.lines


# ------------------------------------------------ the wrong formulas
def test_tanh_layer_gradient_is_right():
    """The issue printed ∂f/∂x = W^T − 2tanh³(b+Wx) + 2tanh(b+Wx); the
    index form (the matrix form: test_tanh_layer_reads_in_matrix_notation)."""
    d = faithful(lambda x: np.sum(np.tanh(W @ x + B) ** 2), np.ones(3))
    i, j, k = sp.symbols("i j k", integer=True)
    n, m = sp.symbols("n m", integer=True, positive=True)
    Ws, Bs, x = (sp.IndexedBase("W", shape=(m, n), real=True),
                 sp.IndexedBase("B", shape=(m,), real=True),
                 sp.IndexedBase("x", shape=(n,), real=True))
    u = sp.tanh(Bs[j] + sp.Sum(Ws[j, k] * x[k], (k, 0, n - 1)))
    coeff, g = d.index_form[0].as_coeff_Mul()  # 2*Sum(...): the constant outside the Σ
    assert coeff == 2 and isinstance(g, sp.Sum) and g.limits == ((j, 0, m - 1),)
    assert sp.expand(g.function - (1 - u**2) * u * Ws[j, i]) == 0


def test_logistic_loss_names_y_and_its_sign():
    """The issue showed `c1` (really -y); the form reads −Σⱼ Xⱼᵢ yⱼ / (e^{yⱼ (Xw)ⱼ} + 1)."""
    y = np.sign(RNG.normal(size=5))
    d = faithful(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))), np.array([0.3, -0.2, 0.1]))
    i, j, k = sp.symbols("i j k", integer=True)
    n, m = sp.symbols("n m", integer=True, positive=True)
    Xs, ys, w = (sp.IndexedBase("X", shape=(m, n), real=True),
                 sp.IndexedBase("y", shape=(m,), real=True),
                 sp.IndexedBase("w", shape=(n,), real=True))
    z = sp.Sum(Xs[j, k] * w[k], (k, 0, n - 1))
    assert d.gradient[0] == -sp.Sum(Xs[j, i] * ys[j] / (sp.exp(ys[j] * z) + 1), (j, 0, m - 1))
    assert d.latex().split("&= ")[1].startswith(r"- \sum_{j=0}^{m - 1} \frac")  # not "Σ −"
    assert "c0" not in repr(d) and "c1" not in repr(d)


def _flight(k, steps=40, dt=0.025):
    x, vx = 0.0, 10.0
    for _ in range(steps):
        x, vx = x + dt * vx, vx - dt * k * vx
    return x


def test_a_recurrence_continues_past_lines_that_come_between():
    """x accumulates vx: the let-bound form cuts the sum into chunks between
    the updates of vx; the recurrence of vx still folds whole, named vx
    (the user's variable that carries it)."""
    d = faithful(_flight, 0.3)
    (lhs, (j, first, last)), = [(x, r) for x, r in d._loops.items() if x.base.name == "vx"]
    assert (first, last) == (0, 35) and str(dict(d.lines)[lhs]) == "-k*vx[j]/40 + vx[j]"
    assert not any(str(x).startswith("t_") and str(x)[2:].isdigit() and int(str(x)[2:]) > 22
                   for x, _ in d.lines)  # the updates after the chunk are in the loop too


def test_tanh_layer_reads_in_matrix_notation():
    """∂f/∂x = 2Wᵀ(tanh(Wx+b) ∘ (1 − tanh^{∘2}(Wx+b))), ∂f/∂W = δ xᵀ, ∂f/∂b = δ
    (∘ the elementwise product), as a person writes a layer's backward pass."""
    d = faithful(lambda x: np.sum(np.tanh(W @ x + B) ** 2), np.ones(3))
    n, m = sp.symbols("n m", integer=True, positive=True)
    Ws, Bs, x = sp.MatrixSymbol("W", m, n), sp.MatrixSymbol("B", m, 1), sp.MatrixSymbol("x", n, 1)
    h = (Ws * x + Bs).applyfunc(sp.tanh)
    delta = sp.HadamardProduct(h, sp.OneMatrix(m, 1) - sp.HadamardPower(h, 2))
    args = [Ws, Bs, x]
    at = [W, B.reshape(4, 1), np.ones((3, 1))]
    size = {n: 3, m: 4}
    mine = sp.lambdify(args, d.gradient[0].subs(size), "numpy", printer=matrix._NumPy)(*at)
    expect = sp.lambdify(args, (2 * Ws.T * delta).subs(size), "numpy",
                         printer=matrix._NumPy)(*at)
    np.testing.assert_allclose(mine, expect, rtol=1e-14)
    assert str(d.gradient[0]) == "2*W.T*(HadamardProduct(tanh(B + W*x), " \
                                 "-HadamardPower(tanh(B + W*x), 2) + 1))"
    latex = d.latex()
    assert r"2 W^{T} \left(\tanh{\left(B + W x \right)} \circ" in latex
    assert r"\tanh{\left(B + W x \right)}^{\circ {2}}" in latex and "mapsto" not in latex
    html = d._repr_mimebundle_()["text/html"]
    assert "<mi>tanh</mi>" in html and "<mo>&#x2218;</mo><mn>2</mn>" in html
    assert "elementwise" not in html and "hadamard" not in html
    x0 = np.ones(3)
    layer = faithful(lambda W, b: np.sum(np.tanh(W @ x0 + b) ** 2), W, B)
    gW, gb = (str(g) for g in layer.gradient)
    assert gW == gb + "*x0.T" and gb.startswith("2*(HadamardProduct(tanh(W*x0 + b)")


# ----------------------------------------- MathML reads as the LaTeX does
_a, _b, _x = sp.symbols("a b2 x", real=True)
_i = sp.Symbol("i", integer=True)
_n = sp.Symbol("n", integer=True, positive=True)
_M = sp.MatrixSymbol("M", _n, _n)


@pytest.mark.parametrize("expr, mathml", [
    (2 * sp.exp(-_b * _x), "<mn>2</mn><mo>&InvisibleTimes;</mo><msup><mi>e</mi><mrow><mo>-</mo>"),
    (_a * sp.exp(-_x) / _x, "<mfrac><mrow><mi>a</mi><mo>&InvisibleTimes;</mo><msup><mi>e</mi>"),
    (sp.sqrt(_x) / 2, "<mfrac><msqrt><mi>x</mi></msqrt><mn>2</mn></mfrac>"),
    (sp.log(_x), "<mi>log</mi>"),
    (sp.tanh(_x) ** 2, "<msup><mrow><mi>tanh</mi>"),
    (sp.Sum(sp.IndexedBase("x")[_i] ** 2, (_i, 0, _n - 1)),
     "<munderover><mo>&#x2211;</mo><mrow><mi>i</mi><mo>=</mo><mn>0</mn></mrow>"),
    (sp.Piecewise((_x, _x > 0), (0, True)), "<mo>{</mo><mtable"),
    (sp.Abs(_x), "<mo>|</mo><mi>x</mi><mo>|</mo>"),
    (_M.T * _M, "<msup><mi>M</mi><mo>T</mo></msup>"),
    (sp.HadamardPower(_M, 2), "<mrow><mo>&#x2218;</mo><mn>2</mn></mrow>"),
    (sp.IndexedBase("x")[_i], "<msub><mi>x</mi><mi>i</mi></msub>"),
])
def test_mathml_reads_as_the_latex(expr, mathml):
    """SymPy's MathML printer writes exp(-u) as 1/ⅇ^{u} in nested fractions
    and falls back to `piecewise(...)`, `hadamardpower(...)`; ours follows
    the LaTeX (e^{-u} in the numerator, a plain e, cases, A^{∘2})."""
    out = display.to_mathml(expr)
    assert mathml in out
    assert "&ExponentialE;" not in out and "<mfrac><mn>1</mn><msup><mi>e" not in out
    for fallback in ("piecewise", "hadamard", "elementwise", "transpose"):
        assert fallback not in out
    if expr.has(sp.exp):  # e^{…} where the LaTeX has it, never under a fraction bar alone
        assert "e^{- " in sp.latex(expr) and "<msup><mi>e</mi><mrow><mo>-</mo>" in out


def test_an_exponential_fit_shows_e_to_the_minus_in_both_forms():
    d = faithful(lambda a, b: np.sum((a * np.exp(-b * T) - YT) ** 2), 2.0, 1.0)
    latex, html = d.latex(), d._repr_mimebundle_()["text/html"]
    assert "e^{- b {T}_{i}}" in latex
    assert "<msup><mi>e</mi><mrow><mo>-</mo><mi>b</mi>" in html and "&ExponentialE;" not in html


# ------------------------------------------ names the library makes, apart
def _decay_named(k, steps=40):
    j, y, t = 0.01, 1.0, 0.0  # the user's own j, y and t: the library must not reuse them
    for _ in range(steps):
        y = y + j * (-k * y + np.sin(y))
        t = t + j
    return y + t


def test_the_recurrence_takes_the_users_variable_name():
    d = faithful(_decay_named, 2.0)
    (lhs, (index, first, last)), = [(x, r) for x, r in d._loops.items() if x.base.name == "y"]
    assert lhs.base.name == "y" and str(index) == "m"  # j and k are the user's
    assert "y_{m+1} = …, m = 0…" in " ".join(d.notes)


def test_derive_runs_f_once_to_name_its_variables():
    """The values that name a recurrence's sequence are recorded while f is
    traced: f's side effects happen once per derive, as with every transformation."""
    runs = []

    def decay(k):
        runs.append(1)
        y = 1.0
        for _ in range(200):
            y = y - 0.01 * k * y
        return y
    d = zs.derive(decay, 2.0)
    assert any(x.base.name == "y" for x in d._loops)
    assert len(runs) == 1 and sys.gettrace() is None


def test_fresh_names_avoid_every_user_name(monkeypatch):
    """When the values do not say which variable carries the loop, the
    sequence, index and temporaries are named apart from f's names
    (y, j, k, t are f's; so u, m, and u_0… not t_0, which reads as t's element)."""
    monkeypatch.setattr("zygote_sym.closed.variables.MAX_EVENTS", 0)  # nothing recorded
    d = faithful(_decay_named, 2.0)
    bases = {x.base.name for x in d._loops}
    assert "u" in bases and all(str(r[0]) == "m" for r in d._loops.values())
    text = repr(d)
    assert "y[" not in text and "t_" not in text and "temporaries u_0, u_1, …" in text


def test_generated_names_print_whole_and_long_rows_break():
    """∂t₂₂/∂k, not `dt` with the subscript `22 dk`; a 40-term gradient row
    continues on lines of about 80 characters of text."""
    d = faithful(_flight, 0.3)
    latex, html = d.latex(), d._repr_mimebundle_()["text/html"]
    assert r"\frac{\partial t_{22}}{\partial k} &=" in latex
    assert "<mi>dt</mi>" not in html and "<mi>dvx</mi>" not in html
    assert ("<mfrac><mrow><mo>&#x2202;</mo><msub><mi>t</mi><mi>22</mi></msub></mrow>"
            "<mrow><mo>&#x2202;</mo><mi>k</mi></mrow></mfrac>") in html
    row = latex.split(r"\frac{\partial f}{\partial k} &= ")[1]
    lines = row.split(r" \\" + "\n" + r"&\quad ")
    assert len(lines) >= 3 and all(line.startswith(("+ ", "- ")) for line in lines[1:])
    assert all(line.count(r"\frac{{\frac{\partial vx}") <= 6 for line in lines)
    row = html.split("<mfrac><mrow><mo>&#x2202;</mo><mi>f</mi></mrow>")[1].split("</math>")[0]
    assert row.count("<mtr>") + 1 == len(lines)  # (the first <mtr> opens before ∂f): as the LaTeX


def test_an_axis_length_is_not_named_after_a_user_variable():
    def f(mu):
        n = 2.0  # the user's n is not the length of DATA
        return np.sum((DATA - mu) ** 2) / n

    d = faithful(f, 0.5)
    assert "m = 200 (an axis length of the inputs)" in d.legend
    assert str(d.gradient[0]) == "m*mu - Sum(DATA[i], (i, 0, m - 1))"


def test_a_kernel_that_cannot_be_printed_leaves_the_forms(monkeypatch):
    def no_printer(*args, **kw):
        raise NotImplementedError("no code printer for Symbol")

    monkeypatch.setattr("zygote_sym.closed.derivation.Kernel", no_printer)
    d = faithful(lambda x: x**3, 2.0)
    assert d.source is None and str(d.gradient[0]) == "3*x**2"
    assert "<details>" not in d._repr_mimebundle_()["text/html"]
