"""Fit a NIST StRD nonlinear-regression problem with compiled zygote_sym Jacobians,
and compare the parameters and their standard errors with the certified values.

    python examples/nist_fit.py [FILE.dat ...]      (default: every file in data/nist_strd)

Each step is spelled out; `python -m zygote_sym fit FILE.dat` runs the
parameter part through :func:`zygote_sym.cli.nist.run_file`.

1. parse the .dat file (model, starting values, certified values and
   standard deviations, data);
2. the model is plain NumPy, e.g. for Misra1a::

       def misra1a(b, x):
           b1, b2 = b
           return b1 * (1 - np.exp(-b2 * x))

   (zygote_sym.cli.nist.MODELS; files not in that table get their model read
   from the header's ``y = ...`` line);
3. zs.optimize.fit runs scipy.optimize.least_squares on
   ``residuals(b, x, y, model) = model(b, x) - y`` with the residual Jacobian
   of a kernel that zygote_sym traced, differentiated through SymPy and
   generated once, from Start 1 and from Start 2;
4. at the solution it computes the covariance s²(JᵀJ)⁻¹ (s² = RSS/(n − p))
   from the same compiled Jacobian, as scipy.optimize.curve_fit does:
   ``fit.stderr`` are the standard errors NIST certifies;
5. the fits beside the certified values, with the LRE (number of agreeing
   significant digits) of each parameter and standard error.
"""
import sys
from pathlib import Path

import numpy as np

import zygote_sym as zs
from zygote_sym.cli import nist

DATA_DIR = Path(__file__).resolve().parent / "data" / "nist_strd"
TIGHT = dict(xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20_000)


def stderr_report(ds, fits):
    """Each fit's standard errors beside NIST's certified standard deviations."""
    lines = [f"{'parameter':<10}" + "".join(f"{k + ' stderr':>20}" for k in fits)
             + f"{'certified':>20}" + "".join(f"{'LRE ' + k[-1]:>7}" for k in fits)]
    for i in range(ds.n_params):
        lines.append(f"b{i + 1:<9}" + "".join(f"{f.stderr[i]:>20.10E}" for f in fits.values())
                     + f"{ds.certified_sd[i]:>20.10E}"
                     + "".join(f"{nist.lre(f.stderr[i], ds.certified_sd[i]):>7.1f}"
                               for f in fits.values()))
    return "\n".join(lines)


def fit_file(path):
    ds = nist.parse(path)                                        # 1
    model = nist.model_for(ds)                                   # 2
    fits = {label: zs.optimize.fit(nist.residuals, start, ds.x, ds.y, model, **TIGHT)  # 3, 4
            for label, start in (("Start 1", ds.start1), ("Start 2", ds.start2))}
    print(nist.report(ds, fits, model))                          # 5
    print()
    print(stderr_report(ds, fits))
    ok = all(nist.agree(f.stderr, ds.certified_sd, digits=4) for f in fits.values())
    print(f"standard errors {'agree' if ok else 'do NOT agree'} with the certified "
          "standard deviations to 4 significant digits")
    return fits


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(DATA_DIR.glob("*.dat"))
    with np.errstate(over="ignore"):   # rejected trial steps may overflow exp()
        for p in paths:
            fit_file(p)
            print()
