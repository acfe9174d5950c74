"""autograd.scipy.integrate stand-in: scipy.integrate itself."""
import scipy.integrate as _m

for _name in dir(_m):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_m, _name)
