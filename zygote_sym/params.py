"""Implicit parameters, as in Zygote: `gradient(loss, Params([W, b]))`.

The zero-argument loss reaches its parameters through closures, module
globals (also those of the functions it calls), defaults, object and class
attributes, container items, partials and bound methods.  A parameter is
found by identity, so it must be a mutable NumPy array (equal numbers or
strings may be one shared object).  The trace runs f on shadow copies of the
holders on the path to each parameter (trace/shadow.py), so the user's state
never holds a tracer; an array that shares memory with a parameter (a view
of it, or the array it is a view of) is traced through the parameter too.
"""
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np


def check(x: Any, i: int) -> np.ndarray:
    """`x` as Params entry `i`, or a TypeError naming it and the fix."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "iufc":
        return x
    what = (f"an array of dtype {x.dtype}" if isinstance(x, np.ndarray)
            else f"a {type(x).__name__} ({x!r:.40})")
    raise TypeError(
        f"Params entry {i} is {what}: a parameter is found by identity, and equal numbers, "
        "strings or tuples may be one shared object (a = 2.0; b = 2.0 can be the same "
        "float), so Params holds numeric NumPy arrays only. Use an array (np.array(2.0) for a "
        "scalar) and keep using that object in f, or pass the value as an argument: "
        "zs.gradient(lambda a: ..., 2.0)")


class Params:
    """An ordered set of parameter objects (NumPy arrays), keyed by identity.

    >>> W = np.ones(2); p = Params([W])
    >>> W in p, np.ones(2) in p, len(p)
    (True, False, 1)
    """

    def __init__(self, xs: Iterable[np.ndarray] = ()) -> None:
        self._items: list[np.ndarray] = []
        for x in xs:
            self.add(x)

    def add(self, x: np.ndarray) -> None:
        if not any(x is y for y in self._items):
            self._items.append(check(x, len(self._items)))

    def targets(self, trace: Any, reach: Any, tracers: list[Any]) -> dict[int, Any]:
        """What the trace substitutes (id -> tracer): see :func:`targets`."""
        return targets(trace, reach, self._items, tracers)

    def __contains__(self, x: object) -> bool:
        return any(x is y for y in self._items)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Params([{', '.join(f'{np.shape(p)} array' for p in self._items)}])"


def _addresses(a: np.ndarray) -> np.ndarray:
    """The byte address of every element of `a`, in C order."""
    base = a.__array_interface__["data"][0]
    if a.ndim == 0:
        return np.array([base], dtype=np.int64)
    idx = np.indices(a.shape, dtype=np.int64).reshape(a.ndim, -1)
    return base + np.asarray(a.strides, dtype=np.int64) @ idx


def positions(inner: np.ndarray, outer: np.ndarray) -> np.ndarray | None:
    """For each element of `inner` (C order), its flat index in `outer`;
    None unless every element of inner is one of outer's (same dtype)."""
    if inner.dtype != outer.dtype or inner.size == 0:
        return None
    ao = _addresses(outer)
    order = np.argsort(ao, kind="stable")
    so = ao[order]
    if np.any(so[1:] == so[:-1]):  # outer repeats memory (a broadcast view)
        return None
    ai = _addresses(inner)
    k = np.minimum(np.searchsorted(so, ai), so.size - 1)
    return order[k] if np.array_equal(so[k], ai) else None


def _describe(i: int, p: np.ndarray) -> str:
    return f"parameter {i} (an array of shape {np.shape(p)})"


def targets(trace: Any, reach: Any, params: list[np.ndarray],
            tracers: list[Any]) -> dict[int, Any]:
    """Replacements for the parameters and for arrays that share memory with
    one (a view of a parameter, or an array a parameter is a view of)."""
    targets = {id(p): t for p, t in zip(params, tracers)}
    for i, p in enumerate(params):
        for j in range(i):
            if np.shares_memory(p, params[j]):
                raise TypeError(f"{_describe(i, p)} shares memory with {_describe(j, params[j])}"
                                ": one would miss the other's gradient; keep one of them in "
                                "Params (the base array) and index it inside f")
    for a in reach.arrays:
        if id(a) in targets:
            continue
        for i, (p, t) in enumerate(zip(params, tracers)):
            if not np.may_share_memory(a, p):
                continue
            pos = positions(a, p)
            if pos is not None:  # f reads a view of the parameter: index its tracer
                targets[id(a)] = t.reshape(-1)[pos].reshape(a.shape)
                break
            pos = positions(p, a)
            if pos is not None:  # the parameter is a view of what f reads
                c = a.copy()
                whole = trace.new(trace.lift(c), c).reshape(-1)
                whole[pos] = t.reshape(-1)
                targets[id(a)] = whole.reshape(a.shape)
                break
            if np.shares_memory(a, p):
                raise TypeError(
                    f"{_describe(i, p)} partly overlaps the array f reads at "
                    f"{reach.path(reach.parents[id(a)][0])} (shape {a.shape}): pass the base "
                    "array as the parameter and index it inside f")
    return targets


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

    def __init__(self, params: Params, grads: Iterable[Any]) -> None:
        self.params = params
        self._grads = list(grads)

    def _index(self, x: object) -> int:
        for i, p in enumerate(self.params):
            if p is x:
                return i
        raise KeyError("not one of the Params this gradient was taken for")

    def __getitem__(self, x: np.ndarray) -> Any:
        return self._grads[self._index(x)]

    def __contains__(self, x: object) -> bool:
        return x in self.params

    def keys(self) -> list[np.ndarray]:
        return list(self.params)

    def values(self) -> list[Any]:
        return list(self._grads)

    def items(self) -> list[tuple[np.ndarray, Any]]:
        return list(zip(self.params, self._grads))

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self._grads)

    def __repr__(self) -> str:
        return "Grads(" + ", ".join(repr(v) for v in self._grads) + ")"

    def _combine(self, other: Any, op: Callable[[Any, Any], Any]) -> "Grads":
        if isinstance(other, Grads):
            if other.params is not self.params and list(map(id, other.params)) != list(map(id, self.params)):
                raise ValueError("Grads of different Params cannot be combined")
            pairs = zip(self._grads, other._grads)
            return Grads(self.params, [None if a is None and b is None else
                                       op(0.0 if a is None else a, 0.0 if b is None else b)
                                       for a, b in pairs])
        return Grads(self.params, [None if a is None else op(a, other) for a in self._grads])

    def __add__(self, other: "Grads") -> "Grads":
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other: "Grads") -> "Grads":
        return self._combine(other, lambda a, b: a - b)

    def __mul__(self, scalar: Any) -> "Grads":
        if isinstance(scalar, Grads):
            raise TypeError("Grads * Grads is not defined; multiply by a scalar")
        return self._combine(scalar, lambda a, b: a * b)

    __rmul__ = __mul__

    def __truediv__(self, scalar: Any) -> "Grads":
        if isinstance(scalar, Grads):
            raise TypeError("Grads / Grads is not defined; divide by a scalar")
        return self._combine(scalar, lambda a, b: a / b)

    def step(self, lr: float) -> None:
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
