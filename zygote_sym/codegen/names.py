"""ONE table of function names for every backend.

Each row: the SymPy function; its name in a `math` kernel (also "exact"),
in a NumPy kernel, in numexpr (None: numexpr lacks it, the node is computed
by NumPy between regions); and whether NumPy's own SIMD loop may beat
numexpr for it (`timed`: the cost model measures it on this machine).  A
name with `{}`/`{0}` is a template the arguments fill.  Generated kernels'
helpers (names starting with `_`) are in runtime.py.
"""
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from ..ir.ops import betainc, erfcx, gammainc, gammaincc, ive, log_ndtr, rint
from ..ir.special import (either, logaddexp, nonfinite, safe, sigmoid, softplus, stop_gradient,
                          strong_mul)

#  SymPy         math                    NumPy              numexpr    timed
NAMES = {
    sp.exp:       ("math.exp",             "np.exp",          "exp",     True),
    sp.log:       ("math.log",             "np.log",          "log",     True),
    log1p:        ("math.log1p",           "np.log1p",        "log1p",   True),
    expm1:        ("math.expm1",           "np.expm1",        "expm1",   True),
    exp2:         ("_exp2",                "np.exp2",         None,      False),
    log2:         ("math.log2",            "np.log2",         "log2",    False),
    log10:        ("math.log10",           "np.log10",        "log10",   False),
    sp.sin:       ("math.sin",             "np.sin",          "sin",     True),
    sp.cos:       ("math.cos",             "np.cos",          "cos",     True),
    sp.tan:       ("math.tan",             "np.tan",          "tan",     True),
    sp.asin:      ("math.asin",            "np.arcsin",       "arcsin",  False),
    sp.acos:      ("math.acos",            "np.arccos",       "arccos",  False),
    sp.atan:      ("math.atan",            "np.arctan",       "arctan",  True),
    sp.atan2:     ("math.atan2",           "np.arctan2",      "arctan2", False),
    hypot:        ("math.hypot",           "np.hypot",        "hypot",   False),
    sp.sinh:      ("math.sinh",            "np.sinh",         "sinh",    True),
    sp.cosh:      ("math.cosh",            "np.cosh",         "cosh",    True),
    sp.tanh:      ("math.tanh",            "np.tanh",         "tanh",    True),
    sp.asinh:     ("math.asinh",           "np.arcsinh",      "arcsinh", False),
    sp.acosh:     ("math.acosh",           "np.arccosh",      "arccosh", False),
    sp.atanh:     ("math.atanh",           "np.arctanh",      "arctanh", False),
    sp.erf:       ("math.erf",             "sc.erf",          None,      False),
    sp.erfc:      ("math.erfc",            "sc.erfc",         None,      False),
    sp.erfinv:    ("sc.erfinv",            "sc.erfinv",       None,      False),
    sp.erfcinv:   ("sc.erfcinv",           "sc.erfcinv",      None,      False),
    sp.gamma:     ("math.gamma",           "sc.gamma",        None,      False),
    sp.loggamma:  ("math.lgamma",          "sc.gammaln",      None,      False),
    sp.polygamma: ("sc.polygamma",         "sc.polygamma",    None,      False),
    sp.besseli:   ("sc.iv",                "sc.iv",           None,      False),
    ive:          ("sc.ive",               "sc.ive",          None,      False),
    sp.besselj:   ("sc.jv",                "sc.jv",           None,      False),
    sp.bessely:   ("sc.yv",                "sc.yv",           None,      False),
    sp.besselk:   ("sc.kv",                "sc.kv",           None,      False),
    gammainc:     ("sc.gammainc",          "sc.gammainc",     None,      False),
    gammaincc:    ("sc.gammaincc",         "sc.gammaincc",    None,      False),
    betainc:      ("sc.betainc",           "sc.betainc",      None,      False),
    sp.beta:      ("sc.beta",              "sc.beta",         None,      False),
    erfcx:        ("sc.erfcx",             "sc.erfcx",        None,      False),
    log_ndtr:     ("sc.log_ndtr",          "sc.log_ndtr",     None,      False),
    sp.Abs:       ("abs",                  "np.abs",          "abs",     False),
    sp.sign:      ("_sign",                "np.sign",         "sign",    False),
    sp.floor:     ("math.floor",           "np.floor",        "floor",   False),
    sp.ceiling:   ("math.ceil",            "np.ceil",         "ceil",    False),
    rint:         ("float(round({}))",     "np.rint",         None,      False),
    sp.Max:       ("max",                  "np.maximum",      "maximum", False),
    sp.Min:       ("min",                  "np.minimum",      "minimum", False),
    sp.Heaviside: ("(1.0 if {0} > 0 else {1} if {0} == 0 else 0.0)", "np.heaviside({}, {})",
                   None, False),
    softplus:     ("_softplus",            "_np_softplus",    None,      False),
    sigmoid:      ("_sigmoid",             "sc.expit",        None,      False),
    logaddexp:    ("_logaddexp",           "np.logaddexp",    None,      False),
    strong_mul:   ("_strong_mul({0}, {1})", "_np_strong_mul", None,      False),  # math checks itself
    nonfinite:    ("(not math.isfinite({}))", "_nonfinite",   None,      False),
    either:       ("({} or {})",           "({} or {})",      None,      False),
    safe:         ("({0} if {1} else {2})", "np.where({1}, {0}, {2})", None, False),
    stop_gradient: ("({})",                "({})",            None,      False),
}

MATH = {f: row[0] for f, row in NAMES.items()}
NUMPY = {f: row[1] for f, row in NAMES.items()}
NUMEXPR = {f: row[2] for f, row in NAMES.items() if row[2] is not None}
TIMED = {f: getattr(np, row[1][3:]) for f, row in NAMES.items() if row[3]}
# one-argument functions NumPy computes as a ufunc writing into a buffer (`out=`)
UFUNCS = {f: name for f, name in NUMPY.items()
          if name.startswith("np.") and isinstance(getattr(np, name[3:], None), np.ufunc)
          and getattr(np, name[3:]).nin == 1}
