"""Compiled functions: trace once, then run the kernel on every later call.

`compile(f)` keeps specializations keyed by the inputs' structure, shapes and dtypes. The
contract (docs/reliability.md says it in full):

- re-read at every call: the arguments, and the float arrays f reaches without arguments
  (closures, globals, defaults, attributes, items): they are kernel inputs read from their
  place, so in-place changes and rebinding are both seen;
- checked at every call (a change traces f again, like a failed guard): the guards, and
  everything else f reaches by the names its code uses: numbers, bools, strings, NumPy
  scalars, tuples, the items and length of lists, dicts and sets, integer/boolean arrays (by
  content), object and class attributes, module attributes of the user's modules, the
  identity of functions f calls (a redefined helper is a new trace);
- refused at compile time: random draws inside f (RandomDrawError, naming the call); a clock
  read inside f warns, naming it; a change f makes to state it reaches while traced warns (a
  compiled call does not run f);
- assumed constant: the internals of libraries (NumPy, SciPy, the standard library: their
  module attributes and functions) and state reached only by computed attribute names
  (`getattr(obj, name)` with a name built at run time makes every attribute of the objects
  reached checked).

A window of constant length from an integer argument (`X[i:i+B]`, `X[i*B:(i+1)*B]`, X an
argument or a captured float array) is a gather by `i + arange(B)` in the kernel, guarded
by `0 <= i` and `i + B <= len(X)`: one trace for every offset in range (one more for each
offset NumPy would clip, the last partial batch).  Other integer arguments that decide
slices or indices give one trace per value, found by those values (`_pin`), so a loop over
them traces each value once.  A compiled function of all-float scalars is called through a
generated dispatcher (scalar_dispatch.py), and one of float arrays (in dicts, tuples, lists)
through one generated for the layout of its latest arguments (array_dispatch.py): the same
checks, without the general path's Python-level overhead.

A function written for scalars and called with arrays is evaluated elementwise over the
batch (:class:`BatchedSpecialization`): a gradient field, only when f really is elementwise
(its trace on the arrays has no structural operation, or fails on a Python branch);
otherwise a non-scalar output raises NonScalarOutputError as `zygote_sym.gradient` does.
"""
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import array_dispatch, closed, eager, pytree, scalar_dispatch
from . import dask as dask_support
from .codegen.fused_tier import Tiered, check_backend
from .errors import NonScalarOutputError
from .specialize import (BatchedSpecialization, JacobianSpecialization, Specialization,
                         Unreusable, _Elementwise, _NotElementwise, _name, _warn)
from .trace.call import trace_call
from .trace.tracer import tracing
from .transform import WithGradient, as_result, fresh_result

log = logging.getLogger("zygote_sym.compile")
Wrt = Union[int, Sequence[int]]  # an argument index or several (JAX's argnums)
PINNED = 1024  # traces pinned to integer arguments kept per compiled function


def _leaf_key(a):
    """The signature of a plain leaf (None for anything else)."""
    t = type(a)
    if t is float or t is int:
        return t
    if t is np.ndarray and a.dtype.kind != "c":  # (complex: two real leaves, pytree's way)
        return (a.shape, a.dtype.str)
    return None


def _simple(args):
    """Are all arguments plain leaves (numbers, arrays): no pytree to flatten?"""
    return all(_leaf_key(a) is not None for a in args)


def signature(args: Sequence[Any]) -> Hashable:
    """A hashable key for the structure, shapes and dtypes of `args`."""
    return _flatten(args)[0]


def _flatten(args):
    """(signature, leaves) of `args`: one pass over a pytree."""
    keys = tuple(map(_leaf_key, args))
    if None not in keys:
        return keys, args
    flat: list = []
    trees = [pytree.flatten(a, f"args[{i}]", flat) for i, a in enumerate(args)]
    return ("tree", tuple(pytree.structure_key(t) for t in trees),
            tuple(_leaf_key(v) or (type(v), np.shape(v)) for _, v in flat)), \
        [v for _, v in flat]


def _numeric(v):
    """A leaf zygote_sym.gradient's reuse takes: a real number or real array."""
    return type(v) in (int, float) or type(v) is np.ndarray and v.dtype.kind in "fiu" or \
        isinstance(v, np.generic) and not isinstance(v, np.bool_) and v.dtype.kind in "fiu"


