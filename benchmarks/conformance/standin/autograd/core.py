"""Stand-in for autograd.core: vector spaces as autograd defines them, and
make_vjp / make_jvp computed by zygote_sym.

Only zygote_sym's public API is used: `zygote_sym.pullback` for every VJP.
Forward mode is *not* native: a JVP is assembled from reverse-mode VJPs, one
per output basis vector (J·v row by row), see `make_jvp`.
"""
import numpy as np

import zygote_sym

from .util import subvals

# ---------------------------------------------------------------- vector spaces
# These mirror autograd 1.9.1 (autograd/core.py, autograd/builtins.py,
# autograd/numpy/numpy_vspaces.py): check_grads compares results through them
# (vspace equality = same shape and dtype; inner products; random vectors), so
# their semantics decide what passes.


class VSpace:
    mappings = {}
    iscomplex = False

    def __init__(self, value):
        pass

    def zeros(self):
        raise NotImplementedError(repr(self))

    def ones(self):
        raise NotImplementedError(repr(self))

    def standard_basis(self):
        raise NotImplementedError(repr(self))

    def randn(self):
        raise NotImplementedError(repr(self))

    def mut_add(self, x_prev, x_new):
        x_prev = x_prev if x_prev is not None else self.zeros()
        return self._mut_add(x_prev, x_new)

    def add(self, x_prev, x_new):
        return self._add(x_prev, x_new)

    def scalar_mul(self, x, a):
        return self._scalar_mul(x, a)

    def inner_prod(self, x, y):
        return self._inner_prod(x, y)

    def covector(self, x):
        return self._covector(x)

    def _add(self, x, y):
        return x + y

    def _mut_add(self, x, y):
        x += y
        return x

    def _scalar_mul(self, x, a):
        return x * a

    def _inner_prod(self, x, y):
        raise NotImplementedError

    def _covector(self, x):
        return x

    def __eq__(self, other):
        return type(self) == type(other) and self.__dict__ == other.__dict__

    def __repr__(self):
        return f"{type(self).__name__}_{self.__dict__}"

    @classmethod
    def register(cls, value_type, vspace_maker=None):
        VSpace.mappings[value_type] = vspace_maker or cls


def _is_tracer(value):
    """A zygote_sym traced value (duck-typed by module; no internals imported)."""
    return type(value).__module__.startswith("zygote_sym")


def vspace(value):
    try:
        return VSpace.mappings[type(value)](value)
    except KeyError:
        if _is_tracer(value):
            return _tracer_vspace(value)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            vs_type = type(f"NamedTupleVSpace[{type(value).__name__}]", (NamedTupleVSpace,),
                           {"seq_type": type(value)})
            return vs_type(value)
        raise TypeError(
            "Can't find vector space for value {} of type {}. Valid types are {}".format(
                value, type(value), VSpace.mappings.keys()))


def _tracer_vspace(value):
    dtype = np.dtype(getattr(value, "dtype", None) or np.float64)
    vs = ComplexArrayVSpace.__new__(ComplexArrayVSpace) if dtype.kind == "c" else \
        ArrayVSpace.__new__(ArrayVSpace)
    vs.shape, vs.dtype = tuple(np.shape(value)), dtype
    return vs


class ArrayVSpace(VSpace):
    def __init__(self, value):
        value = np.asarray(value)
        self.shape = value.shape
        self.dtype = value.dtype

    @property
    def size(self):
        return np.prod(self.shape)

    @property
    def ndim(self):
        return len(self.shape)

    def zeros(self):
        return np.zeros(self.shape, dtype=self.dtype)

    def ones(self):
        return np.ones(self.shape, dtype=self.dtype)

    def standard_basis(self):
        for idxs in np.ndindex(*self.shape):
            vect = np.zeros(self.shape, dtype=self.dtype)
            vect[idxs] = 1
            yield vect

    def randn(self):
        return np.array(np.random.randn(*self.shape)).astype(self.dtype)

    def _inner_prod(self, x, y):
        return np.dot(np.ravel(x), np.ravel(y))


class ComplexArrayVSpace(ArrayVSpace):
    iscomplex = True

    @property
    def size(self):
        return np.prod(self.shape) * 2

    def ones(self):
        return np.ones(self.shape, dtype=self.dtype) + 1.0j * np.ones(self.shape, dtype=self.dtype)

    def standard_basis(self):
        for idxs in np.ndindex(*self.shape):
            for v in [1.0, 1.0j]:
                vect = np.zeros(self.shape, dtype=self.dtype)
                vect[idxs] = v
                yield vect

    def randn(self):
        return np.array(np.random.randn(*self.shape)).astype(self.dtype) + 1.0j * np.array(
            np.random.randn(*self.shape)).astype(self.dtype)

    def _inner_prod(self, x, y):
        return np.real(np.dot(np.conj(np.ravel(x)), np.ravel(y)))

    def _covector(self, x):
        return np.conj(x)


