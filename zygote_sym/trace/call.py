"""Run a Python function on tracers and collect its SymPy DAG.

`trace_call(f, args)` flattens the arguments into leaves, gives each a
:class:`~zygote_sym.ir.nodes.Leaf` named after its argument path (`a.x`,
`p['w']`, `args[1]`) and calls f with tracers in their place.

No tracer is ever written into the user's state by us: implicit parameters
and captured arrays, and the library proxies that let SciPy's Python
functions and `np.array([...])` take tracers (library.py), live in shadows
of their holders (shadow.Shadows), and
f runs as a shadow function.  What f changes in the shadows is written back
after it returns or raises, and a tracer f stored is replaced by its value.
That clean-up always runs, holds back Ctrl-C until it is done, retries a
step a KeyboardInterrupt broke, and only warns of its own failures, so the
user's exception is the one that propagates (docs/reliability.md).
"""
import collections
import copy
import functools
import inspect
import operator
import signal
import threading
import types
import warnings
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import arraylike, pytree
from .shadow import ShadowError, Shadows
from ..errors import TracerConversionError
from ..ir.nodes import Leaf, postorder
from . import capture, library, places
from .impure import Calls, Quiet, rng_state, rngs
from .capture import MISSING, Reach, ShapeOf, equal_value, like, plain_value, safe_eq
from .places import scrub
from .dispatch import DISPATCH
from .lazy import Forcing, leaf_value
from .tracer import Trace, Tracer


@dataclass
class Traced:
    """What one trace produced."""
    trace: Trace
    leaves: list          # Leaf per differentiable input leaf, in order
    leaf_values: list     # the concrete input values (SymPy exprs in symbolic mode)
    arg_trees: list       # pytree.Node per positional argument
    out_tree: pytree.Node
    out_exprs: list       # SymPy node per output leaf
    out_values: list      # concrete output values (None where symbolic)
    consts: list = field(default_factory=list)  # constant leaves, kernel inputs after `leaves`
    n_params: int = 0     # the last n_params of `leaves` are implicit parameters
    captured: list = field(default_factory=list)  # (const Leaf, Slot) read at call time
    calls: list = field(default_factory=list)     # random draws / clock reads f made
    blind: bool = False   # another profiler was active: calls could not be watched
    reach: object = None  # the state f reached (capture.Reach), when params/capture
    shadowed: frozenset = frozenset()  # ids of the arrays traced as captured constants

    @property
    def guards(self):
        return self.trace.guards

    @property
    def shapes(self):
        return self.trace.shapes

    @property
    def symbolic(self):
        return any(isinstance(v, sp.Expr) for v in self.leaf_values)


def arg_names(f, n):
    """Parameter names of f for n positional arguments (`args[i]` past them)."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        p = params[i] if i < len(params) else None
        if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            names.append(f"args[{i}]")
        else:
            names.append(p.name)
    return names


def _make_leaf(path, value):
    """A real leaf (a complex argument arrives as its two real parts,
    pytree.ComplexParts)."""
    return Leaf(path, () if isinstance(value, sp.Expr) else np.shape(value))


class Slot(tuple):
    """A place in the user's state, read at every call of a compiled kernel."""
    place = property(lambda self: self[0])
    get = property(lambda self: functools.partial(places.get, self[0]))