def _pins_ints(spec, args):
    """Do the guards of `spec` (plain arguments) only decide the values of its
    integer arguments (`i == 40`, `i + 10 <= 60`), nothing computed from floats,
    and pin one of them (an equality: inequalities alone, as a window `X[i:i+B]`
    sets, hold for many values, so such a trace is tried for every value)?"""
    traced = getattr(spec, "traced", None)
    if traced is None or not spec.guards or len(traced.leaves) != len(args):
        return False
    ints = {leaf for leaf, a in zip(traced.leaves, args) if type(a) is int}
    return all(gd.check is None and gd.expr.free_symbols <= ints for gd in spec.guards) \
        and any(getattr(gd.expr, "rel_op", None) == "==" for gd in spec.guards)


def _wrt(wrt):
    """compile's `wrt` as a tuple of ints (JAX's argnums), checked now."""
    if wrt is None:
        return None
    items = (wrt,) if isinstance(wrt, (int, np.integer)) else wrt
    try:
        items = tuple(items)
    except TypeError:
        items = (wrt,)
    if not items or any(isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer))
                        for w in items):
        raise TypeError(f"compile(wrt={wrt!r}): wrt is an argument index or a tuple of them "
                        "(as JAX's argnums): 0 for the first argument, -1 for the last")
    return tuple(int(w) for w in items)


def _wrt_for(wrt, n):
    """The argument indices `wrt` names for a call with n arguments."""
    if wrt is None:
        return None
    bad = [w for w in wrt if not -n <= w < n]
    if bad:
        raise ValueError(f"compile(wrt={wrt if len(wrt) > 1 else wrt[0]}): f was called with {n} "
                         f"argument{'s' if n != 1 else ''}, so wrt must be in range({-n}, {n})")
    return {w % n for w in wrt}


