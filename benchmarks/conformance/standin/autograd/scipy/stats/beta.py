"""autograd.scipy.stats.beta stand-in: the methods of scipy.stats.beta."""
from ._dist import export

export(globals(), "beta")
