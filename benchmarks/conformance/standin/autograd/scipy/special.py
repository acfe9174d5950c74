"""autograd.scipy.special stand-in: scipy.special itself."""
import scipy.special as _m

for _name in dir(_m):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_m, _name)

from scipy.special import logsumexp  # noqa: E402,F401