VSpace.register(np.ndarray,
                lambda x: ComplexArrayVSpace(x) if np.iscomplexobj(x) else ArrayVSpace(x))
for _t in [float, np.longdouble, np.float64, np.float32, np.float16]:
    ArrayVSpace.register(_t)
for _t in [complex, np.clongdouble, np.complex64, np.complex128]:
    ComplexArrayVSpace.register(_t)


class ContainerVSpace(VSpace):
    def __init__(self, value):
        self.shape = value
        self.shape = self._map(vspace)

    @property
    def size(self):
        return sum(self._values(self._map(lambda vs: vs.size)))

    def zeros(self):
        return self._map(lambda vs: vs.zeros())

    def ones(self):
        return self._map(lambda vs: vs.ones())

    def randn(self):
        return self._map(lambda vs: vs.randn())

    def standard_basis(self):
        zero = self.zeros()
        for i, vs in self._kv_pairs(self.shape):
            for x in vs.standard_basis():
                yield self._subval(zero, i, x)

    def _add(self, xs, ys):
        return self._map(lambda vs, x, y: vs._add(x, y), xs, ys)

    def _mut_add(self, xs, ys):
        return self._map(lambda vs, x, y: vs._mut_add(x, y), xs, ys)

    def _scalar_mul(self, xs, a):
        return self._map(lambda vs, x: vs._scalar_mul(x, a), xs)

    def _inner_prod(self, xs, ys):
        return sum(self._values(self._map(lambda vs, x, y: vs._inner_prod(x, y), xs, ys)))

    def _covector(self, xs):
        return self._map(lambda vs, x: vs._covector(x), xs)


class SequenceVSpace(ContainerVSpace):
    def _values(self, x):
        return x

    def _kv_pairs(self, x):
        return enumerate(x)

    def _map(self, f, *args):
        return self.seq_type(map(f, self.shape, *args))

    def _subval(self, xs, idx, x):
        return self.seq_type(subvals(xs, [(idx, x)]))


class ListVSpace(SequenceVSpace):
    seq_type = list


class TupleVSpace(SequenceVSpace):
    seq_type = tuple


class DictVSpace(ContainerVSpace):
    def _values(self, x):
        return x.values()

    def _kv_pairs(self, x):
        return x.items()

    def _map(self, f, *args):
        return {k: f(vs, *[x[k] for x in args]) for k, vs in self.shape.items()}

    def _subval(self, xs, idx, x):
        d = dict(xs.items())
        d[idx] = x
        return d


class NamedTupleVSpace(SequenceVSpace):
    def _map(self, f, *args):
        return self.seq_type(*map(f, self.shape, *args))

    def _subval(self, xs, idx, x):
        return self.seq_type(*subvals(xs, [(idx, x)]))


ListVSpace.register(list)
TupleVSpace.register(tuple)
DictVSpace.register(dict)

# ---------------------------------------------------------------- zygote_sym bridge


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def contains_tracer(*values):
    return any(_is_tracer(leaf) for v in values for leaf in _leaves(v))


class _Nested:
    """Marks exceptions raised by a zygote_sym call whose arguments were
    themselves traced (differentiating through a derivative), so the report
    can group them apart."""

    def __init__(self, *values):
        self.nested = contains_tracer(*values)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and self.nested and isinstance(exc, Exception):
            try:
                exc.__zs_nested__ = True
            except Exception:
                pass
        return False


# How often as_like had to change what zygote_sym returned (reported per check).
ADAPTED = {"real_part": 0, "dtype_cast": 0}


def as_like(grad, example):
    """A zygote_sym cotangent in autograd's form for `example`: None (no
    dependence) becomes zeros; containers are walked.  A real leaf takes the
    real part of a complex cotangent (the adjoint under autograd's real inner
    product) and every leaf is cast to its input's dtype (autograd keeps
    dtypes)."""
    if grad is None:
        return vspace(example).zeros() if not _is_tracer(example) else _zeros_like_traced(example)
    if isinstance(example, dict) and isinstance(grad, dict):
        return {k: as_like(grad.get(k), v) for k, v in example.items()}
    if isinstance(example, (list, tuple)) and isinstance(grad, (list, tuple)) \
            and len(grad) == len(example):
        items = [as_like(g, e) for g, e in zip(grad, example)]
        if hasattr(type(example), "_fields"):
            return type(example)(*items)
        return type(example)(items)
    if _is_tracer(example) or _is_tracer(grad):
        return grad
    try:
        vs = vspace(example)
    except TypeError:
        return grad
    if not isinstance(vs, ArrayVSpace):
        return grad
    if np.iscomplexobj(grad) and not vs.iscomplex:
        if np.any(np.imag(grad) != 0):
            ADAPTED["real_part"] += 1
        grad = np.real(grad)
    if np.shape(grad) == vs.shape and np.result_type(grad) != vs.dtype:
        if not (np.result_type(grad).kind == "c" and vs.iscomplex):
            ADAPTED["dtype_cast"] += 1
        grad = np.asarray(grad).astype(vs.dtype)
        if grad.shape == () and not isinstance(example, np.ndarray):
            grad = grad[()]
    return grad


