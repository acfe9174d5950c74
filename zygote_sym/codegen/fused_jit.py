"""Numba for the fused backend: availability, the loop-body name table, and
compiling generated source (with an on-disk cache keyed by the source).

Numba is optional: `available()` says whether it imports; `require()`
raises ImportError naming `pip install numba`.  Generated loop functions are
compiled with `error_model="numpy"` (1/0.0 is inf, as NumPy gives, not
ZeroDivisionError) and without `fastmath` (fast-math flags let LLVM assume
no NaN/inf and ignore signed zeros: the special points must stay NumPy's),
except for the one addition of a running sum (`_acc`, below).

The cache: numba's `cache=True` needs a function defined in a file, so the
source is written once to `<cache dir>/<sha256 of the source>.py` and
imported from there; numba then keeps the machine code beside it
(`__pycache__`), so a later process loads a kernel instead of compiling it.
The directory is `$ZYGOTE_SYM_CACHE_DIR`, else `$XDG_CACHE_HOME/zygote_sym`
or `~/.cache/zygote_sym`; an empty `ZYGOTE_SYM_CACHE_DIR` (or a directory
that cannot be written) compiles in memory only.
"""
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import threading
from typing import Any, Callable, Dict, Optional

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from ..ir.ops import rint
from ..ir.special import either, logaddexp, safe, sigmoid, softplus, stop_gradient, strong_mul
from . import runtime

numba: Any = None  # imported when first needed (importing it takes ~0.3 s): see _numba()

INSTALL = "pip install numba (or pip install 'zygote_sym[fused]')"

# Inside a fused loop every operand is a float64 (or bool) scalar.  NumPy's
# ufuncs on scalars (numba lowers them to the same libm calls as `math`) keep
# NumPy's semantics where `math` differs: np.maximum propagates NaN, np.floor
# returns a float.  A function absent here makes its node a NumPy call
# between loops (scipy.special has no numba lowering).
#  SymPy           name in a numba loop body
LOOP_NAMES = {
    sp.exp:        "np.exp",
    sp.log:        "np.log",
    log1p:         "np.log1p",
    expm1:         "np.expm1",
    exp2:          "np.exp2",
    log2:          "np.log2",
    log10:         "np.log10",
    sp.sin:        "np.sin",
    sp.cos:        "np.cos",
    sp.tan:        "np.tan",
    sp.asin:       "np.arcsin",
    sp.acos:       "np.arccos",
    sp.atan:       "np.arctan",
    sp.atan2:      "np.arctan2",
    hypot:         "np.hypot",
    sp.sinh:       "np.sinh",
    sp.cosh:       "np.cosh",
    sp.tanh:       "np.tanh",
    sp.asinh:      "np.arcsinh",
    sp.acosh:      "np.arccosh",
    sp.atanh:      "np.arctanh",
    sp.erf:        "math.erf",
    sp.erfc:       "math.erfc",
    sp.Abs:        "np.abs",
    sp.sign:       "np.sign",
    sp.floor:      "np.floor",
    sp.ceiling:    "np.ceil",
    rint:          "np.rint",
    sp.Max:        "np.maximum",
    sp.Min:        "np.minimum",
    softplus:      "_softplus",
    sigmoid:       "_sigmoid",
    logaddexp:     "_logaddexp",
    strong_mul:    "_strong_mul({0}, {1})",
    either:        "({} or {})",
    safe:          "({0} if {1} else {2})",
    stop_gradient: "({})",
}

# runtime.py's scalar helpers, compiled once per process when first needed
_HELPERS = ("_sign", "_exp2", "_softplus", "_sigmoid", "_logaddexp", "_strong_mul")
_helpers: Dict[str, Callable] = {}
_lock = threading.Lock()


def _acc(total: float, term: float) -> float:
    """`total + term`, the step of a fused loop's running sum (`_r = _acc(_r, _v)`).

    Compiled with ONE fast-math flag, `reassoc`: LLVM's flags are per
    instruction, and once numba inlines this function only the accumulating
    fadd carries it, so LLVM may reorder the sum (split it into SIMD lanes
    and partial sums: the loop vectorises; a strict left-to-right chain of
    dependent adds cannot, and is bound by the add's latency: B4's loop 28 ->
    8.6 µs, B3's four sums 200 -> 70 µs, measured).  Reassociation changes
    only the order the terms are added in, never which terms: no flag lets
    LLVM assume finite values (nnan/ninf), ignore signed zeros (nsz) or fuse
    a multiply-add (contract), so a NaN or an inf term still gives NaN/inf
    (inf + -inf is NaN in any order) and every other operation of the loop
    keeps IEEE semantics.  The sum then differs from a left-to-right one by
    rounding only, as NumPy's own `np.sum` (pairwise) does from a loop's
    (and, as there, a partial sum that overflows in one order may not in
    another).
    """
    return total + term


