"""autograd.scipy.signal stand-in: scipy.signal, except `convolve`, which in
autograd is its own tensor convolution (extra `axes` / `dot_axes` arguments)
that SciPy does not have.  With those arguments it is written here as plain
NumPy (one einsum with a constant 0/1 tensor per convolved axis pair), as a
user porting autograd code would write it; zygote_sym differentiates that."""
import numpy as _np
import scipy.signal as _m

for _name in dir(_m):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_m, _name)


def _shift(la, lb, mode):
    """T[k, m, n] = 1 where m = n + start - k: output n of the convolution of
    lengths la (first) and lb, in autograd's (= SciPy's) mode conventions."""
    start, length = {"full": (0, la + lb - 1), "valid": (min(la, lb) - 1, abs(la - lb) + 1),
                     "same": ((lb - 1) // 2, la)}[mode]
    k, m, n = _np.ogrid[:la, :lb, :length]
    return (m == n + start - k).astype(float)


def convolve(A, B, axes=None, dot_axes=[(), ()], mode="full"):
    if axes is None and not any(len(d) for d in dot_axes):
        return _m.convolve(A, B, mode=mode)
    if mode not in ("valid", "full", "same"):
        raise ValueError(f"Mode {mode} undefined, it can be one of 'valid', 'full', and 'same'")
    nda, ndb = _np.ndim(A), _np.ndim(B)
    if axes is None:
        axes = [list(range(nda)), list(range(nda))]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa, sb = [None] * nda, [None] * ndb
    for i, j in zip(*dot_axes):
        sa[i] = sb[j] = next(letters)
    operands, conv_out = [], []
    for i, j in zip(*axes):
        sa[i], sb[j], n = next(letters), next(letters), next(letters)
        operands.append((_shift(_np.shape(A)[i], _np.shape(B)[j], mode), sa[i] + sb[j] + n))
        conv_out.append(n)
    ignore = []  # the axes neither convolved nor contracted: A's, then B's
    for s in (sa, sb):
        for i, letter in enumerate(s):
            if letter is None:
                s[i] = next(letters)
                ignore.append(s[i])
    spec = ",".join(["".join(sa), "".join(sb)] + [s for _, s in operands])
    out = "".join(ignore + conv_out)
    return _np.einsum(f"{spec}->{out}", A, B, *[t for t, _ in operands])
