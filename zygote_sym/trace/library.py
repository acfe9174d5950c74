"""Library functions that convert their inputs with `np.asarray`: SciPy's
Python functions (logsumexp, scipy.stats, scipy.signal, scipy.linalg,
scipy.optimize's rosen) and
NumPy's constructors (`np.array([a*b, a + b])` of traced scalars).

Such a function never reaches the dispatch registry: it calls `np.asarray`
on our tracers first.  LIBRARY is ONE table keyed by the library callable:
a function object (`scipy.special.logsumexp`) or a (distribution instance,
method name) pair (`(scipy.stats.norm, "logpdf")`), mapping to a traced
implementation with the library's own signature and defaults (the tables
live with their handlers: handlers/special.py, stats.py, signal.py,
linalg.py, optimize.py; this module merges them).

Users write none of this: `trace_call` walks the state f reaches (its
globals at the names its code uses, closures, defaults, user modules: a
capture.Reach), and :func:`substitutes` lists the library objects found
there that a proxy replaces; f then runs on shadows of their holders
(shadow.py), so `from scipy.stats import norm`, `import scipy.special as sc`
and `import numpy as np` in unchanged user code reach the traced
implementations, and the user's modules are never modified.

`proxy(obj)` gives what the traced function should see instead of `obj`:
for a module, a distribution (frozen or not), a distribution's method or a
function that LIBRARY knows (directly or through attributes), a proxy that
behaves like the original except that LIBRARY entries run their traced
implementation when an argument holds a Tracer anywhere (lists, tuples,
dicts), and the original otherwise; anything else is returned unchanged
(one proxy per object: proxying twice gives the same proxy).
"""
import functools
import types

import numpy as np
import scipy.stats

from ..errors import TracerConversionError
from .capture import library as is_library
from .handlers import linalg, optimize, selects, signal, special, stats
from .tracer import Tracer

LIBRARY = {**selects.LIBRARY, **special.LIBRARY, **signal.LIBRARY, **linalg.LIBRARY,
           **stats.LIBRARY, **optimize.LIBRARY}

# indexes of LIBRARY (derived, not new data): functions by identity, and the
# distribution methods by the distribution's class (a frozen distribution
# holds its own instance of that class)
_FUNCTIONS = frozenset(id(k) for k in LIBRARY if not isinstance(k, tuple))
_INDEXERS = frozenset(map(id, selects.INDEXERS))
_METHODS: dict = {}
for _key in LIBRARY:
    if isinstance(_key, tuple):
        _METHODS.setdefault(type(_key[0]), {})[_key[1]] = LIBRARY[_key]


def _method(obj):
    """The traced implementation of a distribution's bound method (`norm.pdf`), or None."""
    if isinstance(obj, types.MethodType):
        return _METHODS.get(type(obj.__self__), {}).get(obj.__name__)
    return None


def has_tracer(x):
    """Does x hold a traced value (a Tracer, a ComplexTracer), anywhere in
    lists, tuples and dicts (not in arrays)?"""
    if isinstance(x, Tracer) or getattr(type(x), "pytree_leaf", False):
        return True
    if isinstance(x, (list, tuple)):
        return any(has_tracer(v) for v in x)
    if isinstance(x, dict):
        return any(has_tracer(v) for v in x.values())
    return False


class _Indexer:
    """`np.r_`/`np.c_`: `obj[key]` runs the traced implementation when the key
    holds a Tracer, NumPy's otherwise."""

    def __init__(self, original, traced):
        self.__zygote_sym_proxy__, self._traced = original, traced

    def __getitem__(self, key):
        if has_tracer(key):
            return self._traced(key)
        return self.__zygote_sym_proxy__[key]

    def __getattr__(self, name):
        return getattr(self.__zygote_sym_proxy__, name)


def _dispatching(original, traced):
    """`original`, except that a call with a Tracer in its arguments runs `traced`."""
    @functools.wraps(original)
    def call(*args, **kwargs):
        if has_tracer(args) or has_tracer(kwargs):
            return traced(*args, **kwargs)
        return original(*args, **kwargs)
    call.__zygote_sym_proxy__ = original
    return call


