"""The tour and the command line run and print what they claim."""
import subprocess
import sys

from zygote_sym.cli.main import main


def test_tour_prints_the_founding_results(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for expected in ["(32.0,)", "(Fraction(7, 2),)", "Tangent(x=0.5547001962252291, y=0.8320502943378437)",
                     "WithGradient(val=0.5, grad=(0.5, -0.25))", "(30.0, (30.0, 20.0, 12.0))",
                     "({'a': 3.0, 'b': 3.0, 'name': None},)", "LaTeX: 6 x + 2", "{'x': 5}",
                     # arrays, Params, jacobian/hessian (issue 3)
                     "array([[1., 2., 3.],\n       [1., 2., 3.]])", "(array([14., 22., 26.]),)",
                     "(array([14., 22.]), 2.0, None)", "'b': array([1., 1.])}",
                     "Tangent(W=array([[1., 2., 3.],",
                     "[  8.,  80., 800.]]), array([321., 654.]), False)",
                     "(array([[12.],\n       [12.]]), array([[3., 3., 3.]]))",
                     "(array([1., 1., 2.]),)", "(array([0., 1., 0.]),)", "(array([0., 3., 1.]),)",
                     "[0., 0., 6.]]), array([1., 4., 9.]))", "(2, 2, 2, 2)",
                     "[18., 24.]]),)",
                     # closed forms of array code (issue 12)
                     "∂f/∂w = 2*X.T*(X*w - y)",
                     "∂f/∂mu = Sum(-mu + data[i], (i, 0, n - 1))/sigma**2",
                     "∂f/∂sigma = -4/sigma + Sum((-mu + data[i])**2, (i, 0, n - 1))/sigma**3",
                     # the colour-difference example
                     "WithGradient(val=86.61431186791233",
                     "array([ 0.45392815, -9.59945684, 14.19752771])",
                     "array([-1.76971195, 28.88815517, -0.04492831])",
                     # compiled kernels (issue 4)
                     "@zs.compile(wrt=0)\n... def loss(p, t, y):", "None, None)",
                     "def kernel(p, t, y):", "(array([-1., -1., -1.,  1.,  2.]),)"]:
        assert expected in out
    assert "skipped" not in out and "Traceback" not in out


def test_derive_command(capsys):
    main(["derive", "sin(x)*y + x**2", "--at", "x=0.5", "y=2"])
    out = capsys.readouterr().out
    assert "∂f/∂x = 2*x + y*cos(x)" in out and "def kernel(x, y)" in out


def test_help_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "zygote_sym", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "derive" in r.stdout and "tour" in r.stdout
