"""NIST StRD nonlinear regression: the file format, the models, and a fit.

The NIST Statistical Reference Datasets for nonlinear regression
(https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml, public domain)
are `.dat` files with a 60-line header (the model, two sets of starting
values, the certified parameters with standard deviations, the certified
residual sum of squares) followed by `y x` data.  This module is what
`python -m zygote_sym fit FILE.dat` runs:

- :func:`parse` reads a file into a :class:`Dataset`;
- :data:`MODELS` holds the models as plain NumPy functions `model(b, x)`
  (b: the p parameters, unpacked `b1, b2 = b`; x: shape (n,); returns shape
  (n,)), written with NumPy ufuncs so zygote_sym can trace them;
  :func:`model_from_text` turns the header's model line into such a
  function for a file whose name is not in MODELS;
- :func:`fit` runs `scipy.optimize.least_squares` with the residual Jacobian
  of a compiled zygote_sym kernel (:func:`zygote_sym.optimize.residuals`),
  or with SciPy's finite differences for comparison;
- :func:`lre` and :func:`agree` compare with the certified values, and
  :func:`report` prints the fits beside them.

Residuals are `model(b, x) - y`, so their Jacobian is the model's, shape (n, p).

>>> import numpy as np
>>> model = model_from_text("b1*(1-exp[-b2*x])")
>>> model(np.array([2.0, 0.5]), np.array([0.0, 2.0]))
array([0.        , 1.26424112])
>>> lre(np.array([1.00001, 2.0]), np.array([1.0, 2.0]))
array([ 5., 15.])
"""
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

from ..optimize import residuals as flat_residuals
from . import expr

__all__ = ["Dataset", "parse", "MODELS", "model_from_text", "model_for", "residuals", "sse",
           "fit", "lre", "agree", "report", "run_file", "DEFAULT_METHOD"]


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str
    x: np.ndarray  # predictor, shape (n,)
    y: np.ndarray  # response, shape (n,)
    start1: np.ndarray  # NIST "Start 1" values, shape (p,)
    start2: np.ndarray  # NIST "Start 2" values, shape (p,)
    certified: np.ndarray  # certified parameter values, shape (p,)
    certified_sd: np.ndarray  # certified standard deviations, shape (p,)
    rss_certified: float  # certified residual sum of squares
    model_text: str = ""  # the header's model, e.g. "b1*(1-exp[-b2*x])"

    @property
    def n_params(self) -> int:
        return len(self.certified)


_LINES_RE = r"\(lines\s+(\d+)\s+to\s+(\d+)\s*\)"
_PARAM_RE = re.compile(r"^\s*b(\d+)\s*=\s*(.*)$")


def _line_range(header, label, fname):
    """1-based inclusive line range from a header line like
    ``Data              (lines 61 to 74)``."""
    pat = re.compile(r"^\s*" + label + r"\s+" + _LINES_RE)
    for line in header:
        m = pat.match(line)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise ValueError(f"{fname}: no '{label} (lines A to B)' line in the header; "
                     "is this a NIST StRD nonlinear-regression .dat file?")


def _model_text(lines):
    """The right-hand side of the header's `y = ... + e` (possibly over
    several lines), without the error term; "" if there is none."""
    for i, line in enumerate(lines):
        m = re.match(r"^\s*y\s*=\s*(.*)$", line)
        if m:
            parts = [m.group(1).strip()]
            for more in lines[i + 1:]:
                if re.search(r"\+\s*e\s*$", parts[-1]) or not more.strip():
                    break
                parts.append(more.strip())
            text = " ".join(parts)
            return re.sub(r"\+\s*e\s*$", "", text).strip()
    return ""


