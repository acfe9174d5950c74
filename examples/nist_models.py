"""NIST StRD nonlinear-regression problems as plain NumPy code (example data).

The parser, the model table and the SciPy driver moved into the package as
:mod:`zygote_sym.cli.nist` (so that `python -m zygote_sym fit FILE.dat` works
from an installed package); this module re-exports them and adds the
location of the example data shipped in this repository, plus the
finite-difference baseline study.

The one difference from :func:`zygote_sym.cli.nist.fit`: here ``fit`` keeps its
original default, SciPy's ``'2-point'`` finite differences (``jac=None``),
so the baseline does not depend on zygote_sym's derivatives; pass
``jac='zygote_sym'`` for the compiled Jacobian.

Source of the data: NIST Statistical Reference Datasets (StRD), Nonlinear
Regression, https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml
(public domain).

Example
-------
>>> ds = load("Misra1a")
>>> b = fit(ds, ds.start1)
>>> agree(b, ds.certified)
True
"""
from pathlib import Path

from zygote_sym.cli import nist as _nist
from zygote_sym.cli.nist import (DEFAULT_METHOD, MODELS, Dataset, agree, lre, model_for,
                             model_from_text, parse, report, residuals, sse)

DATA_DIR = Path(__file__).resolve().parent / "data" / "nist_strd"

__all__ = ["DATA_DIR", "Dataset", "parse", "load", "MODELS", "model_for", "model_from_text",
           "residuals", "sse", "fit", "lre", "agree", "report", "DEFAULT_METHOD"]


def load(name, data_dir=None):
    """``parse(data_dir / f"{name}.dat")``; ``data_dir`` defaults to DATA_DIR."""
    return parse(Path(data_dir or DATA_DIR) / f"{name}.dat")


def fit(ds, start, jac=None, **kwargs):
    """:func:`zygote_sym.cli.nist.fit` with ``jac=None`` meaning ``'2-point'``."""
    return _nist.fit(ds, start, "2-point" if jac is None else jac, **kwargs)


if __name__ == "__main__":
    # Fit every dataset in DATA_DIR from both starts with SciPy's '2-point'
    # finite differences and compare with the certified values.
    for path in sorted(DATA_DIR.glob("*.dat")):
        ds = parse(path)
        for s in (1, 2):
            b = fit(ds, s)
            print(f"{ds.name:9s} start {s}: agree={agree(b, ds.certified)!s:5s} "
                  f"min LRE={lre(b, ds.certified).min():5.1f} "
                  f"SSE/certified={sse(b, ds.x, ds.y, MODELS[ds.name]) / ds.rss_certified:.6f}")
