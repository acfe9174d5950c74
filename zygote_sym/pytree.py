"""Flatten structured inputs into leaves, and mirror them in gradients.

Leaves are numbers (int, float, Fraction, NumPy scalars and numeric arrays,
SymPy expressions).  Containers flatten recursively: tuple, list, dict,
namedtuple, dataclass, plain objects (`__dict__`/`__slots__`) and types given
to :func:`register_pytree`.  str, bytes, None, bool, enums and callables are
static.  Gradients keep container types; objects give a :class:`Tangent`;
static leaves and leaves with no influence give None (Zygote's `nothing`).

pandas Series/DataFrames and xarray DataArrays are one leaf, their values,
and their gradients come back in their type with their labels
(arraylike.py, docs/arrays.md).  Inputs zygote_sym would read differently
from NumPy are refused, naming the path and the fix (docs/reliability.md,
"Inputs"): masked arrays (the mask would be dropped), `np.matrix` and other
ndarray subclasses (they redefine operators), Dask arrays and xarray
Datasets (arraylike.KINDS), other objects that are arrays only through
`__array__` (they would be flattened into their internals), `Decimal`
(computed in float).  Integer data is differentiated as the real numbers
it holds: Python ints up to 2**53, and int64 arrays and scalars (NumPy's
default integers, which wrap only beyond 2**63); unsigned and narrower
NumPy integers (uint8 wraps at 256) are refused when traced, and stay
plain data elsewhere (in f's output, in `stop_gradient`).
"""
import copy
import dataclasses
import decimal
import enum
import types
from numbers import Number

import numpy as np
import sympy as sp

from .arraylike import Foreign, kind as foreign_kind

_STATIC_TYPES = (str, bytes, bool, np.bool_, type(None), type(Ellipsis), slice, range,
                 enum.Enum, types.FunctionType, types.BuiltinFunctionType,
                 types.MethodType, types.ModuleType, type, np.dtype)
_REGISTRY: dict = {}  # type -> (flatten, unflatten)


class ComplexParts:
    """The node kind of a complex leaf: it flattens as two real leaves, its
    real and imaginary parts (`z.real`, `z.imag`), so tracing, the backward
    pass and kernels see real values only (trace/complex.py).  Rebuilt, the
    parts join as `re + 1j*im`: from tracers that is a ComplexTracer, from
    gradients Zygote's convention `df/dRe(z) + i df/dIm(z)` (None where both
    are None)."""

    @staticmethod
    def split(z):
        re, im = z.real, z.imag  # complex scalars, arrays and ComplexTracers alike
        if isinstance(z, np.ndarray):
            return [np.array(re), np.array(im)]
        # (np.float64, not float: compiled.py's all-float fast path must not take them)
        return [re, im] if hasattr(re, "trace") or hasattr(im, "trace") else \
            [np.float64(re), np.float64(im)]

    @staticmethod
    def join(aux, parts):
        re, im = parts
        if re is None and im is None:
            return None
        if im is None:
            return re + 0j
        return 1j * im if re is None else re + 1j * im


_REGISTRY[ComplexParts] = (lambda z: (ComplexParts.split(z), None), ComplexParts.join)
_REGISTRY[Foreign] = (Foreign.flatten, Foreign.unflatten)


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


# (type test, what it is, the fix): refused wherever they occur, since the
# trace would compute on the plain ndarray underneath or on float values.
_REFUSED = [
    (lambda x: isinstance(x, np.ma.MaskedArray), "a masked array (np.ma), whose mask "
     "zygote_sym would ignore",
     "pass {name}.filled(v) with the value masked entries should take, {name}.compressed() "
     "for the unmasked entries, or {name}.data and compute np.where(mask, v, data) in f "
     "with the mask closed over"),
    (lambda x: isinstance(x, np.ndarray) and type(x) not in (np.ndarray, np.memmap),
     "an ndarray subclass ({type}), whose operators zygote_sym would read as plain "
     "ndarray's", "pass np.asarray({name}) and compute with NumPy's semantics"),
    (lambda x: isinstance(x, decimal.Decimal), "a decimal.Decimal, which zygote_sym "
     "would compute with in float64", "pass float({name}), or fractions.Fraction({name}) "
     "for exact results"),
]
# Traced (a Tracer replaces them), they could compute a value f never gives:
# narrow and unsigned NumPy integers wrap around at small values (uint8
# 200*2 is 144, int32 50000**2 is negative); ints beyond 2**53 are not
# floats.  JAX's grad refuses all integer inputs; int64 (NumPy's default,
# wrapping only beyond 2**63) stays differentiable as documented examples
# use it (docs/reliability.md, "Inputs").
_MAX_EXACT_INT = 2**53
_NOT_TRACED = {
    "integer": "{path} is {what} of dtype {dtype}; zygote_sym differentiates it as real "
               "numbers, which could change f's value ({dtype} arithmetic wraps around in "
               "NumPy).  Pass {path}.astype(float) to differentiate it, or, for integer "
               "data that is not differentiated (labels, indices), close over it: "
               "zs.gradient(lambda w: f(w, labels), w)",
    "bigint": "{path} is the int {value}, larger than 2**53 in magnitude, which float64 "
              "cannot hold exactly: pass float({path}) if rounding it is intended",
}