def _zeros_like_traced(example):
    return np.zeros(np.shape(example))


def make_vjp(fun, x):
    """(vjp, ans): ans = fun(x); vjp(g) = the cotangent of x for output cotangent g,
    through `zygote_sym.pullback`."""
    with _Nested(x):
        ans, back = zygote_sym.pullback(fun, x)

    def vjp(g):
        # autograd's complex convention is the conjugate of Zygote's (as JAX's):
        # its VJP is g times the derivative, zygote_sym's the gradient of
        # Re(conj(dy) f), so vjp(g) = conj(back(conj(g))) (a no-op on reals)
        with _Nested(x, g):
            return as_like(_conj(back(_conj(g))[0]), x)

    return vjp, ans


def _conj(v):
    """The complex conjugate of every complex leaf of v (reals unchanged)."""
    if isinstance(v, dict):
        return {k: _conj(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        items = [_conj(u) for u in v]
        return type(v)(*items) if hasattr(type(v), "_fields") else type(v)(items)
    if v is not None and (np.iscomplexobj(v) or type(v).__name__ == "ComplexTracer"):
        return np.conj(v)
    return v


def make_jvp(fun, x):
    """jvp(v) -> (fun(x), J·v).  zygote_sym has no forward mode, so J·v is
    assembled from VJPs: for every basis vector b of the output space,
    <b, J v> = <v, J^T b> (autograd's real inner products, complex parts
    included), so J·v = sum_b <v, vjp(b)> b.  One trace, one pullback call per
    output basis vector."""
    cache = {}

    def jvp(v):
        if "vjp" not in cache:
            cache["vjp"], cache["ans"] = make_vjp(fun, x)
        vjp, ans = cache["vjp"], cache["ans"]
        with _Nested(x, v):
            x_vs, y_vs = vspace(x), vspace(ans)
            out = y_vs.zeros()
            for b in y_vs.standard_basis():
                w = vjp(y_vs.covector(b))
                c = x_vs.inner_prod(v, x_vs.covector(w))
                c = complex(c).real if not _is_tracer(c) and np.ndim(c) == 0 else c
                out = y_vs.add(out, y_vs.scalar_mul(b, c))
        return ans, out

    return jvp


# ---------------------------------------------------------------- primitives

primitive_vjps = {}
primitive_jvps = {}


def _no_custom_rules(what):
    raise NotImplementedError(
        f"custom derivative rules ({what}): zygote_sym has no public API to register a VJP/JVP "
        "for a function")


def defvjp(fun, *vjpmakers, **kwargs):
    _no_custom_rules("autograd.extend.defvjp")


def defvjp_argnum(fun, vjpmaker):
    _no_custom_rules("autograd.extend.defvjp_argnum")


def defvjp_argnums(fun, vjpmaker):
    _no_custom_rules("autograd.extend.defvjp_argnums")


def defjvp(fun, *jvpfuns, **kwargs):
    _no_custom_rules("autograd.extend.defjvp")


def defjvp_argnum(fun, jvpmaker):
    _no_custom_rules("autograd.extend.defjvp_argnum")


def defjvp_argnums(fun, jvpmaker):
    _no_custom_rules("autograd.extend.defjvp_argnums")


def def_linear(fun):
    _no_custom_rules("autograd.extend.def_linear")


def primitive(f):
    """autograd marks f as a primitive whose derivative comes from defvjp.
    zygote_sym has no such notion: the returned function is f itself (traced
    through, as Zygote does for any function without a custom rule), with
    autograd's deprecated rule-definition methods raising NotImplementedError."""
    def wrapped(*args, **kwargs):
        return f(*args, **kwargs)

    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(wrapped, attr, getattr(f, attr))
        except (AttributeError, TypeError):
            pass
    wrapped.fun = f
    wrapped.defvjp = lambda *a, **k: _no_custom_rules("primitive.defvjp (deprecated API)")
    wrapped.defgrad = lambda *a, **k: _no_custom_rules("primitive.defgrad (deprecated API)")
    wrapped.defvjp_is_zero = lambda *a, **k: _no_custom_rules(
        "primitive.defvjp_is_zero (deprecated API)")
    return wrapped


primitive_with_deprecation_warnings = primitive


def notrace_primitive(f):
    return f


class SparseObject:
    __slots__ = ["vs", "mut_add"]

    def __init__(self, vs, mut_add):
        self.vs = vs
        self.mut_add = mut_add
