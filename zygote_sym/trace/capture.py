"""The state a traced function reaches, and how to assign into it.

One walk (:class:`Reach`) finds the objects f can reach from its closures,
the globals and module/class attributes its code names, defaults, and all
items and attributes of the containers and objects among them, each once
(by identity, in an explicit stack: cycles and any depth are fine), with
every place (`(holder, how, key)`) that holds each.  Three uses:

- shadows (shadow.Shadows): implicit parameters and compile's captured
  arrays are put in copies of the holders on the path from f to them, so
  a tracer is never written into the user's state;
- escapes (:func:`scrub`): a tracer that f itself stored in reachable state
  is replaced by its value (also in tuples, sets, deques, object arrays,
  generator frames, class and module attributes, dict keys);
- what a compiled kernel assumes of the state (call.Watch).

Functions, classes and modules of libraries (the standard library,
site-packages, zygote_sym) are leaves: their internals are not f's state.
"""
import collections
import enum
import functools
import itertools
import numbers
import operator
import sys
import types
from fractions import Fraction

import numpy as np
import sympy as sp

from .tracer import TRACED, Tracer

# values that hold no references worth following (checked by exact type first)
_ATOMIC = frozenset({int, float, complex, bool, str, bytes, type(None), Fraction, range, slice,
                     type(Ellipsis), type(NotImplemented), np.dtype, *np.sctypeDict.values()})
_ATOMIC_ARRAYS = _ATOMIC | {np.ndarray}  # what a scrub skips (object arrays aside)
_ARRAY_ONLY, _SEQS, _KIND = {np.ndarray}, {list, tuple}, operator.attrgetter("dtype.kind")
_ATOMIC_BY_TYPE: dict = {}
# names whose use means attributes may be read by computed names (watch them all)
DYNAMIC = frozenset({"getattr", "vars", "__dict__", "__getattribute__", "attrgetter", "asdict",
                     "astuple", "fields", "replace", "copy", "deepcopy"})
_LIBRARIES = set(sys.stdlib_module_names) | {"zygote_sym", "numpy", "scipy", "sympy", "numexpr",
                                             "mpmath", "_pytest", "pytest", "hypothesis"}
SEQ_ITERATORS: tuple[type, ...] = (type(iter([])), type(reversed([])), type(iter(())))
_WRAPPERS = (staticmethod, classmethod)
_LRU = type(functools.lru_cache(lambda: 0))


def atomic(v):
    """Is v a value with no references to follow (numbers, strings, SymPy)?"""
    t = type(v)
    if t in _ATOMIC:
        return True
    hit = _ATOMIC_BY_TYPE.get(t)
    if hit is None:
        hit = _ATOMIC_BY_TYPE[t] = t is not Tracer and issubclass(
            t, (numbers.Number, np.generic, sp.Basic, enum.Enum)) and not issubclass(t, np.ndarray)
    return hit


@functools.lru_cache(maxsize=None)
def library(module):
    """Is `module` (a name) part of a library rather than the user's code?"""
    if not isinstance(module, str):
        return module is not None  # None: code exec'd in a namespace of its own
    root = module.partition(".")[0]
    if root in _LIBRARIES or root == "__main__":  # (under pytest, __main__ is pytest's)
        return root != "__main__"
    path = getattr(sys.modules.get(root), "__file__", None) or ""
    return "site-packages" in path or "dist-packages" in path


@functools.lru_cache(maxsize=4096)
def code_names(code):
    """Global and attribute names the code uses, and its string constants
    (`getattr(self, "w")`, `d["w"]`), nested code included."""
    out = set(code.co_names)
    for c in code.co_consts:
        if type(c) is str:
            out.add(c)
        elif isinstance(c, types.CodeType):
            out |= code_names(c)
    return frozenset(out)


@functools.lru_cache(maxsize=None)
def slot_names(t):
    names = []
    for cls in t.__mro__:
        s = cls.__dict__.get("__slots__", ())
        for n in ((s,) if isinstance(s, str) else s):
            if n not in ("__dict__", "__weakref__") and n not in names:
                names.append(n)
    return tuple(names)


