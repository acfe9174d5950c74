"""autograd.scipy.stats.gamma stand-in: the methods of scipy.stats.gamma."""
from ._dist import export

export(globals(), "gamma")