def parse(path):
    """Parse a NIST StRD nonlinear-regression ``.dat`` file into a Dataset.

    Raises ValueError naming the file and what is missing when the header
    or data do not have the NIST layout (one predictor x, one response y).
    """
    path = Path(path)
    lines = path.read_text().splitlines()

    name = path.stem
    for line in lines[:5]:
        m = re.match(r"^\s*Dataset Name:\s*(\S+)", line)
        if m:
            name = m.group(1)
            break

    # Header layout (line numbers are given in the file itself).
    first, last = _line_range(lines[:20], "Data", path.name)
    p_first, p_last = _line_range(lines[:20], "Starting Values", path.name)

    # Parameter lines: "  b1 =   500   250   2.3894212918E+02  2.7070075241E+00"
    rows = {}
    for line in lines[p_first - 1: p_last]:
        m = _PARAM_RE.match(line)
        if not m:
            raise ValueError(f"{path.name}: unexpected parameter line {line!r}")
        vals = [float(v) for v in m.group(2).split()]
        if len(vals) != 4:
            raise ValueError(f"{path.name}: expected 4 numbers in {line!r}")
        rows[int(m.group(1))] = vals
    if sorted(rows) != list(range(1, len(rows) + 1)):
        raise ValueError(f"{path.name}: parameters not numbered b1..bp")
    table = np.array([rows[i] for i in range(1, len(rows) + 1)], dtype=float)

    rss = None
    for line in lines[:first - 1]:
        m = re.match(r"^\s*Residual Sum of Squares:\s*(\S+)", line)
        if m:
            rss = float(m.group(1))
            break
    if rss is None:
        raise ValueError(f"{path.name}: no 'Residual Sum of Squares' line")

    # Column order from the "Data:   y   x" line just above the data.
    cols = None
    for line in reversed(lines[:first - 1]):
        m = re.match(r"^\s*Data:\s+(.*)$", line)
        if m:
            toks = m.group(1).split()
            if set(toks) == {"x", "y"}:
                cols = toks
                break
    if cols is None:
        raise ValueError(f"{path.name}: no 'Data:  y  x' column header line (only files "
                         "with one predictor x and one response y are supported)")

    data = np.loadtxt(path, skiprows=first - 1, max_rows=last - first + 1, ndmin=2)
    if data.shape != (last - first + 1, 2):
        raise ValueError(f"{path.name}: data has shape {data.shape}")

    return Dataset(
        name=name,
        x=data[:, cols.index("x")].copy(),
        y=data[:, cols.index("y")].copy(),
        start1=table[:, 0].copy(),
        start2=table[:, 1].copy(),
        certified=table[:, 2].copy(),
        certified_sd=table[:, 3].copy(),
        rss_certified=rss,
        model_text=_model_text(lines[:p_first - 1]),
    )


# ---------------------------------------------------------------------------
# Models (NumPy arithmetic and ufuncs only; no Python math, float() or
# value-dependent branching, so they can be traced)
# ---------------------------------------------------------------------------


def misra1a(b, x):
    b1, b2 = b
    return b1 * (1 - np.exp(-b2 * x))


def misra1b(b, x):
    b1, b2 = b
    return b1 * (1 - (1 + b2 * x / 2) ** (-2))


def chwirut2(b, x):
    b1, b2, b3 = b
    return np.exp(-b1 * x) / (b2 + b3 * x)


def danwood(b, x):
    b1, b2 = b
    return b1 * x**b2


def gauss1(b, x):
    b1, b2, b3, b4, b5, b6, b7, b8 = b
    return (
        b1 * np.exp(-b2 * x)
        + b3 * np.exp(-((x - b4) ** 2) / b5**2)
        + b6 * np.exp(-((x - b7) ** 2) / b8**2)
    )


def kirby2(b, x):
    b1, b2, b3, b4, b5 = b
    return (b1 + b2 * x + b3 * x**2) / (1 + b4 * x + b5 * x**2)


def lanczos3(b, x):
    b1, b2, b3, b4, b5, b6 = b
    return b1 * np.exp(-b2 * x) + b3 * np.exp(-b4 * x) + b5 * np.exp(-b6 * x)