def available() -> bool:
    """Is numba installed (it is not imported here)?"""
    return numba is not None or importlib.util.find_spec("numba") is not None


def require() -> None:
    """Import numba (optional: lazily), or raise ImportError naming the install."""
    global numba
    if numba is None:
        try:
            import numba as module
        except ImportError as e:
            raise ImportError(f"the fused backend compiles kernels with Numba, which is not "
                              f"installed: {INSTALL}") from e
        numba = module


def namespace() -> Dict[str, Any]:
    """What generated loop and scalar functions read: modules, and the
    scalar helpers of runtime.py compiled by numba."""
    require()
    with _lock:
        if not _helpers:
            for name in _HELPERS:
                _helpers[name] = numba.njit(error_model="numpy", cache=False)(
                    getattr(runtime, name))
            _helpers["_acc"] = numba.njit(error_model="numpy", cache=False,
                                          fastmath={"reassoc"})(_acc)
    return {"math": math, "np": np, **_helpers}


def cache_dir() -> Optional[str]:
    """The directory of cached fused kernels, or None (in memory only)."""
    env = os.environ.get("ZYGOTE_SYM_CACHE_DIR")
    if env is not None:
        return env or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "zygote_sym", "fused")


def _module_file(source):
    """The path of a file holding `source`, written once (numba's cache
    checks the file's time stamp, so an existing file is never rewritten);
    None where the cache directory cannot be written."""
    where = cache_dir()
    if where is None:
        return None
    path = os.path.join(where, "k" + hashlib.sha256(source.encode()).hexdigest()[:32] + ".py")
    try:
        if not os.path.exists(path):
            os.makedirs(where, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=where, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)  # atomic: a concurrent process sees all or nothing
        return path
    except OSError:
        return None


def load(source: str, signatures: Dict[str, tuple]) -> Dict[str, Any]:
    """{name: numba dispatcher} for the functions of `source`, each compiled
    now for its one signature (a tuple of numba types; nothing is compiled
    at call time: other argument types raise TypeError, and the caller runs
    the NumPy kernel instead)."""
    require()
    ns = dict(namespace())
    path = _module_file(source)
    if path is not None:
        spec: Any = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(ns)
        sys.modules.setdefault(spec.name, module)  # numba's cache finds functions by module
        spec.loader.exec_module(module)
        ns = module.__dict__
    else:
        exec(compile(source, "<zygote_sym fused>", "exec"), ns)
    out = {}
    for name, sig in signatures.items():
        try:
            disp = numba.njit(sig, error_model="numpy", cache=path is not None,
                              nogil=True)(ns[name])
        except Exception:  # noqa: BLE001 (an unreadable cache entry: compile afresh)
            if path is None:
                raise
            disp = numba.njit(sig, error_model="numpy", nogil=True)(ns[name])
        disp.disable_compile()
        out[name] = disp
    return out


def typeof_scalar(boolean: bool) -> Any:
    """numba's type of a loop's scalar input."""
    return numba.types.boolean if boolean else numba.types.float64


def typeof_array(boolean: bool) -> Any:
    """A loop's array input: 1-D, contiguous, read only (so that read-only
    arrays, such as np.broadcast_to's, are taken as well as writable ones)."""
    dtype = numba.types.boolean if boolean else numba.types.float64
    return numba.types.Array(dtype, 1, "C", readonly=True)


def typeof_output(boolean: bool) -> Any:
    """A loop's output array (the driver passes it): 1-D, contiguous, writable."""
    return numba.types.Array(numba.types.boolean if boolean else numba.types.float64, 1, "C")


def typeof_value(value: object) -> Any:
    """numba's type of an example scalar input, or None when the fused
    backend does not take it (complex, Fraction, object)."""
    if isinstance(value, (bool, np.bool_)):
        return numba.types.boolean
    if isinstance(value, (int, np.integer)):
        return numba.types.int64 if -2**63 <= int(value) < 2**63 else None
    if isinstance(value, (float, np.floating)) and np.dtype(type(value)) == np.float64:
        return numba.types.float64
    return None