def _taking_lists(original):
    """A NumPy function that also takes lists holding tracers (`np.sum([a*b, a])`,
    `np.dot([a, b], w)`): NumPy's dispatch sees only arrays at the top level, so
    such a call converts the list first and raises TracerConversionError; it
    is then made again with those lists as traced arrays (np.array's traced
    implementation).  NumPy's functions convert before they do anything, so
    the failed call had no effect."""
    @functools.wraps(original)
    def call(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except TracerConversionError:
            def fix(v):
                return selects.array(v, copy=False) if isinstance(v, (list, tuple)) and \
                    has_tracer(v) else v
            fixed, kw = [fix(a) for a in args], {k: fix(v) for k, v in kwargs.items()}
            if all(a is b for a, b in zip(fixed, args)) and all(kw[k] is kwargs[k] for k in kw):
                raise
            return original(*fixed, **kw)
    call.__zygote_sym_proxy__ = original
    return call


_STABLE = (types.FunctionType, types.BuiltinFunctionType, np.ufunc, type, types.ModuleType)
_ARRAY_FUNCTION = type(np.sum)  # NumPy's functions that dispatch on __array_function__


class _Proxy:
    """Attribute access passes through to the original; known attributes are
    proxied.  Both are cached, except plain data (a module's mutable globals)."""

    def __init__(self, original):
        object.__setattr__(self, "__zygote_sym_proxy__", original)

    def __getattr__(self, name):
        value = getattr(self.__zygote_sym_proxy__, name)
        wrapped = self._wrap(name, value)
        if wrapped is not value or isinstance(value, _STABLE):
            object.__setattr__(self, name, wrapped)
        return wrapped

    def _wrap(self, name, value):
        return proxy(value)

    def __setattr__(self, name, value):
        setattr(self.__zygote_sym_proxy__, name, value)

    def __dir__(self):
        return dir(self.__zygote_sym_proxy__)

    def __repr__(self):
        return repr(self.__zygote_sym_proxy__)

    @property  # type: ignore[misc]  # read-only on purpose
    def __class__(self):  # isinstance(proxy, types.ModuleType), (proxy, norm_gen) hold
        original = self.__dict__["__zygote_sym_proxy__"]
        return type(self) if original is None else type(original)


class ModuleProxy(_Proxy):
    """A module whose LIBRARY functions and distributions dispatch on tracers;
    NumPy's own functions also take lists holding tracers (`_taking_lists`)."""

    def _wrap(self, name, value):
        wrapped = proxy(value)
        if wrapped is value and type(value) is _ARRAY_FUNCTION:
            return _taking_lists(value)
        return wrapped


class FrozenProxy(_Proxy):
    """A distribution with its shape/loc/scale arguments bound, which may be
    traced (SciPy's own frozen object cannot hold tracers: it is made only
    when an untraced call needs it)."""

    def __init__(self, dist, args, kwargs, frozen=None):
        super().__init__(frozen)
        object.__setattr__(self, "_bound", (dist, args, kwargs))

    def _frozen(self):
        if self.__zygote_sym_proxy__ is None:
            dist, args, kwargs = self._bound
            object.__setattr__(self, "__zygote_sym_proxy__", dist(*args, **kwargs))
        return self.__zygote_sym_proxy__

    def __getattr__(self, name):
        dist, args, kwargs = self._bound
        traced = _METHODS.get(type(dist), {}).get(name)
        if traced is None:
            return getattr(self._frozen(), name)

        def bound(*a, **k):
            return traced(*a, *args, **{**kwargs, **k})
        if has_tracer(args) or has_tracer(kwargs):
            return bound
        return _dispatching(getattr(self._frozen(), name), bound)


class DistributionProxy(_Proxy):
    """`scipy.stats.norm` and friends: methods dispatch on tracers; calling
    it freezes the arguments (traced or not)."""

    def _wrap(self, name, value):
        traced = _METHODS[type(self.__zygote_sym_proxy__)].get(name)
        return value if traced is None else _dispatching(value, traced)

    def __call__(self, *args, **kwargs):
        dist = self.__zygote_sym_proxy__
        frozen = None if has_tracer(args) or has_tracer(kwargs) else dist(*args, **kwargs)
        return FrozenProxy(dist, args, kwargs, frozen)


def _frozen_arguments(rv):
    """(distribution, args, kwargs) of a frozen SciPy distribution, or None."""
    if isinstance(rv, _RV_FROZEN):
        return rv.dist, rv.args, rv.kwds
    return stats.frozen_arguments(rv)


_RV_FROZEN = type(scipy.stats.norm()).__base__  # scipy.stats' rv_frozen


_KNOWN_MODULES: dict = {}  # id(module) -> does it hold LIBRARY entries (directly or in submodules)?


def _knows(module, depth=0):
    """Does a module hold LIBRARY entries among its public names (or in a
    public submodule's)?"""
    hit = _KNOWN_MODULES.get(id(module))
    if hit is None:
        values = [v for k, v in vars(module).items() if not k.startswith("_")]
        hit = any(id(v) in _FUNCTIONS or type(v) in _METHODS or _method(v) is not None
                  for v in values) or depth < 1 and any(
            isinstance(v, types.ModuleType) and v.__name__.startswith(module.__name__ + ".")
            and _knows(v, depth + 1) for v in values)
        _KNOWN_MODULES[id(module)] = hit
    return hit


_PROXIES: dict = {}  # id(original) -> (original, its proxy): one proxy per object


def proxy(obj):
    """What a traced function should see instead of `obj` (see the module doc)."""
    if isinstance(obj, (_Proxy, _Indexer, Tracer, np.ndarray, int, float, str, type)) or (
            isinstance(obj, types.FunctionType) and "__zygote_sym_proxy__" in obj.__dict__):
        return obj  # (attribute lookups on arbitrary objects could run their code)
    known = _PROXIES.get(id(obj))
    if known is not None:
        return known[1]
    made = _make_proxy(obj)
    if made is not obj:
        _PROXIES[id(obj)] = (obj, made)
    return made


def _make_proxy(obj):
    if isinstance(obj, types.ModuleType):
        return ModuleProxy(obj) if _knows(obj) else obj
    if callable(obj) and id(obj) in _FUNCTIONS:
        return _dispatching(obj, LIBRARY[obj])
    if type(obj) in _METHODS:
        return DistributionProxy(obj)
    if id(obj) in _INDEXERS:
        return _Indexer(obj, selects.INDEXERS[obj])
    if _method(obj) is not None:
        return _dispatching(obj, _method(obj))
    if isinstance(obj, functools.partial) and proxy(obj.func) is not obj.func:
        return functools.partial(proxy(obj.func), *obj.args, **obj.keywords)
    frozen = _frozen_arguments(obj)
    if frozen is not None and type(frozen[0]) in _METHODS:
        return FrozenProxy(*frozen, frozen=obj)
    return obj


def register(key, traced):
    """Add a LIBRARY entry from a module above trace/ (zygote_sym/integrate.py:
    odeint and solve_ivp are built on custom_vjp, which trace/ cannot import).
    Call it at import time, before the first proxy: proxies already made keep
    what they saw."""
    global _FUNCTIONS
    LIBRARY[key] = traced
    _FUNCTIONS = _FUNCTIONS | {id(key)}
    _KNOWN_MODULES.clear()


# objects a walk of f's state does not enter: our proxies, and SciPy's
# distributions (frozen or not), whose attributes are SciPy's state
OPAQUE = (_Proxy, _Indexer, _RV_FROZEN, *stats.FROZEN, *_METHODS)
_FROZEN = (_RV_FROZEN, *stats.FROZEN)


def substitutes(nodes):
    """{id(obj): proxy(obj)} for the objects among `nodes` (a Reach's: id ->
    object) that a proxy replaces: library modules holding LIBRARY entries,
    LIBRARY functions, distributions and their methods, frozen
    distributions, partials of those.  A user's own module is left to the
    walk, which shadows its functions one by one.

    >>> import scipy.special
    >>> subs = substitutes({id(scipy.special): scipy.special, id(len): len})
    >>> [type(p).__name__ for p in subs.values()]
    ['ModuleProxy']
    """
    out = {}
    for i, x in nodes.items():
        t = type(x)
        if t is types.ModuleType and not is_library(x.__name__):
            continue
        if i in _FUNCTIONS or i in _INDEXERS or t in _METHODS or t is types.ModuleType \
                or t is types.MethodType \
                or t is functools.partial or issubclass(t, _FROZEN):
            p = proxy(x)
            if p is not x:
                out[i] = p
    return out
