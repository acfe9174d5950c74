"""CIEDE2000 colour difference, a colour library written for plain NumPy,
differentiated unchanged (Zygote's founding example).

The library itself ships with the package as `zygote_sym/cli/colordiff.py`
(the tour runs it); this script shows a user's view of it:

    python examples/colordiff.py
"""
import numpy as np

import zygote_sym as zs
from zygote_sym.cli.colordiff import colordiff

if __name__ == "__main__":
    red, green = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    val, (d_red, d_green) = zs.withgradient(colordiff, red, green)
    print("CIEDE2000(red, green) =", val)
    print("d/d red   =", d_red)
    print("d/d green =", d_green)