def mgh09(b, x):
    b1, b2, b3, b4 = b
    return b1 * (x**2 + x * b2) / (x**2 + x * b3 + b4)


def rat42(b, x):
    b1, b2, b3 = b
    return b1 / (1 + np.exp(b2 - b3 * x))


def rat43(b, x):
    b1, b2, b3, b4 = b
    return b1 / (1 + np.exp(b2 - b3 * x)) ** (1 / b4)


def thurber(b, x):
    b1, b2, b3, b4, b5, b6, b7 = b
    return (b1 + b2 * x + b3 * x**2 + b4 * x**3) / (
        1 + b5 * x + b6 * x**2 + b7 * x**3
    )


def eckerle4(b, x):
    b1, b2, b3 = b
    return (b1 / b2) * np.exp(-0.5 * ((x - b3) / b2) ** 2)


def boxbod(b, x):
    b1, b2 = b
    return b1 * (1 - np.exp(-b2 * x))


MODELS = {
    "Misra1a": misra1a,
    "Misra1b": misra1b,
    "Chwirut2": chwirut2,
    "DanWood": danwood,
    "Gauss1": gauss1,
    "Kirby2": kirby2,
    "Lanczos3": lanczos3,
    "MGH09": mgh09,
    "Rat42": rat42,
    "Rat43": rat43,
    "Thurber": thurber,
    "Eckerle4": eckerle4,
    "BoxBOD": boxbod,
}


def model_from_text(text):
    """A NumPy model function `model(b, x)` from a NIST model expression.

    text is the right-hand side of the header's `y = ... + e`, in the NIST
    notation: `**` powers, `[...]` as parentheses, parameters b1..bp, the
    predictor x, `pi`, and the functions of :mod:`zygote_sym.cli.expr` (exp,
    log, sqrt, sin, cos, tan, arctan, ...).  It is read by
    :func:`zygote_sym.cli.expr.parse`, never run: anything else (attributes,
    other names, subscripts) raises ValueError.  p is the highest parameter
    index named; the returned function unpacks exactly p parameters.
    """
    names = {"x", *re.findall(r"\bb[1-9]\d*\b", text)}
    try:
        rhs = expr.parse(text, names=names, brackets=True)
    except expr.ExprError as e:
        raise ValueError(f"NIST model: {e}") from None
    p = max((int(n[1:]) for n in names - {"x"}), default=0)
    f = expr.as_numpy_function(rhs, sp.symbols([f"b{i}" for i in range(1, p + 1)] + ["x"],
                                                real=True))

    def model(b, x):
        if len(b) != p:
            raise ValueError(f"the model {text!r} has {p} parameters; got {len(b)}")
        return f(*b, x)
    model.__name__ = "nist_model"
    model.__doc__ = f"y = {text}"
    model.n_params = p
    return model


def model_for(ds):
    """MODELS[ds.name], or else the model read from the file's header."""
    if ds.name in MODELS:
        return MODELS[ds.name]
    if not ds.model_text:
        raise ValueError(f"{ds.name}: not one of the known models ({', '.join(MODELS)}) and "
                         "the header has no 'y = ... + e' line to read one from")
    model = model_from_text(ds.model_text)
    if model.n_params != ds.n_params:
        raise ValueError(f"{ds.name}: the header's model {ds.model_text!r} names "
                         f"{model.n_params} parameters, the file gives {ds.n_params}")
    return model


# ---------------------------------------------------------------------------
# Objective and fit
# ---------------------------------------------------------------------------


def residuals(b, x, y, model):
    """``model(b, x) - y`` (so d residuals / d b == d model / d b)."""
    return model(b, x) - y


def sse(b, x, y, model):
    """Sum of squared residuals."""
    return np.sum(residuals(b, x, y, model) ** 2)


