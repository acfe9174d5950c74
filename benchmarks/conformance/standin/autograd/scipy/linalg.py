"""autograd.scipy.linalg stand-in: scipy.linalg itself."""
import scipy.linalg as _m

for _name in dir(_m):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_m, _name)
