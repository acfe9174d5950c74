"""autograd.numpy.random stand-in: numpy.random itself."""
import numpy.random as _r

for _name in dir(_r):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_r, _name)
