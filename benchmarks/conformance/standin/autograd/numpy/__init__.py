"""autograd.numpy stand-in: plain NumPy (every public name of `numpy`), plus
the few helpers autograd adds to its wrapper, written with NumPy calls."""
import numpy as _np

for _name in dir(_np):
    if not _name.startswith("__") and _name not in ("fft", "linalg", "random"):
        globals()[_name] = getattr(_np, _name)
__version__ = _np.__version__

from . import fft, linalg, random  # noqa: E402  (the stand-in submodules, not NumPy's)


def make_diagonal(D, offset=0, axis1=0, axis2=1):
    """autograd.numpy.make_diagonal: D's last axis laid on the diagonal of
    axes (axis1, axis2) of a new array (offset 0 only)."""
    if offset != 0:
        raise NotImplementedError("stand-in make_diagonal supports offset=0 only")
    n = _np.shape(D)[-1]
    out = _np.expand_dims(D, -1) * _np.eye(n)
    nd = _np.ndim(out)
    a1, a2 = axis1 % nd, axis2 % nd
    return _np.moveaxis(out, (nd - 2, nd - 1), (a1, a2))


def msort(a):
    """numpy.msort (removed in NumPy 2.0): sort along the first axis."""
    return _np.sort(a, axis=0)
