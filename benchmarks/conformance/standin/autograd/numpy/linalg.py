"""autograd.numpy.linalg stand-in: numpy.linalg, plus autograd's helpers T and _dot."""
from functools import partial as _partial

import numpy as _np
import numpy.linalg as _l

for _name in dir(_l):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_l, _name)


def T(x):
    return _np.swapaxes(x, -1, -2)


_dot = _partial(_np.einsum, "...ij,...jk->...ik")