def _not_traced(x):
    """The reason key in _NOT_TRACED for a leaf that must not be traced, or None."""
    if isinstance(x, (np.integer, np.ndarray)) and np.dtype(x.dtype).kind in "iu" and (
            x.dtype.kind == "u" or x.dtype.itemsize < 8):
        return "integer"
    if type(x) is int and abs(x) > _MAX_EXACT_INT:
        return "bigint"
    return None


def _array_like(x):
    """Is x an array only through NumPy's conversion protocols (pandas-like)?"""
    t = type(x)
    return (not dataclasses.is_dataclass(x)
            and any(hasattr(t, a) for a in ("__array__", "__array_interface__",
                                            "__array_struct__")))


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
    for refused, what, fix in _REFUSED:
        if refused(x):
            raise TypeError(f"{path} is {what.format(type=type(x).__name__)}: "
                            f"{fix.format(name=path)}")
    if is_leaf(x):
        if np.iscomplexobj(x):
            return Node("custom", (ComplexParts, None), [
                flatten(p, f"{path}.{n}", leaves)
                for n, p in zip(("real", "imag"), ComplexParts.split(x))])
        leaves.append((path, x))
        reason = _not_traced(x)
        return Node("leaf", reason and (reason, path, _describe(x)))
    if isinstance(x, _STATIC_TYPES):
        return Node("static", x)
    if type(x) in _REGISTRY:
        kids, aux = _REGISTRY[type(x)][0](x)
        return Node("custom", (type(x), aux),
                    [flatten(c, f"{path}[{i}]", leaves) for i, c in enumerate(kids)])
    if foreign_kind(x) is not None:  # pandas/xarray (unless registered): one child, the values
        (values,), aux = Foreign.flatten(x, path)
        return Node("custom", (Foreign, aux), [flatten(values, path, leaves)])
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
    if _array_like(x):
        raise TypeError(
            f"{path} has type {type(x).__name__}, an array only through __array__: "
            f"zygote_sym would differentiate its attributes, not its values.  Pass "
            f"np.asarray({path}, dtype=float), or teach "
            "zygote_sym the type with zygote_sym.register_pytree")
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


def _describe(x):
    """(what, dtype, value) for _NOT_TRACED's messages."""
    what = "an integer array" if isinstance(x, np.ndarray) else (
        "a NumPy integer scalar" if isinstance(x, np.integer) else "a number")
    return what, str(getattr(x, "dtype", type(x).__name__)), x if type(x) is int else None


def _leaf(node, value):
    """`value` in place of a leaf; a tracer in place of a leaf that must not be
    traced (integer data) is refused naming its path and the fix."""
    if node.meta is not None and getattr(type(value), "pytree_leaf", False):
        reason, path, (what, dtype, v) = node.meta
        raise TypeError(_NOT_TRACED[reason].format(path=path, what=what, dtype=dtype, value=v))
    return value


def rebuild(node, leaves):
    """The tree with its leaves replaced by the iterator `leaves` (statics kept)."""
    if node.kind == "leaf":
        return _leaf(node, next(leaves))
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
    if kind == "leaf":
        meta = None  # (dtypes and shapes are the caller's part of the key)
    elif kind == "static":
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


def foreign_arguments(trees):
    """The pandas/xarray objects among the arguments (their trees' Foreign
    nodes), with which captured ones must be aligned (arraylike.Reading)."""
    found, todo = [], list(trees)
    while todo:
        node = todo.pop()
        if node.kind == "custom" and node.meta[0] is Foreign:
            found.append(node.meta[1].template)
        todo.extend(node.children)
    return found


def mirror_all(trees, per_leaf):
    """`per_leaf` (values in leaf order) as a tuple of trees, one per tree
    of `trees` (the positional arguments): what every result per argument is."""
    it = iter(per_leaf)
    return tuple(mirror(t, it) for t in trees)