"""Places in the state a traced function reached (`(holder, how, key)` of a
capture.Reach): reading them, assigning into them (in place, or by
rebuilding an immutable holder up to a mutable one), and :func:`scrub`,
which replaces the tracers f left in them by their values.
"""
import ctypes
import functools
import types

import numpy as np

from .capture import _LRU, _WRAPPERS, SEQ_ITERATORS, Reach

_LOCALS_TO_FAST = getattr(ctypes.pythonapi, "PyFrame_LocalsToFast", None)  # absent from 3.13
# places that can be assigned in place; every other holder is rebuilt in its own places
_SETTABLE = frozenset({"item", "key", "elem", "cell", "slot", "cattr", "default", "kwdefault",
                       "flocal", "flat"})


def get(place):
    """The value at a place (for captured arrays re-read at every call)."""
    holder, how, key = place
    if how == "item":
        return holder[key]
    if how == "cell":
        return holder.cell_contents
    if how == "slot":
        return object.__getattribute__(holder, key)
    if how == "cattr":
        return holder.__dict__[key]
    if how == "default":
        return holder.__defaults__[key]
    if how == "kwdefault":
        return holder.__kwdefaults__[key]
    if how == "pargs":
        return holder.args[key]
    if how == "pkw":
        return holder.keywords[key]
    if how == "flat":
        return holder.flat[key]
    raise KeyError(how)


def settable(holder, how):
    if how == "item":
        return not isinstance(holder, tuple)
    return how in _SETTABLE and not (how == "elem" and isinstance(holder, frozenset))


def put(holder, how, key, value, old=None):
    """Assign in place, bypassing user overrides of __setitem__/__setattr__
    (only a tracer or a copy is being swapped for what it stands for)."""
    if how == "item":
        if isinstance(holder, dict):
            dict.__setitem__(holder, key, value)
        elif isinstance(holder, list):
            list.__setitem__(holder, key, value)
        else:
            holder[key] = value  # deque
    elif how == "key":
        v = dict.pop(holder, key)
        dict.__setitem__(holder, value, v)
    elif how == "elem":
        holder.discard(old)
        holder.add(value)
    elif how == "cell":
        holder.cell_contents = value
    elif how == "slot":
        object.__setattr__(holder, key, value)
    elif how == "cattr":
        type.__setattr__(holder, key, value)
    elif how == "default":
        d = list(holder.__defaults__)
        d[key] = value
        holder.__defaults__ = tuple(d)
    elif how == "kwdefault":
        holder.__kwdefaults__[key] = value
    elif how == "flat":
        holder[np.unravel_index(key, holder.shape)] = value
    elif how == "flocal":
        frame = holder.gi_frame
        frame.f_locals[key] = value
        if _LOCALS_TO_FAST is not None:
            _LOCALS_TO_FAST(ctypes.py_object(frame), ctypes.c_int(0))
    else:
        raise TypeError(f"cannot assign through {how}")


def rebuild(x, changes):
    """A copy of the immutable holder `x` with `changes` {(how, key): value}."""
    t = type(x)
    if isinstance(x, tuple):
        items = list(x)
        for (_, k), v in changes.items():
            items[k] = v
        return x._make(items) if hasattr(x, "_make") else t(items)
    if isinstance(x, frozenset):
        items = set(x)
        for (_, k), v in changes.items():
            items.discard(k)
            items.add(v)
        return t(items)
    parts = {how: v for (how, _), v in changes.items()}
    if t is types.MethodType:
        return types.MethodType(parts.get("func", x.__func__), parts.get("self", x.__self__))
    if t is functools.partial:
        args = list(x.args)
        kw = dict(x.keywords)
        for (how, k), v in changes.items():
            if how == "pargs":
                args[k] = v
            elif how == "pkw":
                kw[k] = v
        return functools.partial(parts.get("func", x.func), *args, **kw)
    if t in _WRAPPERS:
        return t(parts["func"])
    if t is property:
        return property(*[parts.get(p, getattr(x, p)) for p in ("fget", "fset", "fdel")],
                        x.__doc__)
    if t is types.BuiltinMethodType:
        return getattr(parts["self"], x.__name__)
    if t is _LRU:  # a helper under functools.lru_cache: the shadow gets a cache of its own
        return functools.lru_cache(**x.cache_parameters())(parts["idict"]["__wrapped__"])
    if t in SEQ_ITERATORS:  # a generator's `for v in (x, y)`: a new iterator, same position
        state = x.__reduce__()[2:]
        it = (reversed if t is SEQ_ITERATORS[1] else iter)(parts["iter"])
        if state:
            it.__setstate__(state[0])
        return it
    raise TypeError(f"a {t.__name__} cannot be rebuilt")


def put_all(reach, pairs):
    """Assign each (place, value); a place in an immutable holder (tuple,
    frozenset, bound method, partial) rebuilds the holder and assigns that
    in the holder's own places, up to a mutable one.  Returns the places
    that could not be assigned, with the reason."""
    failed, changes, work = [], {}, list(pairs)
    while work:
        place, value = work.pop()
        holder, how, key = place
        if holder is None:
            failed.append((place, "it is the function itself"))
            continue
        try:
            if settable(holder, how):
                put(holder, how, key, value, key)
                continue
            mine = changes.setdefault(id(holder), {})
            mine[(how, key)] = value
            new = rebuild(holder, mine)
        except Exception as e:  # noqa: BLE001 - reported with the place
            failed.append((place, f"{type(e).__name__}: {e}"))
            continue
        work.extend((p, new) for p in reach.parents.get(id(holder), ()))
    return failed


def scrub(roots, is_ours, concrete, back=None):
    """Replace every tracer of ours left in state reachable from `roots` by
    its concrete value, and every shadow copy (`back`: id -> original) by
    its original.  Returns [(path, reason)] of the places that could not be
    fixed (a C object that hides its references cannot be seen at all)."""
    back = back or {}
    reach = Reach(roots, stop=back, arrays=False)
    pairs = []
    for place in reach.tracers:
        t = get_any(place)
        if t is not None and is_ours(t):
            pairs.append((place, concrete(t)))
    for place in reach.stops:
        v = back.get(id(get_any(place)))
        if v is not None:
            pairs.append((place, v))
    return [(reach.path(p), why) for p, why in put_all(reach, pairs)]


def get_any(place):
    """The value at any place (None where it cannot be read back)."""
    holder, how, key = place
    try:
        if how in ("item", "cell", "slot", "cattr", "default", "kwdefault", "pargs", "pkw",
                   "flat"):
            return get(place)
        if how == "key" or how == "elem":
            return key
        if how == "flocal":
            return holder.gi_frame.f_locals[key]
        if how in ("self", "func"):
            return getattr(holder, "__" + how + "__", None) if how != "func" or not isinstance(
                holder, functools.partial) else holder.func
        return getattr(holder, how, None)
    except Exception:  # noqa: BLE001 - changed meanwhile: nothing to fix here
        return None