# ------------------------------------------------------------- the watch
class Watch:
    """What a specialization assumes of the state f reaches, as cheap checks
    (each returns None while it holds, else what changed).

    `reach` is the state after the trace; arrays in `shadowed` were traced
    as captured constants (kernel inputs: any array of the same shape and
    dtype may take their place); `captured` (Leaf, Slot) with `full` (the
    trace's reach) adds the path to each captured array; `skip`: ids left
    out.  `fresh()` first runs one generated expression of identity tests
    (containers of plain values: one C-level comparison), about 0.05 µs per
    object watched; only when that fails are values compared one by one."""

    def __init__(self, reach, shadowed=frozenset(), captured=(), full=None, skip=(),
                 contents=True, fast=True):
        self.checks, self.shadowed, self.skip = [], shadowed, skip  # checks: (what, check)
        self.contents = contents  # False: float arrays are checked by identity only
        self._env = {"_M": MISSING, "like": like, "_eq": self.same_bits, "_op": operator,
                     "_get": places.get}
        self._terms, self._plain, self._snap = [], [], {}
        for i, x in list(reach.nodes.items()):
            if i not in skip and not self._covered(reach, i, x):
                self._at = i
                self._node(reach, x)
        for _, slot in captured:
            self._path(full, slot.place)
        if self._plain:
            conts, snaps, wheres = map(list, zip(*self._plain))
            self._terms.insert(0, f"all(map(_op.eq, {self._bind(conts)}, {self._bind(snaps)}))")
            self.checks += [(id(x), lambda x=x, s=s, w=w: None if safe_eq(x, s) else w)
                            for x, s, w in self._plain]
        self._fast = lambda: False
        if fast and len(self._terms) <= 2000:  # one expression of identity tests, per call
            exec(f"def fast():\n try:\n  return {' and '.join(self._terms) or True}\n"
                 " except Exception:\n  return False", self._env)
            self._fast = self._env["fast"]

    # unsigned integers of each item size: comparing their views compares the bits
    _BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

    @staticmethod
    def same_bits(x, snap):
        """Does array x hold exactly the bits of its copy `snap` (shape, dtype and
        every byte: a NaN payload or the sign of a zero counts)?  Views as
        unsigned integers of the item size compare in one pass without copying
        (about 30x np.array_equal(equal_nan=True) on 10^5 floats)."""
        if x.shape != snap.shape or x.dtype != snap.dtype:
            return False
        bits = Watch._BITS.get(x.dtype.itemsize)
        if bits is None or x.dtype.hasobject:  # (hasobject: not watched by value)
            return x.tobytes() == snap.tobytes()
        return bool((x.view(bits) == snap.view(bits)).all())

    def fresh(self):
        if self._fast():
            return True
        for _, check in self.checks:
            if check() is not None:
                return False
        return True

    def changes(self):
        """[(what: an object's id or (id, name), what changed)] for each failing check."""
        return [(i, w) for i, w in ((i, check()) for i, check in self.checks) if w is not None]

    def _bind(self, obj):
        name = f"_o{len(self._env)}"
        self._env[name] = obj
        return name

    def _values(self, exprs, thens, where, what=None, read=None):
        """Check that each expression (over bound objects; `read` gives their
        values as a list) still gives its value."""
        same = [self._compare(v) for v in thens]
        for e, v in zip(exprs, thens):
            if id(v) in self.shadowed:  # keep its shape and dtype, not the array
                self._terms.append(f"like({e}, {self._bind(ShapeOf(v))})")
            else:
                self._terms.append(f"{e} is {self._bind(v)}")

        def check():
            try:
                now = read()
            except Exception:  # noqa: BLE001 - gone: changed
                return where
            return None if all(c(v) for c, v in zip(same, now)) else where
        self.checks.append((self._at if what is None else what, check))

    _PLAIN = (dict, list, collections.deque)

    def _plain_copy(self, x, depth=0):
        """A deep copy of a container holding only plain values and such
        containers (compared by value: where it is reached from is re-read at
        every call, so equal is enough), else None."""
        i = id(x)
        if i in self._snap:
            return self._snap[i]
        self._snap[i] = None  # a cycle is not plain
        if depth > 50:
            return None
        items = list(dict.items(x)) if isinstance(x, dict) else list(enumerate(x))
        out = []
        for k, v in items:
            if type(v) in self._PLAIN:
                v = self._plain_copy(v, depth + 1)
                if v is None:
                    return None
            elif not plain_value(v):
                return None
            out.append((k, v))
        snap = dict(out) if isinstance(x, dict) else [v for _, v in out]
        snap = type(x)(snap) if type(x) is collections.deque else snap
        self._snap[i] = snap
        return snap

    def _covered(self, reach, i, x):
        """A plain container held only by plain containers is compared with them."""
        if type(x) not in self._PLAIN or self._plain_copy(x) is None:
            return False
        ps = reach.parents[i]
        return all(h is not None and type(h) in self._PLAIN and id(h) not in reach.namespaces
                   and self._plain_copy(h) is not None for h, _, _ in ps)

    def _bulk(self, x, o, keys, values, where):
        """A container holding objects: the same keys, the same objects."""
        vb = self._bind(values)
        if keys is None:
            self._terms.append(f"(len({o}) == {len(values)} and all(map(_op.is_, {o}, {vb})))")
        else:
            self._terms.append(f"(list({o}) == {self._bind(keys)} and "
                               f"all(map(_op.is_, {o}.values(), {vb})))")
        same = [self._compare(v) for v in values]

        def check():
            try:
                now = list(dict.values(x)) if keys is not None else list(x)
                if keys is not None and list(x) != keys or len(now) != len(values):
                    return where
            except Exception:  # noqa: BLE001 - changed meanwhile
                return where
            return None if all(c(v) for c, v in zip(same, now)) else where
        self.checks.append((self._at, check))

    def _compare(self, v):
        if id(v) in self.shadowed:
            stub = ShapeOf(v)
            return lambda now: like(now, stub)
        frozen = plain_value(v)
        return lambda now: now is v or frozen and equal_value(now, v)

    def _test(self, term, check):
        self._terms.append(term)
        self.checks.append((self._at, check))

    def _node(self, reach, x):
        where = reach.path(reach.parents[id(x)][0])
        t, o = type(x), self._bind(x)
        if isinstance(x, dict) and id(x) in reach.namespaces:
            if "__builtins__" in x and capture.library(x.get("__name__")):
                return  # a library's module attributes are assumed constant
            owners = [type(h) for h, how, _ in reach.parents[id(x)] if how == "idict"]
            for k in reach.names:  # one check per name: f may change one global itself
                if (id(x), k) in self.skip:
                    continue
                if k in x or any(hasattr(c, k) for c in owners):  # (an attribute read
                    # from the class stays watched for an instance attribute shadowing it)
                    self._values([f"{o}.get({k!r}, _M)"], [x.get(k, MISSING)],
                                 reach.path((x, "item", k)), (id(x), k),
                                 lambda k=k: [x.get(k, MISSING)])
        elif isinstance(x, (dict, list, collections.deque, set)):
            values = list(dict.values(x) if isinstance(x, dict) else x)
            snap = self._plain_copy(x)
            if snap is not None:  # with all it holds: one C-level comparison
                self._plain.append((x, snap, where))
            elif isinstance(x, set):
                self._plain.append((x, copy.copy(x), where))
            else:
                self._bulk(x, o, list(x) if isinstance(x, dict) else None, values, where)
        elif t is types.CellType:
            self._values([f"{o}.cell_contents"], [x.cell_contents], where,
                         read=lambda: [x.cell_contents])
        elif t is types.FunctionType and not capture.library(x.__module__):
            def read():
                return [x.__code__, x.__defaults__, *(x.__kwdefaults__ or {}).values()]
            kw = list(x.__kwdefaults__ or {})
            self._values([f"{o}.__code__", f"{o}.__defaults__"] + [
                f"{o}.__kwdefaults__[{k!r}]" for k in kw], read(), where, read=read)
        elif isinstance(x, type) and not capture.library(x.__module__):
            for k in reach.names:
                if k in x.__dict__ and (id(x), k) not in self.skip:
                    self._values([f"{o}.__dict__.get({k!r}, _M)"], [x.__dict__[k]],
                                 reach.path((x, "cattr", k)), (id(x), k),
                                 lambda k=k: [x.__dict__.get(k, MISSING)])
        elif arraylike.read_as_constant(x):  # pandas/xarray: read into the trace as
            snap = arraylike.snapshot(x)      # constants (arraylike.Reading), so by value
            self._test(f"{self._bind(arraylike.same)}({o}, {self._bind(snap)})",
                       lambda: None if arraylike.same(x, snap) else f"{where} (its values)")
        elif isinstance(x, np.ndarray) and x.dtype.kind != "O" and id(x) not in self.shadowed \
                and (self.contents or x.dtype.kind != "f"):  # float arrays are re-read
            snap = x.copy()
            self._test(f"_eq({o}, {self._bind(snap)})",
                       lambda: None if self.same_bits(x, snap) else f"{where} (its values)")
        elif t is types.GeneratorType:
            self._values([f"({o}.gi_frame and {o}.gi_frame.f_lasti)"],
                         [x.gi_frame and x.gi_frame.f_lasti], f"{where} (advanced)",
                         read=lambda: [x.gi_frame and x.gi_frame.f_lasti])
        elif t in capture.SEQ_ITERATORS:
            self._values([f"_op.length_hint({o})"], [operator.length_hint(x)],
                         f"{where} (advanced)", read=lambda: [operator.length_hint(x)])
        else:
            names = [n for n in capture.slot_names(t) if hasattr(x, n)]

            def read():
                return [object.__getattribute__(x, n) for n in names]
            self._values([f"object.__getattribute__({o}, {n!r})" for n in names], read(), where,
                         read=read)

    def _path(self, reach, place):
        """Identity of every holder on the way to a captured array."""
        holder = place[0]
        for _ in range(64):
            if holder is None:
                return
            up = reach.parents[id(holder)][0]
            if up[0] is not None and up[1] in ("item", "cell", "slot", "cattr", "default",
                                                "kwdefault", "pargs", "pkw"):
                self._values([f"_get({self._bind(up)})"], [holder], reach.path(up),
                             read=lambda up=up: [places.get(up)])
            holder = up[0]