# Chosen from a study over all 13 NIST files x both starts x {'2-point',
# '3-point', analytic Jacobian} x {'lm', 'trf'} x {x_scale=1, 'jac'} with
# xtol=ftol=gtol=1e-15 (agreement = ``agree(b, certified, digits=4)``):
#   * 'lm' and 'trf' with x_scale=1 both agree in 76/78 cases; the only
#     misses are Kirby2 (both starts) with '3-point', whose default absolute
#     step ~6e-6*max(1, |b|) is far too large for b5 ~ 2e-5 (pass e.g.
#     ``diff_step=1e-5`` to make it relative; then Kirby2 agrees too).
#   * x_scale='jac' does not help: with 'lm' it makes BoxBOD Start 1 run onto
#     the b2 -> large plateau (model == mean(y), SSE 8.4x certified).
#   * 'trf' is the default: same agreement, insensitive to x_scale, and ~1/3
#     fewer function evaluations (MGH09 Start 1: ~130 vs ~550).
DEFAULT_METHOD = "trf"
DEFAULT_X_SCALE = 1.0
TOL = 1e-15


def fit(ds, start, jac="zygote_sym", *, method=DEFAULT_METHOD, x_scale=DEFAULT_X_SCALE,
        model=None, max_nfev=None, full_output=False, **least_squares_kwargs):
    """Least-squares fit of ``model_for(ds)`` (or ``model``) to ``ds``.

    start : array of p starting values, or 1 / 2 for ``ds.start1`` / ``ds.start2``.
    jac   : 'zygote_sym' (default): the residual Jacobian from a compiled
            zygote_sym kernel (:func:`zygote_sym.optimize.residuals`);
            '2-point' / '3-point': SciPy finite differences; or a callable
            ``jac(b) -> (n, p)`` array, d residuals / d b.
    Uses ``scipy.optimize.least_squares`` with xtol=ftol=gtol=1e-15; extra
    keyword arguments (e.g. ``diff_step``) are passed on to it.
    Returns the fitted parameters, shape (p,), or with ``full_output`` the
    whole ``scipy.optimize.OptimizeResult``.
    """
    model = model_for(ds) if model is None else model
    if isinstance(start, (int, np.integer)) and start in (1, 2):
        start = ds.start1 if start == 1 else ds.start2
    b0 = np.asarray(start, dtype=float)
    if jac == "zygote_sym":
        fun, jac, b0, _ = flat_residuals(residuals, b0, ds.x, ds.y, model)
    else:
        def fun(b):
            return np.asarray(residuals(b, ds.x, ds.y, model), dtype=float)
        if callable(jac):
            user_jac = jac

            def jac(b):
                return np.asarray(user_jac(b), dtype=float).reshape(len(ds.x), len(b))
        elif jac not in ("2-point", "3-point", "cs"):
            raise ValueError(f"jac must be 'zygote_sym', '2-point', '3-point' or a callable, "
                             f"not {jac!r}")
    if max_nfev is None:
        max_nfev = 100_000 if isinstance(jac, str) else 20_000

    # Trial steps far from the solution can overflow (e.g. BoxBOD Start 1
    # with 'trf' tries a step with exp(+large)); the trust-region step is
    # then rejected, so the overflow warning is only noise.
    with np.errstate(over="ignore"):
        res = least_squares(fun, b0, jac=jac, method=method, x_scale=x_scale,
                            xtol=TOL, ftol=TOL, gtol=TOL, max_nfev=max_nfev,
                            **least_squares_kwargs)
    return res if full_output else res.x


# ---------------------------------------------------------------------------
# Agreement with certified values, and the report
# ---------------------------------------------------------------------------


