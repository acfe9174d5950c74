"""autograd.scipy.stats.dirichlet stand-in: the methods of scipy.stats.dirichlet."""
from ._dist import export

export(globals(), "dirichlet")