def instance_dict(x):
    try:
        d = object.__getattribute__(x, "__dict__")
    except (AttributeError, TypeError):
        return None
    return d if type(d) is dict else None


class Reach:
    """Everything reachable from `roots`, each object once.

    `nodes`: id -> object; `parents`: id -> places `(holder, how, key)`
    holding it (`(None, "root", None)` for a root); `tracers`: places that
    hold a Tracer; `stops`: places holding an object of `stop` (by id; not
    followed); `arrays`: numeric NumPy arrays reached; `names`: the code
    names seen.  Namespaces (globals dicts, module and class attributes, and
    instance attributes when `named_attrs`) are read only at those names
    (`everything`: all attributes of the user's modules and classes).
    Without `arrays`, numeric arrays are not listed (a scrub needs none).
    Objects of the `opaque` types are nodes whose insides are not followed
    (library objects such as SciPy's distributions: their attributes are the
    library's, not f's state).
    """

    def __init__(self, roots, named_attrs=False, stop=None, everything=False, arrays=True,
                 opaque=()):
        self.nodes, self.parents = {}, {}
        self.tracers, self.stops, self.arrays = [], [], []
        self.names, self._order = set(), []
        self.spaces = []  # [holder, number of names scanned]
        self.namespaces = set()  # ids of dicts read only at code names
        self.named_attrs, self._stop, self.everything = named_attrs, stop or {}, everything
        self._opaque = opaque
        self._skip = _ATOMIC if arrays else _ATOMIC_ARRAYS
        self._stack = []
        for r in roots:
            self._add(None, "root", None, r)
        while self._stack or self._rescan():
            while self._stack:
                self._visit(self._stack.pop())

    @property
    def dynamic(self):
        return not self.names.isdisjoint(DYNAMIC)

    def _add(self, holder, how, key, child):
        t = type(child)
        if t in self._skip:
            if t is not np.ndarray or child.dtype.kind != "O":
                return
        elif t in TRACED:
            self.tracers.append((holder, how, key))
            return
        i = id(child)
        if i in self._stop:
            self.stops.append((holder, how, key))
            return
        ps = self.parents.get(i)
        if ps is not None:
            ps.append((holder, how, key))
        elif self._skip is _ATOMIC_ARRAYS and (t is list or t is tuple) and len(child) < 64 \
                and _ATOMIC.issuperset(map(type, child)):
            return  # a scrub need not list a small container of plain values
        elif not atomic(child):
            self.parents[i] = [(holder, how, key)]
            self.nodes[i] = child
            self._stack.append(child)

    def _items(self, holder, how, pairs, values):
        # a C-level type test skips containers of plain numbers, strings
        # (and numeric arrays, when they are not wanted) at once
        kinds = set(map(type, values))
        if kinds <= _ATOMIC:
            return
        if self._skip is _ATOMIC_ARRAYS and (
                kinds == _ARRAY_ONLY and "O" not in set(map(_KIND, values)) or kinds <= _SEQS
                and set(map(type, itertools.chain.from_iterable(values))) <= _ATOMIC):
            return  # a scrub's container of numeric arrays, or of lists of numbers: in C
        pairs = list(pairs() if callable(pairs) else pairs)
        if kinds <= self._skip:  # numbers and numeric arrays: only object arrays matter
            pairs = [(k, v) for k, v in pairs if type(v) is np.ndarray and v.dtype.kind == "O"]
        add = self._add
        for k, v in pairs:
            if type(v) not in _ATOMIC:
                add(holder, how, k, v)

    def _names_of(self, code):
        new = code_names(code) - self.names
        if new:
            self.names |= new
            self._order.extend(new)

    def _space(self, holder):
        if self.everything and not library(
                holder.__module__ if isinstance(holder, type) else holder.get("__name__")):
            d = holder.__dict__ if isinstance(holder, type) else holder
            how = "cattr" if isinstance(holder, type) else "item"
            items = [(k, v) for k, v in d.items() if not (k[:2] == "__" == k[-2:])]
            return self._items(holder, how, items, [v for _, v in items])
        entry = [holder, 0]
        self.spaces.append(entry)
        self._scan(entry)

    def _scan(self, entry):
        holder, start = entry
        entry[1] = len(self._order)
        if isinstance(holder, type):
            d, how = holder.__dict__, "cattr"
        else:
            d, how = holder, "item"
        for k in self._order[start:]:
            v = d.get(k, MISSING)
            if v is not MISSING:
                self._add(holder, how, k, v)

    def _rescan(self):
        n = len(self._stack)
        for entry in self.spaces:
            if entry[1] < len(self._order):
                self._scan(entry)
        return len(self._stack) > n

    def _visit(self, x):
        t = type(x)
        if isinstance(x, dict):
            if id(x) in self.namespaces:
                return self._space(x)
            self._items(x, "item", lambda: dict.items(x), dict.values(x))
            if not _ATOMIC.issuperset(map(type, x)):
                for k in list(x):
                    if type(k) not in _ATOMIC:
                        self._add(x, "key", k, k)
        elif isinstance(x, (list, tuple, collections.deque)):
            items = list(x)
            self._items(x, "item", enumerate(items), items)
        elif isinstance(x, (set, frozenset)):
            items = list(x)
            self._items(x, "elem", zip(items, items), items)
        elif isinstance(x, np.ndarray):
            if x.dtype.kind == "O":
                items = list(x.flat)
                self._items(x, "flat", enumerate(items), items)
            else:
                self.arrays.append(x)
        elif t is types.FunctionType:
            self._function(x)
        elif t is types.CellType:
            try:
                self._add(x, "cell", None, x.cell_contents)
            except ValueError:  # an empty cell
                pass
        elif t is types.MethodType:
            self._add(x, "func", None, x.__func__)
            self._add(x, "self", None, x.__self__)
        elif t is types.BuiltinMethodType:  # `LOG.append` held as a value
            if not isinstance(x.__self__, types.ModuleType):
                self._add(x, "self", None, x.__self__)
        elif t is functools.partial:
            self._add(x, "func", None, x.func)
            for i, a in enumerate(x.args):
                self._add(x, "pargs", i, a)
            for k, a in x.keywords.items():
                self._add(x, "pkw", k, a)
        elif t in _WRAPPERS:
            self._add(x, "func", None, x.__func__)
        elif t is property:
            for part in ("fget", "fset", "fdel"):
                self._add(x, part, None, getattr(x, part))
        elif t is types.ModuleType:
            if library(x.__name__):
                return  # a library's module attributes are not f's state
            d = x.__dict__
            self.namespaces.add(id(d))
            self._add(x, "mdict", None, d)
        elif isinstance(x, type):
            self._class(x)
        elif t is types.GeneratorType:
            frame = x.gi_frame
            if frame is not None:
                self._names_of(x.gi_code)
                self.namespaces.add(id(frame.f_globals))
                self._add(x, "fglobals", None, frame.f_globals)
                for k, v in frame.f_locals.items():
                    self._add(x, "flocal", k, v)
        elif t in SEQ_ITERATORS:
            seq = x.__reduce__()[1]
            if seq:
                self._add(x, "iter", None, seq[0])
        elif not issubclass(t, self._opaque):
            self._object(x, t)

    def _function(self, fn):
        ours = str(fn.__module__).startswith("zygote_sym.")
        if library(fn.__module__) and not ours:
            return
        code = fn.__code__
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            if name != "__class__":  # zero-argument super() keeps the real class
                self._add(fn, "closure", name, cell)
        if ours:  # our wrappers (zs.testing, the transformations) close over the user's f
            return
        self._names_of(code)
        self.namespaces.add(id(fn.__globals__))
        self._add(fn, "globals", None, fn.__globals__)
        for i, v in enumerate(fn.__defaults__ or ()):
            self._add(fn, "default", i, v)
        for k, v in (fn.__kwdefaults__ or {}).items():
            self._add(fn, "kwdefault", k, v)
        if fn.__dict__:
            self._add(fn, "fdict", None, fn.__dict__)

    def _class(self, cls):
        if library(cls.__module__):
            return
        for i, base in enumerate(cls.__bases__):
            self._add(cls, "base", i, base)
        # dunders run implicitly (operators, calls, len): follow them all
        for k, v in list(cls.__dict__.items()):
            if k[:2] == "__" == k[-2:] and type(v) in (types.FunctionType, staticmethod,
                                                         classmethod, property):
                self._add(cls, "cattr", k, v)
        self._space(cls)

    def _object(self, x, t):
        d = instance_dict(x)
        if d is not None:
            if self.named_attrs:
                self.namespaces.add(id(d))
            self._add(x, "idict", None, d)
        for name in slot_names(t):
            try:
                v = object.__getattribute__(x, name)
            except AttributeError:
                continue
            self._add(x, "slot", name, v)
        if not library(t.__module__):
            self._add(x, "type", None, t)

    # -------------------------------------------------------------- reading
    def path(self, place, limit=60):
        """A place as Python: `global CONFIG['a'][0].w`, `closure variable m.w`."""
        parts = []
        holder, how, key = place
        for _ in range(limit):
            if holder is None:
                break
            up = self.parents.get(id(holder), [(None, "root", None)])[0]
            if how == "item" and up[1] in ("globals", "fglobals"):
                parts.append(f"global {key}")
                break
            if how == "closure":
                parts.append(f"closure variable {key} of {holder.__qualname__}")
                break
            parts.append(_segment(holder, how, key, up[1]))
            holder, how, key = up
        return "".join(reversed(parts)) or "f"