def lre(b, certified):
    """NIST log relative error ``-log10(|b - c| / |c|)`` per parameter: the
    number of agreeing significant digits (capped at 15; higher is better)."""
    b = np.asarray(b, dtype=float)
    c = np.asarray(certified, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = -np.log10(np.abs(b - c) / np.abs(c))
    return np.minimum(np.nan_to_num(r, nan=0.0), 15.0)


def agree(b, certified, digits=4):
    """True if every parameter agrees with its certified value to ``digits``
    significant digits, taken as relative error ``|b - c| / |c| <
    0.5 * 10**(1 - digits)`` (digits=4 -> 5e-4).  All NIST certified values
    are nonzero."""
    b = np.asarray(b, dtype=float)
    c = np.asarray(certified, dtype=float)
    if b.shape != c.shape or not np.all(np.isfinite(b)):
        return False
    return bool(np.all(np.abs(b - c) < 0.5 * 10.0 ** (1 - digits) * np.abs(c)))


def report(ds, results, model=None, digits=4):
    """The fits beside the certified values, as text.

    results: {label: OptimizeResult or parameter array}, e.g. {'Start 1': r1,
    'Start 2': r2}.  One row per parameter (each fit, the certified value,
    each fit's LRE = agreeing significant digits), then the residual sum of
    squares, and a line per fit saying whether it agrees to `digits` digits.
    """
    model = model_for(ds) if model is None else model
    params = {k: np.asarray(getattr(r, "x", r), dtype=float) for k, r in results.items()}
    labels = list(params)
    w = 17
    head = (f"{'parameter':<10}" + "".join(f"{k + ' fit':>{w + 2}}" for k in labels)
            + f"{'certified':>{w + 2}}" + "".join(f"{'LRE ' + k[-1]:>7}" for k in labels))
    lines = [f"{ds.name}: y = {ds.model_text or model.__doc__}   "
             f"({len(ds.x)} observations, {ds.n_params} parameters)", "", head]
    for i in range(ds.n_params):
        lines.append(f"{'b' + str(i + 1):<10}"
                     + "".join(f"{b[i]:>{w + 2}.10E}" for b in params.values())
                     + f"{ds.certified[i]:>{w + 2}.10E}"
                     + "".join(f"{lre(b[i], ds.certified[i]):>7.1f}" for b in params.values()))
    rss = {k: float(sse(b, ds.x, ds.y, model)) for k, b in params.items()}
    lines.append(f"{'RSS':<10}" + "".join(f"{v:>{w + 2}.10E}" for v in rss.values())
                 + f"{ds.rss_certified:>{w + 2}.10E}"
                 + "".join(f"{lre(v, ds.rss_certified):>7.1f}" for v in rss.values()))
    lines.append("")
    for k, b in params.items():
        ok = agree(b, ds.certified, digits)
        r = results[k]
        extra = (f"; {r.nfev} residual and {r.njev} Jacobian evaluations"
                 if hasattr(r, "nfev") and r.njev is not None else "")
        lines.append(f"{k}: {'agrees' if ok else 'does NOT agree'} with the certified "
                     f"parameters to {digits} significant digits (min LRE "
                     f"{lre(b, ds.certified).min():.1f}){extra}")
    return "\n".join(lines)


def run_file(path, jac="zygote_sym", method=DEFAULT_METHOD, out=print):
    """Parse a NIST .dat file, fit from Start 1 and Start 2, print the report.

    Returns {'Start 1': OptimizeResult, 'Start 2': OptimizeResult}.
    """
    ds = parse(path)
    model = model_for(ds)
    results, times = {}, []
    for s in (1, 2):
        t0 = time.perf_counter()
        results[f"Start {s}"] = fit(ds, s, jac=jac, method=method, model=model,
                                    full_output=True)
        times.append(time.perf_counter() - t0)
    out(report(ds, results, model))
    how = ("compiled zygote_sym residual Jacobian" if jac == "zygote_sym"
           else f"SciPy finite differences ({jac})")
    out(f"scipy.optimize.least_squares(method={method!r}) with the {how}; "
        + ", ".join(f"{k} {t:.2f} s" for k, t in zip(results, times)))
    return results
