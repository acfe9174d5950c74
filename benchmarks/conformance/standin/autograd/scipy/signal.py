"""autograd.scipy.signal stand-in: scipy.signal, except `convolve`, which in
autograd is its own tensor convolution (extra `axes` / `dot_axes` arguments)
that SciPy does not have."""
import scipy.signal as _m

for _name in dir(_m):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_m, _name)


def convolve(A, B, axes=None, dot_axes=[(), ()], mode="full"):
    if axes is not None or any(len(d) for d in dot_axes):
        raise NotImplementedError(
            "autograd.scipy.signal.convolve with axes/dot_axes is autograd's own tensor "
            "convolution; SciPy has no equivalent")
    return _m.convolve(A, B, mode=mode)
