"""autograd.scipy.stats.t stand-in: the methods of scipy.stats.t."""
from ._dist import export

export(globals(), "t")