class Compiled(Tiered):
    """A function compiled for repeated gradients; see :func:`compile`."""

    reuse = False  # True: zygote_sym.gradient's cache (reuse.py): no compile warnings

    def __init__(self, f: Callable[..., Any], wrt: Optional[Wrt] = None,
                 max_specializations: int = 8, backend: str = "auto") -> None:
        if not callable(f):
            raise TypeError(f"compile(f): f is {type(f).__name__} {f!r:.40}, not a function")
        self.f, self.mode = f, check_backend(backend)
        self._lock = threading.RLock()  # creating and dropping specializations
        self.wrt = _wrt(wrt)
        self.max_specializations = max_specializations
        self._cache: dict = {}
        self._last = None
        self._scalar: dict = {}  # types of all-float args -> a math-kernel specialization
        self._pinned: OrderedDict = OrderedDict()  # (signature, ints) -> a trace pinned to them
        self._retraced: List[str] = []  # what changed, each time state (not a guard) forced a trace
        self._thrashed = False  # warned that guards keep failing
        self.unsafe = None  # (reuse) why a trace of f cannot stand for f: see reuse.py

    def _specialize(self, kind, args):
        wrt = _wrt_for(self.wrt, len(args))
        if kind is not Specialization:
            return kind(self.f, args, wrt, self.mode)
        batched = (self.f, args, wrt, self.max_specializations, self.mode)
        try:  # (this module's trace_call: a test counts the traces)
            return Specialization(self.f, args, wrt, self.mode, trace_call, self.reuse)
        except _Elementwise:  # a function of scalars called with arrays: a gradient field
            return BatchedSpecialization(*batched)
        except ValueError as e:
            if not _simple(args) or "ambiguous" not in str(e):
                raise
            try:  # a Python branch on an array: evaluate f per element, if it is elementwise
                return BatchedSpecialization(*batched)
            except (_NotElementwise, NonScalarOutputError, TypeError):
                raise e from None

    def _specs(self, key):
        """The specializations for one input signature (the oldest signature is
        dropped beyond `4 * max_specializations`, so memory stays bounded)."""
        specs = self._cache.get(key)
        if specs is None:
            with self._lock:
                specs = self._cache.setdefault(key, [])
                if len(self._cache) > 4 * self.max_specializations:
                    old = next(iter(self._cache))
                    gone = self._cache.pop(old)
                    for spec in gone:
                        array_dispatch.unbind(self, spec)
                    self._scalars({k: v for k, v in self._scalar.items() if v not in gone})
                    log.info("%s: dropped the kernels of the oldest input signature (%d in use)",
                             _name(self.f), len(self._cache))
        return specs

    def _run(self, args, kind=Specialization, with_value=True):
        try:
            sig, leaves = _flatten(args)
        except TypeError as e:  # (zygote_sym.gradient's trace names the argument itself)
            if self.reuse:
                raise Unreusable(f"an argument cannot be flattened: {e}") from e
            raise
        simple = leaves is args
        if self.reuse and not all(map(_numeric, leaves)):
            raise Unreusable("an argument holds a leaf other than a real number or array")
        key = (kind, sig)
        specs = self._specs(key)
        pin = (key, tuple(a for a in args if type(a) is int)) if simple else None
        found = self._pinned_run(pin, leaves, with_value) or self._find(specs, leaves, with_value)
        if found is not None:
            return found
        with self._lock:  # threads missing at once trace once: the others find its trace
            found = self._pinned_run(pin, leaves, with_value) or \
                self._find(specs, leaves, with_value)
            if found is not None:
                return found
            spec = self._specialize(kind, args)
            if spec.unsafe is not None:  # (reuse only) a kernel would not repeat f: used once
                self._unreusable(spec.unsafe)
                return spec, spec.run(leaves, with_value)
            log.debug("%s: new specialization for %s", _name(self.f), key[1])
            self._last = spec
            if pin is not None and pin[1] and _pins_ints(spec, args):
                self._pin(pin, spec, key)
            else:
                if len(specs) >= self.max_specializations:
                    self._thrash(specs.pop(0))
                specs.append(spec)
                if spec.floats_only and not spec.captured and simple and not spec.guards:
                    self._scalars({**self._scalar, tuple(map(type, args)): spec})
        return spec, spec.run(leaves, with_value)

    def _pinned_run(self, pin, leaves, with_value):
        """(spec, result) of the trace made for these integer arguments, if any."""
        spec = self._pinned.get(pin) if pin is not None else None
        if spec is None:
            return None
        if not spec.fresh():
            self._pinned.pop(pin, None)
            self._stale(spec, [])
            return None
        res = spec.run(leaves, with_value)  # (the kernel checks its guards itself)
        if res is None:
            return None
        self._last = spec
        return spec, res

    def _pin(self, pin, spec, key):
        """Keep a trace whose guards only pin integer arguments (a slice bound
        `X[i:2*i]`, an index), found by their values: one trace per value,
        not a cache that thrashes (at most PINNED per compiled function)."""
        self._pinned[pin] = spec
        same = [s for p, s in self._pinned.items() if p[0] == key]
        if len(same) == self.max_specializations + 1:
            self._thrash(same[0], pinned=True)
        if len(self._pinned) > PINNED:
            self._pinned.popitem(last=False)
            log.info("%s: dropped the oldest of %d traces pinned to integer arguments",
                     _name(self.f), PINNED)
        log.debug("%s: trace pinned to the integer arguments %s", _name(self.f), pin[1])

    def _scalars(self, table):
        """Set the all-float fast paths (types -> specialization); the latest
        gets a generated dispatcher (scalar_dispatch.py)."""
        self._scalar = table
        if table:
            scalar_dispatch.install(self, *list(table.items())[-1])
        else:
            scalar_dispatch.remove(self)

    def _unreusable(self, why):
        """(reuse) From now on zygote_sym.gradient traces f at every call: `why`."""
        self.unsafe = why
        log.info("%s: not reused: %s", _name(self.f), why)

    def _thrash(self, spec, pinned=False):
        """More than max_specializations traces for one signature: a dropped one
        (guards keep failing), or, `pinned`, the first of those pinned to integers."""
        array_dispatch.unbind(self, spec)
        failing = "; ".join(dict.fromkeys(str(gd) for gd in spec.guards)) or \
            "(none: state changed)"
        log.info("%s: more than %d traces for one input signature, guards %s", _name(self.f),
                 self.max_specializations, failing)
        if self.reuse:  # zygote_sym.gradient: tracing at every call is what it did anyway
            if not pinned:
                self._unreusable(f"more than {self.max_specializations} traces "
                                 f"(guards {failing})")
        elif not self._thrashed:
            self._thrashed = True
            _warn(f"{_name(self.f)}: traced once per value of its integer arguments (guards "
                  f"{failing}): a value seen before runs its kernel, a new one costs a trace. "
                  "To trace once, pass what the integer selects (the batch X[i:i+B] itself) "
                  "as an argument" if pinned else
                  f"{_name(self.f)}: more than {self.max_specializations} specializations for "
                  f"one input signature, so f is traced again instead of running a kernel; the "
                  f"guards that keep failing: {failing}. A value that picks a Python branch "
                  "decides the trace: write the branch with np.where, pass what changes as "
                  "an argument, or raise max_specializations")

    def _find(self, specs, leaves, with_value):  # (spec, result) of the first that holds
        for spec in list(specs):
            if not spec.fresh():  # state f reads changed: this trace is stale for good
                self._stale(spec, specs)
                continue
            res = spec.run(leaves, with_value)
            if res is not None:
                self._last = spec
                return spec, res
        return None

    def _stale(self, spec, specs):
        with self._lock:  # (another thread may have dropped it first)
            if spec in specs:
                specs.remove(spec)
            array_dispatch.unbind(self, spec)
            self._scalars({k: v for k, v in self._scalar.items() if v is not spec})
        self._retraced.append("; ".join(w for _, w in spec.watch.changes()[:2]))
        log.info("%s: traced again, state it reads changed (%s)", _name(self.f),
                 self._retraced[-1])
        if len(self._retraced) == 3:
            if self.reuse:  # zygote_sym.gradient: tracing at every call is what it did anyway
                self._unreusable(f"state it reads keeps changing ({self._retraced[-1]})")
            else:
                _warn(f"{_name(self.f)}: traced again 3 times because state it reads changed "
                      f"({self._retraced[-1]}); a compiled call is fast only while that state "
                      "stays the same: pass what changes as an argument")

    def _mirror(self, spec, args, per_leaf):
        if spec.traced is None or _simple(args):
            return tuple(per_leaf)
        return pytree.mirror_all(spec.traced.arg_trees, per_leaf)

    def withgradient(self, *args: Any, with_value: bool = True) -> WithGradient:
        """(value, gradient) as :func:`zygote_sym.withgradient`, from the kernel."""
        if tracing():  # inside a derivative: the result must stay traced (nesting)
            val, grads = eager.withgradient(self.f, args, "compile(f).withgradient")
            n, chosen = len(args), _wrt_for(self.wrt, len(args))
            return WithGradient(val, tuple(g if chosen is None or i in chosen else None
                                           for i, g in zip(range(n), grads)))
        spec = self._scalar.get(tuple(map(type, args)))
        if spec is not None and spec.watch.fresh():
            self._last = spec
            res = spec.kernel(*args)  # the fast path of scalar functions: just the kernel
            return WithGradient(float(res[0]), tuple(map(float, res[1:])))
        if dask_support.is_dask(args):  # Dask arrays: the kernel block by block (dask.py)
            return dask_support.withgradient(self, *args, with_value=with_value)
        spec, (val, grads) = self._run(args, with_value=with_value)
        self._with_value = with_value
        if spec.floats_only and _simple(args):  # (a pytree of floats is mirrored below)
            return WithGradient(float(val), tuple(map(float, grads)))
        array_dispatch.bind(self, spec, args)  # (the next call with these arguments: there)
        inputs = [*_flatten(args)[1], *getattr(spec, "consts", ()),
                  *[s.get() for s, _ in getattr(spec, "captured", ())]]
        shaped: List[Any] = []
        for gr, v in zip(grads, spec.examples):  # (one array for two gradients: copied)
            shaped.append(fresh_result(gr, v, inputs + shaped))
        if isinstance(spec, BatchedSpecialization):
            return WithGradient(val, tuple(shaped))
        return WithGradient(None if val is None else as_result(val, 0.0),
                            self._mirror(spec, args, shaped))

    def gradient(self, *args: Any) -> Tuple[Any, ...]:
        """The gradient, as :func:`zygote_sym.gradient`, from the kernel (for
        arrays, a kernel of the gradients alone: f's value is not computed)."""
        return self.withgradient(*args, with_value=False).grad

    def jacobian(self, *args: Any) -> Any:
        """The Jacobian, as :func:`zygote_sym.jacobian`, from a cached kernel."""
        if tracing():  # inside a derivative: the result must stay traced (nesting)
            chosen = _wrt_for(self.wrt, len(args))
            return tuple(j if chosen is None or i in chosen else None
                         for i, j in enumerate(eager.jacobian(self.f, *args)))
        spec, (_, blocks) = self._run(args, JacobianSpecialization)
        return self._mirror(spec, args, blocks)

    def __call__(self, *args: Any) -> Any:
        return self.withgradient(*args).val

    def derive(self, *args: Any) -> Any:
        """Closed forms at these example arguments (see :func:`zygote_sym.derive`)."""
        return closed.derive(self.f, *args)

    @property
    def source(self) -> str:
        """The generated Python of the most recently used specialization."""
        if self._last is None:
            raise AttributeError("no kernel yet: call .gradient(...) once first")
        if isinstance(self._last, BatchedSpecialization):
            return "\n".join(k.source for b in self._last.branches for k in b._kernels.values())
        return self._kernel().source

    def stages(self) -> str:
        """The most recently used kernel pass by pass: the traced DAG, after
        rewriting, the plan (temporaries, fused regions, buffers), the source."""
        if self._last is None or isinstance(self._last, BatchedSpecialization):
            raise AttributeError("no single kernel yet: call .gradient(...) with the "
                                 "arguments whose kernel you want to see")
        return self._kernel().stages()

    @property
    def guards(self) -> List[Any]:
        return [] if self._last is None or self._last.traced is None else self._last.guards


