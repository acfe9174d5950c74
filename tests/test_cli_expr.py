"""zygote_sym.cli.expr: user text becomes SymPy without being run (`derive`, NIST models)."""
import inspect
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p, log2, log10

import zygote_sym as zs
from zygote_sym.cli import nist
from zygote_sym.cli.expr import ExprError, as_numpy_function, parse
from zygote_sym.cli.main import main

x, y, beta, gamma, N, E, b1, b2 = sp.symbols("x y beta gamma N E b1 b2", real=True)


# --- parse -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("sin(x)*y + x**2", sp.sin(x) * y + x**2),
    ("x/2 - 3*y + 1", x / 2 - 3 * y + 1),
    ("-x**2 + +y", -x**2 + y),
    ("(x + y)**-1", 1 / (x + y)),
    ("exp(-x) * log1p(y) + expm1(x)", sp.exp(-x) * log1p(y) + expm1(x)),
    ("log2(x) + log10(y) + log(x)", log2(x) + log10(y) + sp.log(x)),
    ("sqrt(x) + abs(y) + absolute(x)", sp.sqrt(x) + sp.Abs(y) + sp.Abs(x)),
    ("arcsin(x) + asin(y) + arctanh(x) + acosh(y)", sp.asin(x) + sp.asin(y) + sp.atanh(x)
     + sp.acosh(y)),
    ("floor(x) + ceil(y) + sign(x) + erf(x) + erfc(y)", sp.floor(x) + sp.ceiling(y)
     + sp.sign(x) + sp.erf(x) + sp.erfc(y)),
    ("2*pi*x", 2 * sp.pi * x),
    ("2**10 * x", 1024 * x),
    ("4**(1/2) + 2**-2", sp.Rational(9, 4)),
    ("1.5*x", sp.Float(1.5) * x),
    # a name is a function only where it is called: the rest are symbols
    ("beta*x", beta * x),
    ("gamma*x**2", gamma * x**2),
    ("N*x", N * x),
    ("E*x", E * x),
    ("gamma(x)", sp.gamma(x)),
    ("gamma(x) * gamma", sp.gamma(x) * gamma),
    ("exp * x", sp.Symbol("exp", real=True) * x),
    ("arctan2(y, x)", sp.atan2(y, x)),
    ("atan2(y, x)", sp.atan2(y, x)),
])
def test_parse(text, expected):
    assert parse(text) == expected


def test_every_name_is_a_real_symbol_and_pi_the_only_constant():
    e = parse("S*I*Q*e + pi")
    assert e == sp.Mul(*sp.symbols("S I Q e", real=True)) + sp.pi
    assert all(s.is_real for s in e.free_symbols)
    assert parse("E").is_Symbol and not parse("exp(1)").is_Symbol


def test_brackets_and_names():
    assert parse("[b1*x]", brackets=True) == b1 * x
    assert parse("b1*(1-exp[-b2*x])", brackets=True) == b1 * (1 - sp.exp(-b2 * x))
    assert parse("b1*x + pi", names={"b1", "x"}) == b1 * x + sp.pi
    with pytest.raises(ExprError, match="unknown name 'y'; allowed: b1, x and pi"):
        parse("b1*y", names={"b1", "x"})
    with pytest.raises(ExprError, match="List is not allowed"):
        parse("[b1*x]")


