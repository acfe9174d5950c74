"""Fit a NIST StRD nonlinear-regression problem with compiled zygote_sym Jacobians.

    python examples/nist_fit.py [FILE.dat ...]      (default: every file in data/nist_strd)

Each step is spelled out; `python -m zygote_sym fit FILE.dat` runs the same
thing through :func:`zygote_sym.cli.nist.run_file`.

1. parse the .dat file (model, starting values, certified values, data);
2. the model is plain NumPy, e.g. for Misra1a::

       def misra1a(b, x):
           b1, b2 = b
           return b1 * (1 - np.exp(-b2 * x))

   (zygote_sym.cli.nist.MODELS; files not in that table get their model read
   from the header's ``y = ...`` line);
3. zs.optimize.residuals turns ``residuals(b, x, y, model) = model(b, x) - y``
   into SciPy's ``fun(b)`` and ``jac(b)``; jac runs a kernel that
   zygote_sym traced, differentiated through SymPy and generated once;
4. scipy.optimize.least_squares from Start 1 and from Start 2;
5. the fits beside the certified values, with the LRE (number of agreeing
   significant digits) of each.
"""
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

import zygote_sym as zs
from zygote_sym.cli import nist

DATA_DIR = Path(__file__).resolve().parent / "data" / "nist_strd"


def fit_file(path):
    ds = nist.parse(path)                                        # 1
    model = nist.model_for(ds)                                   # 2
    results = {}
    for label, start in (("Start 1", ds.start1), ("Start 2", ds.start2)):
        fun, jac, b0, _ = zs.optimize.residuals(nist.residuals, start, ds.x, ds.y, model)  # 3
        with np.errstate(over="ignore"):   # rejected trial steps may overflow exp()
            results[label] = least_squares(fun, b0, jac=jac, method="trf",          # 4
                                           xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                           max_nfev=20_000)
    print(nist.report(ds, results, model))                       # 5
    print("\nThe generated Jacobian kernel (the last start):\n" + jac.compiled.source)
    return results


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(DATA_DIR.glob("*.dat"))
    for p in paths:
        fit_file(p)
        print()