# ------------------------------------------------------------- clean-up
class _HoldInterrupts:
    """Ctrl-C while f runs interrupts it as usual; once `holding`, SIGINT is
    held and delivered by `release()` after the clean-up (a temporary
    handler; the main thread only, where Python runs signal handlers)."""

    def __init__(self):
        self.holding, self.held, self.prev = False, None, None
        if threading.current_thread() is threading.main_thread():
            try:
                prev = signal.getsignal(signal.SIGINT)
                if callable(prev):
                    signal.signal(signal.SIGINT, self._handler)
                    self.prev = prev
            except (ValueError, TypeError, OSError):  # not the main interpreter
                pass

    def _handler(self, signum, frame):
        if self.holding:
            self.held = (signum, frame)
        else:
            self.prev(signum, frame)

    def release(self):
        if self.prev is None:
            return
        if signal.getsignal(signal.SIGINT) == self._handler:  # unless f installed its own
            signal.signal(signal.SIGINT, self.prev)
        if self.held is not None:
            self.prev(*self.held)


def _retrying(step):
    """Run an idempotent clean-up step to the end even when a
    KeyboardInterrupt (raised by user code it calls: a key's __hash__, a
    trace hook) breaks it; the interrupt is returned, to re-raise after."""
    interrupted = None
    for _ in range(8):
        try:
            return step(), interrupted
        except KeyboardInterrupt as e:
            interrupted = e
    return [], interrupted


