"""autograd.scipy.stats.norm stand-in: the methods of scipy.stats.norm."""
from ._dist import export

export(globals(), "norm")