MISSING = object()


def _segment(holder, how, key, above):
    if how == "item":
        return f".{key}" if above in ("mdict", "idict", "fdict") else f"[{key!r}]"
    if how in ("cattr", "slot"):
        return f".{key}"
    if how == "default":
        code = holder.__code__
        names = code.co_varnames[:code.co_argcount]
        return f"{holder.__qualname__}(default {names[len(names) - len(holder.__defaults__) + key]})"
    if how == "kwdefault":
        return f"{holder.__qualname__}(default {key})"
    if how == "flocal":
        return f" (local {key} of generator {holder.__qualname__})"
    if how in ("globals", "fglobals", "cell", "idict", "fdict", "type", "mdict", "root"):
        return ""
    return {"key": f" (the key {key!r})", "elem": f" (the element {key!r})", "flat": f".flat[{key}]",
            "self": ".__self__", "func": ".__func__", "base": f".__bases__[{key}]",
            "pargs": f".args[{key}]", "pkw": f".keywords[{key!r}]",
            "iter": " (iterated)"}.get(how, f".{how}")


# ---------------------------------------------------- the same value again
def plain_value(v, depth=0):
    """Compared by value: numbers, strings, None, SymPy, tuples of them."""
    if atomic(v):
        return True
    return type(v) in (tuple, frozenset) and depth < 20 and all(
        plain_value(x, depth + 1) for x in v)


def equal_value(now, then):
    if type(now) is not type(then):
        return False
    try:
        return bool(now == then) or (now != now and then != then)  # nan stays nan
    except Exception:  # noqa: BLE001 - incomparable: changed
        return False


class ShapeOf:
    __slots__ = ("shape", "dtype")

    def __init__(self, a):
        self.shape, self.dtype = a.shape, a.dtype


def like(now, then):
    """A captured array (a kernel input): any array of the same shape and dtype."""
    return type(now) is np.ndarray and now.shape == then.shape and (
        now.dtype is then.dtype or now.dtype == then.dtype)  # (`is`: 90 ns a call less)


def safe_eq(x, snap):
    try:
        return bool(x == snap)
    except Exception:  # noqa: BLE001 - incomparable: changed
        return False