def _warn(message, ok):
    try:
        warnings.warn(message, RuntimeWarning, stacklevel=4)
    except Exception:  # noqa: BLE001 - warnings as errors must not hide f's exception
        if ok:
            raise


# NumPy's words when a traced value is stored into a plain array (`y[i] = x`)
_STORED = "setting an array element with a sequence"
_STORED_NOTE = ("zygote_sym: if a traced value was stored into a plain NumPy array "
                "(y = np.zeros(n); y[i] = x), make the array traced instead: "
                "y = np.zeros_like(x, shape=n) or zygote_sym.Buffer(x, n), or build it "
                "with np.array([...]) / np.stack")


def _parts(t):
    """The real tracers of a traced value (a ComplexTracer's traced parts)."""
    return (t,) if isinstance(t, Tracer) else [p for p in (t.re, t.im) if isinstance(p, Tracer)]


def _clean_up(shadows, roots, trace, ok):
    """After f: f's changes of the shadows into the originals, then escaped
    tracers (and shadows f stored) replaced; problems warn, or raise when f
    itself returned normally and a tracer could not be replaced."""
    failed, i1 = _retrying(shadows.write_back) if shadows is not None else ([], None)
    escaped, i2 = _retrying(lambda: scrub(
        roots, lambda t: any(p.trace is trace for p in _parts(t)),
        lambda t: t.expr if t.value is None else t.value,
        shadows.back if shadows is not None else None))
    for what, why in failed:
        _warn(f"zygote_sym could not write back a change f made to {what}: {why}", ok)
    if escaped:
        msg = ("f left traced values where zygote_sym cannot replace them by their values: "
               + "; ".join(f"{p} ({why})" for p, why in escaped[:5]) + ". Return such values "
               "from f instead of storing them, or store plain copies after the call")
        if not ok:
            _warn(msg, ok)
        elif i1 is None and i2 is None:
            raise TracerConversionError(msg)
    if i1 is not None or i2 is not None:
        raise i2 or i1


