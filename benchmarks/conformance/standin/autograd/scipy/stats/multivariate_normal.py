"""autograd.scipy.stats.multivariate_normal stand-in: the methods of scipy.stats.multivariate_normal."""
from ._dist import export

export(globals(), "multivariate_normal")
