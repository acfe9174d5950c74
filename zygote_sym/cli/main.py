"""Command line: `python -m zygote_sym [tour | derive EXPR | fit FILE.dat | functions]`."""
import argparse
from pathlib import Path

import zygote_sym as zs

from . import nist
from .expr import ExprError, as_numpy_function, parse
from .functions import main as functions
from .tour import run


def _derive(text, at):
    try:
        expr = parse(text)
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        f = as_numpy_function(expr, symbols)
    except ExprError as e:
        raise SystemExit(f"derive: {e}") from None
    names = [s.name for s in symbols]
    if not names:
        raise SystemExit(f"derive: {text!r} has no variables to differentiate by")
    values = {}
    for pair in at:
        name, eq, value = (part.strip() for part in pair.partition("="))
        if not eq or not name:
            raise SystemExit(f"derive: --at takes NAME=VALUE pairs, e.g. x=0.5; not {pair!r}")
        if name not in names:
            raise SystemExit(f"derive: --at {pair}: {text!r} has no variable {name!r} "
                             f"(its variables: {', '.join(names)})")
        try:
            values[name] = float(value)
        except ValueError:
            raise SystemExit(f"derive: --at {pair}: {value!r} is not a number") from None
    d = zs.derive(f, *[values.get(s.name, s) for s in symbols])
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
    p.add_argument("expr", help="numbers, names, + - * / ** and functions (sin, exp, arctan2, "
                                "...); read, never run (zygote_sym/cli/expr.py)")
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