def _place_name(reach, obj, fallback, taken):
    holder, how, key = reach.parents[id(obj)][0]
    name = key if isinstance(key, str) and key.isidentifier() and key not in taken else fallback
    taken.add(name)
    return name


def _shadows(reach, targets, consts, proxies, params):
    """Shadows for `targets`, or None when there is nothing to substitute.  A
    captured array or a library proxy that cannot be substituted is left
    out (the array stays a constant; the library object is the original, as
    before proxies); a parameter that cannot be raises, naming it."""
    while targets:
        try:
            return Shadows(reach, targets, no_class=proxies.keys())
        except ShadowError as e:
            if e.args[1] not in consts and e.args[1] not in proxies:  # a parameter: say which
                x = reach.nodes.get(e.args[1])
                i = next((i for i, p in enumerate(params) if x is p or isinstance(
                    x, np.ndarray) and np.may_share_memory(x, p)), 0)
                raise TypeError(f"parameter {i} (an array of shape {np.shape(params[i])}) "
                                f"cannot be substituted: {e.args[0]}; pass it as an "
                                "argument instead (zs.gradient(lambda W: loss(W), W))") from None
            targets = {i: t for i, t in targets.items() if i != e.args[1]}
            consts.pop(e.args[1], None)
    return None


def _unchanged(flat, held):
    """Raise when f changed an array argument in place while it was traced:
    f's own writes into a traced argument go to the trace, so the change came
    through another name for the same array (a dict, an attribute, a global),
    and the derivative would be taken at values f no longer sees.  PyTorch
    refuses the same (a tensor saved for backward modified in place);
    NumPy-style eager tracers (autograd) differentiate at the changed values."""
    for (path, v), snap in zip(flat, held):
        if type(v) is np.ndarray and snap is not v and not Watch.same_bits(v, snap):
            raise ValueError(
                f"argument {path} changed in place while f was traced (f wrote into it "
                "through another reference to the same array, or another thread did), so "
                "its derivative would be taken at values f no longer sees; pass a copy "
                "(f(x.copy())) or build a new array in f instead of writing into the argument")


