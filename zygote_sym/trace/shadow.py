"""Shadows: f run on copies of the holders on the path to each value the
trace substitutes (implicit parameters, compile's captured arrays, library
proxies), so the user's state never holds a tracer or a proxy.

The path is found in a capture.Reach; holders are copied by kind (containers,
modules, classes as shadow subclasses, objects, functions rebuilt on the
shadow globals and cells, immutables rebuilt), and what f changes in the
copies is written back to the originals afterwards (`write_back`).
"""
import collections
import copy
import functools
import sys
import types

import numpy as np

from .capture import _LRU as capture_lru
from .capture import MISSING, code_names, instance_dict, library, slot_names
from .places import put, rebuild


class ShadowError(TypeError):
    """A value to substitute is held where no copy of its holder can be made."""


_MUTABLE = (dict, list, collections.deque, set)
_CLASS_OWN = frozenset({"__slots__", "__module__", "__qualname__", "__doc__", "__dict__",
                        "__weakref__"})


def _kind(x):
    if isinstance(x, types.ModuleType):
        return "module"
    if isinstance(x, _MUTABLE) or type(x) is types.CellType:
        return "container"
    if isinstance(x, np.ndarray):
        return "container" if x.dtype.kind == "O" else "array"
    if type(x) is types.FunctionType:
        return "function"
    if isinstance(x, type):
        return "class"
    if isinstance(x, (tuple, frozenset, types.MethodType, staticmethod, classmethod, property,
                      types.BuiltinMethodType, functools.partial, capture_lru)):
        return "immutable"
    return "object"


def _slot(x, name):
    try:
        return object.__getattribute__(x, name)
    except AttributeError:
        return MISSING


