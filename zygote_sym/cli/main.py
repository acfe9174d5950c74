"""Command line: `python -m zygote_sym [tour | derive EXPR | fit FILE.dat | functions]`."""
import argparse
from pathlib import Path

import numpy as np
import sympy

import zygote_sym as zs

from . import nist
from .functions import main as functions
from .tour import run


def _derive(expr, at):
    try:
        names = sorted(str(s) for s in sympy.sympify(expr).free_symbols)
    except sympy.SympifyError as e:
        raise SystemExit(f"derive: cannot read {expr!r} ({e}); write it with plain "
                         "function names, e.g. 'sin(x)*y + x**2'")
    namespace = {k: getattr(np, k) for k in dir(np) if not k.startswith("_")}
    f = eval(f"lambda {', '.join(names)}: {expr}", namespace)
    values = dict(kv.split("=") for kv in at)
    args = [float(values[n]) if n in values else sympy.Symbol(n, real=True) for n in names]
    d = zs.derive(f, *args)
    print(d)
    print("LaTeX:", d.latex())
    if d.source:
        print(d.source)


def _fit(path, jac, method):
    if not Path(path).is_file():
        raise SystemExit(f"fit: no such file: {path}")
    try:
        nist.run_file(path, jac=jac, method=method)
    except ValueError as e:
        raise SystemExit(f"fit: {e}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m zygote_sym",
        description="zygote_sym: gradients of ordinary Python through SymPy and generated code.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tour", help="run the founding examples (the default command)")
    p = sub.add_parser("derive", help="print the closed-form gradient of an expression, "
                                      "e.g. derive 'sin(x)*y + x**2' [--at x=0.5 y=2]")
    p.add_argument("expr", help="a Python expression in NumPy function names (sin, exp, ...)")
    p.add_argument("--at", nargs="*", default=[], metavar="NAME=VALUE",
                   help="example values (decide branches; also shows the generated kernel)")
    p = sub.add_parser("fit", help="fit a NIST StRD nonlinear-regression .dat file from both "
                                   "starts with compiled Jacobians; print it beside the "
                                   "certified values")
    p.add_argument("file", help="a NIST StRD nonlinear-regression .dat file")
    p.add_argument("--jac", default="zygote_sym", choices=["zygote_sym", "2-point", "3-point"],
                   help="the residual Jacobian: compiled zygote_sym kernel (default) or "
                        "SciPy finite differences, for comparison")
    p.add_argument("--method", default="trf", choices=["trf", "lm", "dogbox"],
                   help="scipy.optimize.least_squares method (default trf)")
    sub.add_parser("functions", help="print the supported NumPy/SciPy functions as markdown "
                                     "(docs/numpy_support.md)")
    args = parser.parse_args(argv)
    if args.command == "derive":
        _derive(args.expr, args.at)
    elif args.command == "fit":
        _fit(args.file, args.jac, args.method)
    elif args.command == "functions":
        functions()
    else:
        run()
    return 0