def trace_call(f, args, names=None, params=(), capture=False, calls=False):
    """Trace f(*args).

    params: implicit parameters (NumPy arrays, see params.Params) that f
    reaches without arguments: closures, globals, defaults, attributes,
    container items, partials, bound methods, class attributes, views of
    them: differentiable leaves after the arguments' (`n_params`).
    capture: the float arrays f reaches that way are constant leaves, and
    those the DAG uses are listed in `Traced.captured` with their place, so
    a compiled kernel reads them at every call.
    calls: record the random draws and clock reads f makes (`Traced.calls`).
    Always: the library modules, functions and distributions f reaches are
    replaced by their proxies (library.substitutes) where that needs no
    shadow class.
    """
    if not callable(f):
        raise TypeError(f"f is {type(f).__name__} {f!r:.40}, not a function: pass the "
                        "function first, then its arguments (zs.gradient(f, x))")
    names = names or arg_names(f, len(args))
    flat = []
    trees = [pytree.flatten(a, n, flat) for a, n in zip(args, names)]
    owner, params = params, list(params)
    reach = Reach([f], opaque=library.OPAQUE)  # (also for library proxies: every call)
    if params and any(id(p) not in reach.nodes and not any(np.may_share_memory(p, a) for a in
                                                           reach.arrays) for p in params):
        reach = Reach([f], everything=True, opaque=library.OPAQUE)  # every attribute of
        # user modules/classes
    taken = {n for n, _ in flat}
    for i, p in enumerate(params):
        flat.append((_place_name(reach, p, f"params[{i}]", taken) if id(p) in reach.nodes
                     else f"params[{i}]", p))
    # captured pandas/xarray objects are read as constant arrays where they meet tracers
    trace = Trace(arraylike.reading(Quiet(DISPATCH) if calls else DISPATCH,
                                    pytree.foreign_arguments(trees)))
    try:  # a trace that fails before f runs (a refused argument) is over too
        leaves = [_make_leaf(path, v) for path, v in flat]
        held = [None if isinstance(v, sp.Expr) else leaf_value(v) for _, v in flat]
        tracers = [trace.new(leaf, h) for leaf, h in zip(leaves, held)]
        arg_tracers = iter(tracers)
        traced_args = [pytree.rebuild(t, arg_tracers) for t in trees]
        own = tracers[len(tracers) - len(params):]
        targets = owner.targets(trace, reach, own) if hasattr(owner, "targets") else dict(
            zip(map(id, params), own))
        targets = {i: t for i, t in targets.items() if i in reach.nodes}  # f reaches them
        consts = {}
        if capture:
            for a in reach.arrays:
                # captured float arrays become kernel inputs (re-read every call); other
                # arrays, complex ones too (a kernel input is real), are checked by content
                if a.dtype.kind == "f" and id(a) not in targets:
                    leaf = Leaf(_place_name(reach, a, f"captured{len(consts)}", taken), a.shape,
                                role="const")
                    targets[id(a)] = trace.new(leaf, leaf_value(a))
                    consts[id(a)] = leaf
        proxies = {i: p for i, p in library.substitutes(reach.nodes).items() if i not in targets}
        shadows = _shadows(reach, {**targets, **proxies}, consts, proxies, params)
        run = f if shadows is None else shadows(f)
        recorder = Calls() if calls else None
        watched = rngs(reach) if calls else []
        states = [rng_state(g) for g, _ in watched]
    except BaseException:
        trace.done = True
        raise
    guard, ok = _HoldInterrupts(), False
    try:
        if recorder is None:
            out = run(*traced_args)
        else:
            with recorder:
                out = run(*traced_args)
            alone = threading.active_count() == 1  # else another thread may have drawn
            recorder.found += [("random" if alone else "random?", name, "its state changed")
                               for (g, name), s0 in zip(watched, states) if rng_state(g) != s0]
        ok = True
    except ValueError as e:  # the user's exception, unchanged; a note says what happened
        if _STORED in str(e) and hasattr(e, "add_note"):  # (PEP 678: Python 3.11+)
            e.add_note(_STORED_NOTE)
        raise
    finally:
        guard.holding = True
        trace.done = True  # a tracer of it met later is an escaped one
        try:
            _clean_up(shadows, [f, *args], trace, ok)
        finally:
            guard.release()
    _unchanged(flat, held)
    out_flat = []
    out_tree = pytree.flatten(out, "output", out_flat)
    out_exprs = [trace.lift(v) for _, v in out_flat]
    out_values = Forcing(v.held if isinstance(v, Tracer) else v for _, v in out_flat)  # (lazy.py)
    captured = []
    if consts:
        used = set(postorder(out_exprs + [g.expr for g in trace.guards]))
        captured = [(leaf, Slot((reach.parents[i][0],))) for i, leaf in consts.items()
                    if leaf in used]
    values = [v.value if isinstance(v, Tracer) else v for _, v in flat]  # (a nested trace)
    return Traced(trace, leaves, values, trees, out_tree, out_exprs, out_values,
                  list(trace.const_values), n_params=len(params), captured=captured,
                  calls=recorder.found if recorder else [],
                  blind=bool(recorder and recorder.blind), reach=reach if params or capture
                  else None, shadowed=frozenset(consts))
