"""autograd.scipy.stats.chi2 stand-in: the methods of scipy.stats.chi2."""
from ._dist import export

export(globals(), "chi2")
