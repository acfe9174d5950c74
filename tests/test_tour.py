"""The tour and the command line run and print what they claim."""
import subprocess
import sys

from zygote_sym.__main__ import main


def test_tour_prints_the_founding_results(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for expected in ["(32.0,)", "(Fraction(7, 2),)", "Tangent(x=0.5547001962252291, y=0.8320502943378437)",
                     "WithGradient(val=0.5, grad=(0.5, -0.25))", "(30.0, (30.0, 20.0, 12.0))",
                     "({'a': 3.0, 'b': 3.0, 'name': None},)", "LaTeX: 6 x + 2", "{'x': 5}"]:
        assert expected in out


def test_derive_command(capsys):
    main(["derive", "sin(x)*y + x**2", "--at", "x=0.5", "y=2"])
    out = capsys.readouterr().out
    assert "d/dx = 2*x + y*cos(x)" in out and "def kernel(x, y)" in out


def test_help_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "zygote_sym", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "derive" in r.stdout and "tour" in r.stdout
