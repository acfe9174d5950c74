"""Implicit parameters, as in Zygote: `gradient(loss, Params([W, b]))`.

The zero-argument loss reaches its parameters through closures, module
globals (also those of the functions it calls), object attributes and
container items.  During the trace exactly the places that hold a parameter
(by identity) hold its tracer instead, and they are always restored.
"""
import numpy as np


class Params:
    """An ordered set of parameter objects (NumPy arrays), keyed by identity.

    >>> W = np.ones(2); p = Params([W])
    >>> W in p, np.ones(2) in p, len(p)
    (True, False, 1)
    """

    def __init__(self, xs=()):
        self._items = []
        for x in xs:
            self.add(x)

    def add(self, x):
        if not any(x is y for y in self._items):
            self._items.append(x)

    def __contains__(self, x):
        return any(x is y for y in self._items)

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return f"Params([{', '.join(f'{np.shape(p)} array' for p in self._items)}])"


class Grads:
    """Gradients of implicit parameters, keyed by identity: `g[W]`, `W in g`,
    `keys()/values()/items()`.  `+`, `-` with another Grads of the same Params,
    `*` and `/` with a scalar.  `g[W]` is None for a parameter the loss never
    reached; indexing with a non-parameter raises KeyError.

    >>> W = np.array([1.0, 2.0])
    >>> g = Grads(Params([W]), [np.array([0.5, 0.5])])
    >>> g.step(2.0); W
    array([0., 1.])
    """

    def __init__(self, params, grads):
        self.params = params
        self._grads = list(grads)

    def _index(self, x):
        for i, p in enumerate(self.params):
            if p is x:
                return i
        raise KeyError("not one of the Params this gradient was taken for")

    def __getitem__(self, x):
        return self._grads[self._index(x)]

    def __contains__(self, x):
        return x in self.params

    def keys(self):
        return list(self.params)

    def values(self):
        return list(self._grads)

    def items(self):
        return list(zip(self.params, self._grads))

    def __iter__(self):
        return iter(self.params)

    def __len__(self):
        return len(self._grads)

    def __repr__(self):
        return "Grads(" + ", ".join(repr(v) for v in self._grads) + ")"

    def _combine(self, other, op):
        if isinstance(other, Grads):
            if other.params is not self.params and list(map(id, other.params)) != list(map(id, self.params)):
                raise ValueError("Grads of different Params cannot be combined")
            pairs = zip(self._grads, other._grads)
            return Grads(self.params, [None if a is None and b is None else
                                       op(0.0 if a is None else a, 0.0 if b is None else b)
                                       for a, b in pairs])
        return Grads(self.params, [None if a is None else op(a, other) for a in self._grads])

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b)

    def __mul__(self, scalar):
        if isinstance(scalar, Grads):
            raise TypeError("Grads * Grads is not defined; multiply by a scalar")
        return self._combine(scalar, lambda a, b: a * b)

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if isinstance(scalar, Grads):
            raise TypeError("Grads / Grads is not defined; divide by a scalar")
        return self._combine(scalar, lambda a, b: a / b)

    def step(self, lr):
        """Gradient descent in place: `p -= lr * g[p]` for every parameter with a
        gradient.  Parameters must be float arrays (updated in place)."""
        for p, gr in self.items():
            if gr is None:
                continue
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"step updates parameters in place, so each must be a float "
                                f"array; got {type(p).__name__} "
                                f"{getattr(p, 'dtype', '')}: create it with dtype=float")
            p -= lr * gr
