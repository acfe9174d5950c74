"""autograd.numpy.fft stand-in: numpy.fft itself."""
import numpy.fft as _f

for _name in dir(_f):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_f, _name)