@pytest.mark.parametrize("text, cause", [
    ("__import__('os').system('echo PWNED')", r"\"__import__\('os'\).system\": Attribute is not "
                                              "allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "Attribute is not allowed"),
    ("x.real", "Attribute is not allowed"),
    ("x[0]", "Subscript is not allowed"),
    ("lambda: x", "Lambda is not allowed"),
    ("[x for x in y]", "ListComp is not allowed"),
    ("sin(*[x])", "Starred is not allowed"),
    ("sin(x=1)", "sin takes 1 positional argument"),
    ("sin(x, y)", "sin takes 1 positional argument"),
    ("atan2(x)", "atan2 takes 2 positional argument"),
    ("'x'", "the constant 'x' is not allowed"),
    ("b'x'", "the constant b'x' is not allowed"),
    ("True", "the constant True is not allowed"),
    ("1j*x", "the constant 1j is not allowed"),
    ("1e999*x", "the constant inf is not allowed"),
    ("1" * 1001 + "*x", "write int \\(of at most 1000 digits\\)"),
    ("9**9**9", r"exponent tower too large \(9\*\*387420489\)"),
    ("x * 10**10**10", r"'10\*\*10\*\*10': exponent tower too large"),
    ("2**-(10**6)", r"exponent tower too large \(2\*\*-1000000\)"),
    ("1.5**2000", "exponent tower too large"),
    ("(10**999)**2", "exponent tower too large"),
    ("x + " * 5000 + "x", "20001 characters \\(at most 10000\\)"),
    ("x+" * 2000 + "x", "more than 2000 numbers, names and operations"),
    ("(" * 500 + "x" + ")" * 500, "nested"),
    ("-" * 150 + "x", "nested more than 100 levels deep"),
    ("foo(x)", "unknown function 'foo'; known: sin, cos"),
    ("x +", "invalid syntax at column 3"),
    ("x ^ 2", "the operator BitXor is not allowed"),
    ("x % 2", "the operator Mod is not allowed"),
    ("x < y", "Compare is not allowed"),
    ("x/(y - y)", "'x/\\(y - y\\)': division by zero"),
    ("x * 0**-1", "not finite and real: it holds zoo"),
    ("sqrt(-exp(x))", "not finite and real: it holds I"),
    ("(-8)**(1/3)", "not a real number; use cbrt"),
])
def test_parse_refuses_with_the_cause(text, cause):
    with pytest.raises(ExprError, match=cause) as info:
        parse(text)
    assert isinstance(info.value, ValueError)


def test_numbers_above_the_bound_are_not_raised_to_powers():
    # SymPy would compute 2**(10**999) for the first (exp(c*log(2*x)) is
    # (2*x)**c) and the integer part of e**(e**20) for the last: built as
    # written instead, they parse at once.
    for text in ["exp(10**999*log(2*x))", "(2*x)**(10**999)", "(2*x)**5000 * 10**999",
                 "floor(exp(exp(20)))*x", "x * gamma(10**6)"]:
        assert parse(text).free_symbols == {x}
    assert parse("(2*x)**3") == 8 * x**3          # small numbers are still simplified


# --- as_numpy_function ---------------------------------------------------------

@pytest.mark.parametrize("text", [
    "sin(x)*y + x**2",
    "exp(-x)/(1 + y**2)",
    "sqrt(x)*log(y) - atan2(y, x)",
    "x**-1 + y**(1/3) + x**2.5 + 1/sqrt(y)",
    "gamma(x) + erf(y) + erfc(x)",
    "log1p(x) + expm1(y) + log2(x) + log10(y)",
    "asinh(x) + acosh(1 + y) + atanh(x/2) + arcsin(x) + arccos(x) + arctan(y)",
    "abs(x - y) + floor(x*y) + ceil(x) + sign(x - y)",
    "2*pi*x + exp(1) + gamma(5)",
    "tanh(x)*cosh(y)/sinh(x) - tan(y)*cos(x)",
])
def test_as_numpy_function_matches_sympy(text):
    e = parse(text)
    f = as_numpy_function(e, [x, y])
    expected = float(e.subs({x: sp.Float(0.7), y: sp.Float(1.3)}).evalf())
    assert f(0.7, 1.3) == pytest.approx(expected, rel=1e-12)
    xs, ys = np.array([0.7, 0.2]), np.array([1.3, 1.9])
    np.testing.assert_allclose(f(xs, ys), [float(e.subs({x: a, y: b}).evalf())
                                           for a, b in zip(xs, ys)], rtol=1e-12)


def test_as_numpy_function_lets_tracers_through_and_names_the_arguments():
    e = parse("sin(x)*y + x**2 + cbrt(x)")
    f = as_numpy_function(e, [x, y])
    assert list(inspect.signature(f).parameters) == ["x", "y"]
    assert f(-8.0, 0.0) == pytest.approx(64.0 - 2.0)      # the real cube root, as np.cbrt
    grad = zs.gradient(f, 0.5, 2.0)
    expected = [float(e.diff(s).subs({x: 0.5, y: 2.0}).evalf()) for s in (x, y)]
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


def test_as_numpy_function_refuses_what_it_cannot_compute():
    with pytest.raises(ExprError, match="no value for the symbol 'y' in 'x \\+ y'"):
        as_numpy_function(x + y, [x])
    with pytest.raises(ExprError, match="no NumPy spelling of 'Piecewise"):
        as_numpy_function(sp.Piecewise((x, x > 0), (0, True)), [x])


# --- derive (the command line) ---------------------------------------------------

def _run(*args):
    return subprocess.run([sys.executable, "-m", "zygote_sym", *args], capture_output=True,
                          text=True, timeout=120)


def test_derive_never_runs_the_text(tmp_path):
    target = tmp_path / "pwned"
    r = _run("derive", f"__import__('os').system('touch {target}')")
    assert r.returncode != 0 and not target.exists()
    assert r.stderr.startswith("derive: cannot read") and "Attribute is not allowed" in r.stderr
    assert "Traceback" not in r.stderr
    r = _run("derive", "x*9**9**9")
    assert r.returncode != 0 and "derive: " in r.stderr and "exponent tower too large" in r.stderr
    assert "Traceback" not in r.stderr


def test_derive_reads_names_sympy_would_take_for_its_own(capsys):
    main(["derive", "beta*x", "--at", "beta=2", "x=3"])
    out = capsys.readouterr().out
    assert "f = beta*x\n∂f/∂beta = x\n∂f/∂x = beta\n" in out and "def kernel(beta, x)" in out
    f = as_numpy_function(parse("beta*x"), [beta, x])
    assert zs.gradient(f, 2.0, 3.0) == (3.0, 2.0)
    d = zs.derive(f, beta, x)
    assert d.gradient == (x, beta)
    main(["derive", "E*x"])
    assert "∂f/∂E = x\n∂f/∂x = E\n" in capsys.readouterr().out
    main(["derive", "gamma*x**2 + N*x"])
    assert "∂f/∂gamma = x**2" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["x + y", "--at", "z=1"], "derive: --at z=1: 'x \\+ y' has no variable 'z' \\(its "
                               "variables: x, y\\)"),
    (["x", "--at", "x"], "derive: --at takes NAME=VALUE pairs"),
    (["x", "--at", "=1"], "derive: --at takes NAME=VALUE pairs"),
    (["x", "--at", "x=abc"], "derive: --at x=abc: 'abc' is not a number"),
    (["2 + 3"], "derive: '2 \\+ 3' has no variables"),
    (["x +"], "derive: cannot read 'x \\+': invalid syntax at column 3"),
    (["foo(x)"], "derive: cannot read 'foo\\(x\\)': unknown function 'foo'"),
])
def test_derive_errors(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(["derive", *argv])


# --- fit's model reader -----------------------------------------------------------

def test_nist_model_reader_refuses_towers_and_reads_nist_models():
    with pytest.raises(ValueError, match="NIST model: .*exponent tower too large"):
        nist.model_from_text("b1*x**9**9**9")
    with pytest.raises(ValueError, match="unknown name 'y'; allowed: b1, b2, x and pi"):
        nist.model_from_text("b1*y + b2")
    model = nist.model_from_text("b1*(1-exp[-b2*x])")
    assert model.n_params == 2
    np.testing.assert_allclose(model(np.array([2.0, 0.5]), np.array([0.0, 2.0])),
                               [0.0, 1.26424112], rtol=1e-8)
    model = nist.model_from_text("b1 / ((1+exp[b2-b3*x])**(1/b4))")          # Rat43
    b, xs = np.array([700.0, 5.0, 0.75, 1.3]), np.array([1.0, 9.0])
    np.testing.assert_allclose(model(b, xs), nist.rat43(b, xs), rtol=1e-14)