def compile(f: Optional[Callable[..., Any]] = None, *, wrt: Optional[Wrt] = None,
            max_specializations: int = 8,
            backend: str = "auto") -> Union[Compiled, Callable[[Callable[..., Any]], Compiled]]:
    """Compile f for repeated gradient calls (decorator or function).

    `c = compile(f)`; `c.gradient(*args)`, `c.withgradient(*args)`, `c.jacobian(*args)`,
    `c(*args)` (the value), `c.source` (the generated Python), `c.stages()` (every
    pass), `c.derive(*args)`.  `wrt` (an argument index or a tuple of them) limits
    the gradient to those arguments (the others give None and cost nothing), like
    JAX's `argnums`.  The first call with a new input signature traces,
    differentiates, generates and compiles; later calls run only the kernel, after
    checking the guards and captured state (module docstring), from any number of
    threads at once.  `backend`: "numpy" (NumPy/numexpr kernels), "fused" (a Numba
    loop per elementwise-plus-reduction region, compiled before the first call:
    `pip install numba`), or "auto": NumPy at once, fused from the background once
    a kernel has run for a few seconds in all (codegen/fused_tier.py); `c.backend` is
    the one the latest call ran, `c.wait_fused()` waits for the swap.

    A function of scalars called with arrays returns the gradient field:
    per-element values and derivatives, shaped like the broadcast inputs.

    >>> import numpy as np
    >>> @compile(wrt=0)
    ... def loss(p, t, y):
    ...     a, b = p
    ...     return np.sum((a*np.exp(-b*t) - y)**2)
    >>> t = np.linspace(0, 1, 5); y = 2*np.exp(-t)
    >>> g = loss.gradient(np.array([2.0, 1.0]), t, y)
    >>> [float(v) for v in g[0]], g[1]
    ([0.0, 0.0], None)
    >>> field = compile(lambda x: x**2 if x > 0 else -x).gradient(np.array([-1.0, 0.5, 2.0]))
    >>> field[0]
    array([-1.,  1.,  4.])
    """
    if f is None:
        return lambda fn: Compiled(fn, wrt, max_specializations, backend)
    return Compiled(f, wrt, max_specializations, backend)