class Shadows:
    """Copies of every holder on the path from the roots of `reach` to the
    `targets` ({id(object): replacement}), so f runs on the replacements
    while the user's objects are left alone.  `shadow(f)` is f in that world.

    A holder that cannot be copied raises ShadowError(message, id of the
    target behind it), and so does a class on the way to a target in
    `no_class` (library proxies: a shadow subclass would change `type(self)`
    in code that worked without the proxy).  `write_back()` copies into the
    originals whatever f changed in the copies (its own mutations are kept)."""

    def __init__(self, reach, targets, no_class=frozenset()):
        self.reach, self.sub, self.back = reach, dict(targets), {}
        self._no_class = no_class
        self._shells, self._keep = [], list(targets.values())
        for i, rep in targets.items():
            self.back[id(rep)] = reach.nodes[i]
        dirty = self._dirty()
        edges = {}  # id(holder) -> [(how, key, id(child))] for substituted children
        for c in dirty | set(self.sub):
            for holder, how, key in reach.parents.get(c, ()):
                if holder is not None and id(holder) in dirty:
                    edges.setdefault(id(holder), []).append((how, key, c))
        kinds = {i: _kind(reach.nodes[i]) for i in dirty}
        order = sorted(dirty, key=lambda i: len(reach.nodes[i].__mro__) if kinds[i] == "class"
                       else 0)
        for phase in ("container", "module", "class", "object", "function"):
            for i in order:
                if kinds[i] == phase and i not in self.sub:
                    self._make(reach.nodes[i], phase, edges)
        for i in dirty:  # immutables after what they may hold, children first
            if kinds[i] == "immutable":
                self._immutable(i, kinds, edges)
        for i in dirty:
            if kinds[i] != "immutable":
                self._fill(i, edges.get(i, ()))
        self._shells = [(o, s, k, self._snapshot(s, k)) for o, s, k, _ in self._shells]

    def __call__(self, x):
        return self.sub.get(id(x), x)

    def _dirty(self):
        """The holders on the way from the roots to the targets.  Every
        function reached that uses a copied globals dict runs on the copy
        (f may assign a global that another function reads: both must see
        one dict); a generator's frame, which cannot be copied, only when its
        code names the key on the way."""
        reach, why, seen = self.reach, {}, set()  # why: holder id -> the target behind it
        for t in self.sub:
            todo = [(t, None)]
            while todo:
                c, via = todo.pop()
                for holder, how, key in reach.parents.get(c, ()):
                    h = id(holder)
                    if holder is None or h in self.sub or (h, key) in seen or \
                            how == "fglobals" and via not in code_names(holder.gi_code):
                        continue
                    if how in ("key", "flocal", "fglobals", "iter"):
                        raise ShadowError(f"it is reached through {reach.path((holder, how, key))}"
                                          f", which cannot be copied", t)
                    seen.add((h, key))
                    if h in reach.namespaces or h not in why:  # a namespace: once per key
                        why.setdefault(h, t)
                        todo.append((h, key if h in reach.namespaces else None))
        self._why = why
        return set(why)

    def _error(self, x, what):
        return ShadowError(f"{self.reach.path(self.reach.parents[id(x)][0])} {what}",
                           self._why.get(id(x)))

    def _register(self, orig, shell, kind):
        self.sub[id(orig)] = shell
        self.back[id(shell)] = orig
        self._keep.append(shell)
        if kind:
            self._shells.append((orig, shell, kind, None))
        return shell

    def _make(self, x, phase, edges):
        if phase == "container":
            if isinstance(x, dict):
                mod = sys.modules.get(x.get("__name__")) if "__builtins__" in x else None
                if mod is not None and getattr(mod, "__dict__", None) is x:
                    return self._make(mod, "module", edges)
                shell = dict(x) if type(x) is dict else copy.copy(x)
            elif type(x) is types.CellType:
                shell = types.CellType()
            else:
                shell = x.copy() if isinstance(x, np.ndarray) else copy.copy(x)
            if shell is x:
                raise self._error(x, "cannot be copied")
            return self._register(x, shell, "container")
        if phase == "module":
            if id(x) in self.sub:
                return self.sub[id(x)]
            m = types.ModuleType(x.__name__)
            m.__dict__.update(x.__dict__)
            self._register(x, m, None)
            return self._register(x.__dict__, m.__dict__, "container")
        if phase == "class":
            if self._why.get(id(x)) in self._no_class:
                raise self._error(x, "is a class (a library proxy is not worth a shadow class)")
            return self._register(x, self._class(x, self._error), "class")
        if phase == "object":
            t = type(x)
            try:
                shell = object.__new__(t) if t.__new__ is object.__new__ else copy.copy(x)
            except Exception as e:
                raise self._error(x, f"(a {t.__name__}) cannot be copied: {e}") from None
            if shell is x:  # copy.copy of an object pickled by reference returns it
                raise self._error(x, f"(a {t.__name__}) cannot be copied")
            d = instance_dict(x)
            if d is not None:
                dshell = self.sub.get(id(d))
                if dshell is None:  # f's writes to the copy's attributes are kept too
                    dshell = self._register(d, dict(d), "container")
                object.__setattr__(shell, "__dict__", dshell)
            for name in slot_names(t):
                try:
                    object.__setattr__(shell, name, object.__getattribute__(x, name))
                except AttributeError:
                    pass
            if id(t) in self.sub:
                object.__setattr__(shell, "__class__", self.sub[id(t)])
            return self._register(x, shell, "object")
        g = self.sub.get(id(x.__globals__), x.__globals__)  # a function
        cells = tuple(self.sub.get(id(c), c) for c in x.__closure__ or ())
        shell = types.FunctionType(x.__code__, g, x.__name__, x.__defaults__, cells or None)
        shell.__kwdefaults__ = dict(x.__kwdefaults__) if x.__kwdefaults__ else None
        shell.__qualname__, shell.__doc__ = x.__qualname__, x.__doc__
        shell.__dict__ = self.sub.get(id(x.__dict__), x.__dict__)
        return self._register(x, shell, "function")

    def _class(self, cls, error):
        hook = getattr(cls.__init_subclass__, "__func__", None)
        meta = type(cls)
        if hook is not None and not library(hook.__module__) or not (
                meta is type or library(meta.__module__)):
            raise error(cls, "has its own metaclass or __init_subclass__, so no shadow "
                             "subclass of it is made")
        extra = []
        for b in cls.__mro__[1:]:
            s = self.sub.get(id(b))
            if s is not None and not any(issubclass(e, s) for e in extra):
                extra.append(s)
        try:  # a subclass: methods, isinstance and super() keep working
            return meta(cls.__name__, (cls, *extra), {
                "__slots__": (), "__module__": cls.__module__,
                "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
        except TypeError as e:
            raise error(cls, f"cannot be subclassed: {e}") from None

    def _immutable(self, i, kinds, edges):
        stack, busy = [i], set()
        while stack:
            j = stack[-1]
            if j in self.sub:
                stack.pop()
                continue
            todo = [c for _, _, c in edges.get(j, ()) if kinds.get(c) == "immutable"
                    and c not in self.sub]
            if todo and j not in busy:
                busy.add(j)
                stack.extend(todo)
                continue
            x = self.reach.nodes[j]
            changes = {(how, key): self.sub[c] for how, key, c in edges.get(j, ())}
            if type(x) is capture_lru:  # its dict is filled later: take the function now
                changes = {("idict", None): {"__wrapped__": self(x.__wrapped__)}}
            try:
                self._register(x, rebuild(x, changes), None)
            except TypeError as e:
                raise self._error(x, f"cannot be copied: {e}") from None
            stack.pop()

    def _fill(self, i, edges):
        shell = self.sub[i]
        for how, key, c in edges:
            if how in ("item", "elem", "cell", "slot", "cattr", "default", "kwdefault", "flat"):
                put(shell, how, key, self.sub[c], self.reach.nodes.get(c))

    @staticmethod
    def _snapshot(s, kind):
        if kind == "class":
            return dict(s.__dict__)
        if kind == "function":
            return (s.__defaults__, dict(s.__kwdefaults__ or {}))
        if kind == "object":
            return {n: _slot(s, n) for n in slot_names(type(s))}
        if type(s) is types.CellType:
            return s.cell_contents
        return dict(s) if isinstance(s, dict) else list(s.flat if isinstance(s, np.ndarray)
                                                       else s)

    def unshadow(self, v):
        return self.back.get(id(v), v)

    def write_back(self):
        """Copy f's changes of the shadows into the originals; returns [(what, why)]."""
        failed = []
        for orig, s, kind, before in self._shells:
            try:
                self._write(orig, s, kind, before)
            except Exception as e:  # noqa: BLE001 - reported as a warning
                failed.append((repr(orig)[:60], f"{type(e).__name__}: {e}"))
        return failed

    def _write(self, orig, s, kind, before):
        u = self.unshadow
        if kind == "class":
            for k, v in list(s.__dict__.items()):
                if k not in _CLASS_OWN and before.get(k, MISSING) is not v:
                    type.__setattr__(orig, k, u(v))
            for k in before.keys() - s.__dict__.keys():
                if k in orig.__dict__:
                    type.__delattr__(orig, k)
        elif kind == "function":
            if s.__defaults__ is not before[0]:
                orig.__defaults__ = None if s.__defaults__ is None else tuple(
                    map(u, s.__defaults__))
            for k, v in (s.__kwdefaults__ or {}).items():
                if before[1].get(k, MISSING) is not v:
                    orig.__kwdefaults__[k] = u(v)
        elif kind == "object":
            for n, v in before.items():
                now = _slot(s, n)
                if now is not v and now is not MISSING:
                    object.__setattr__(orig, n, u(now))
        elif type(s) is types.CellType:
            try:
                now = s.cell_contents
            except ValueError:  # f deleted the variable
                return
            if now is not before:
                orig.cell_contents = u(now)
        elif isinstance(s, dict):
            for k, v in list(dict.items(s)):
                if before.get(k, MISSING) is not v:
                    dict.__setitem__(orig, k, u(v))
            for k in before.keys() - s.keys():
                dict.pop(orig, k, None)
        else:
            now = list(s.flat if isinstance(s, np.ndarray) else s)
            if len(now) != len(before) or any(a is not b for a, b in zip(now, before)):
                if isinstance(s, np.ndarray):
                    orig[...] = np.array(list(map(u, now)), dtype=object).reshape(s.shape)
                elif isinstance(s, set):
                    orig.clear()
                    orig.update(map(u, now))
                elif isinstance(s, list):
                    list.__setitem__(orig, slice(None), list(map(u, now)))
                else:
                    orig.clear()
                    orig.extend(map(u, now))
