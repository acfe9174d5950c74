"""autograd.scipy stand-in: plain SciPy submodules."""
from . import integrate, linalg, signal, special, stats  # noqa
