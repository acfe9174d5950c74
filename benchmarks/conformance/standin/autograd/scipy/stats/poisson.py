"""autograd.scipy.stats.poisson stand-in: the methods of scipy.stats.poisson."""
from ._dist import export

export(globals(), "poisson")
