"""Flatten structured inputs into leaves, and mirror them in gradients.

Leaves are numbers (int, float, Fraction, NumPy scalars and numeric arrays,
SymPy expressions).  Containers flatten recursively: tuple, list, dict,
namedtuple, dataclass, plain objects (`__dict__`/`__slots__`) and types given
to :func:`register_pytree`.  str, bytes, None, bool, enums and callables are
static.  Gradients keep container types; objects give a :class:`Tangent`;
static leaves and leaves with no influence give None (Zygote's `nothing`).
"""
import copy
import dataclasses
import enum
import types
from numbers import Number

import numpy as np
import sympy as sp

_STATIC_TYPES = (str, bytes, bool, np.bool_, type(None), type(Ellipsis), slice, range,
                 enum.Enum, types.FunctionType, types.BuiltinFunctionType,
                 types.MethodType, types.ModuleType, type, np.dtype)
_REGISTRY = {}
# Complex numbers are refused until they are supported with Zygote's convention
# (a real f's gradient is df/dRe(z) + i df/dIm(z)): a silent wrong number
# (SymPy's holomorphic rules applied to abs(z)) is worse than an error.
_COMPLEX = ("{path} is complex; zygote_sym differentiates real values only for now: pass "
            "the real and imaginary parts as two real arguments, f(x + 1j*y) -> "
            "f(x, y) computing with x and y")


class Tangent:
    """The gradient of an object: one field per field of the object.

    >>> Tangent(x=0.5, y=None)
    Tangent(x=0.5, y=None)
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Tangent({inner})"

    def __eq__(self, other):
        if not isinstance(other, Tangent) or other.__dict__.keys() != self.__dict__.keys():
            return NotImplemented
        return all(_equal(a, other.__dict__[k]) for k, a in self.__dict__.items())

    def __iter__(self):
        return iter(self.__dict__.items())


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def register_pytree(cls, flatten, unflatten):
    """Teach zygote_sym a container type.

    flatten(obj) -> (children: list, aux); unflatten(aux, children) -> obj.
    Its gradient is `unflatten(aux, child_gradients)`.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree(Pair, lambda p: ([p.a, p.b], None), lambda aux, c: Pair(*c))
    """
    _REGISTRY[cls] = (flatten, unflatten)


def is_leaf(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (Number, np.number, sp.Expr)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "iufc"
    return getattr(type(x), "pytree_leaf", False)  # a Tracer (this module imports no tracing)


@dataclasses.dataclass
class Node:
    """One level of a flattened tree; `kind` is leaf/static/tuple/list/dict/
    namedtuple/record/custom; `meta` holds keys, types or the original object."""
    kind: str
    meta: object = None
    children: list = dataclasses.field(default_factory=list)


def _record_fields(x):
    if dataclasses.is_dataclass(x):
        return [f.name for f in dataclasses.fields(x)]
    names = list(getattr(x, "__dict__", {}))
    for cls in type(x).__mro__:
        names += [s for s in getattr(cls, "__slots__", ()) if s not in names
                  and not s.startswith("__") and hasattr(x, s)]
    return names


def flatten(x, path, leaves):
    """Append (path, leaf) pairs of `x` to `leaves`; return its tree Node."""
    if is_leaf(x):
        if not getattr(type(x), "pytree_leaf", False) and np.iscomplexobj(x):
            raise TypeError(_COMPLEX.format(path=path))
        leaves.append((path, x))
        return Node("leaf")
    if isinstance(x, _STATIC_TYPES):
        return Node("static", x)
    if type(x) in _REGISTRY:
        kids, aux = _REGISTRY[type(x)][0](x)
        return Node("custom", (type(x), aux),
                    [flatten(c, f"{path}[{i}]", leaves) for i, c in enumerate(kids)])
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return Node("namedtuple", type(x),
                    [flatten(v, f"{path}.{k}", leaves) for k, v in zip(x._fields, x)])
    if isinstance(x, (tuple, list)):
        kind = "tuple" if isinstance(x, tuple) else "list"
        return Node(kind, type(x), [flatten(v, f"{path}[{i}]", leaves) for i, v in enumerate(x)])
    if isinstance(x, dict):
        keys = list(x)
        return Node("dict", (type(x), keys),
                    [flatten(x[k], f"{path}[{k!r}]", leaves) for k in keys])
    if isinstance(x, np.ndarray):
        raise TypeError(f"argument {path} is an array of dtype {x.dtype}, which cannot be "
                        "differentiated: pass a numeric (int/float/complex) array")
    if hasattr(x, "__dict__") or hasattr(type(x), "__slots__"):
        fields = _record_fields(x)
        return Node("record", (x, fields),
                    [flatten(getattr(x, f), f"{path}.{f}", leaves) for f in fields])
    raise TypeError(
        f"argument {path} has type {type(x).__name__}, which zygote_sym cannot flatten: "
        "pass numbers, arrays, tuples, lists, dicts, dataclasses or objects, or teach it "
        "the type with zygote_sym.register_pytree")


def _assemble(node, kids):
    """A container of `node`'s kind (tuple/list/namedtuple/dict/custom) holding `kids`."""
    kind, meta = node.kind, node.meta
    if kind in ("tuple", "list"):
        return meta(kids)
    if kind == "namedtuple":
        return meta(*kids)
    if kind == "dict":
        cls, keys = meta
        return cls(zip(keys, kids))
    cls, aux = meta  # custom
    return _REGISTRY[cls][1](aux, kids)


def rebuild(node, leaves):
    """The tree with its leaves replaced by the iterator `leaves` (statics kept)."""
    if node.kind == "leaf":
        return next(leaves)
    if node.kind == "static":
        return node.meta
    kids = [rebuild(c, leaves) for c in node.children]
    if node.kind != "record":
        return _assemble(node, kids)
    obj, fields = node.meta  # a shallow copy with the new field values
    new = copy.copy(obj)
    for f, v in zip(fields, kids):
        object.__setattr__(new, f, v)
    return new


def count_leaves(node):
    if node.kind == "leaf":
        return 1
    return sum(count_leaves(c) for c in node.children)


def structure_key(node):
    """A hashable description of a tree: kinds, container types, field names
    and static values (a new value of a static leaf may change control flow)."""
    kind, meta = node.kind, node.meta
    if kind == "static":
        try:
            hash(meta)
        except TypeError:
            meta = id(meta)
    elif kind == "record":
        meta = (type(meta[0]), tuple(meta[1]))
    elif kind == "dict":
        meta = (meta[0], tuple(meta[1]))
    elif kind == "custom":
        meta = (meta[0], repr(meta[1]))
    return kind, meta, tuple(structure_key(c) for c in node.children)


def mirror(node, grads):
    """The gradient tree: containers keep their type, objects give Tangent,
    statics give None; `grads` iterates the leaves' gradients in order."""
    if node.kind == "leaf":
        return next(grads)
    if node.kind == "static":
        return None
    kids = [mirror(c, grads) for c in node.children]
    if node.kind == "record":
        return Tangent(**dict(zip(node.meta[1], kids)))
    return _assemble(node, kids)
