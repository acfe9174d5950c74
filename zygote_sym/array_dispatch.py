"""The fast path of a compiled function of arrays: a dispatcher generated for
one specialization and the exact layout of its arguments (float ndarrays and
floats, possibly held in dicts, tuples and lists), bound on the compiled
object in place of its `gradient` and `withgradient` methods (as
scalar_dispatch.py does for functions of floats).

A call checks what the general path checks (compiled.py's contract), each
check one Python expression: the number of arguments, the exact type of every
container and leaf, the keys (in order) of dicts and the lengths of tuples
and lists, the dtype and shape of every array; that the state f reaches still
matches the specialization (its watch); that no trace runs in this thread (a
nested derivative must stay traced).  Then it reads the captured arrays from
their places, runs the kernel (which checks its guards: None when one fails)
and returns each gradient as the kernel made it only when that is what the
general path (`transform.fresh_result`) would return: a float64 array of its
argument's shape sharing no memory with an input (argument, constant or
captured array: `sum(x*y)`'s gradient in x is y) nor with another gradient of
the call (a fused kernel may return one array for two gradients); anything
else is converted (copied) by `fresh_result` itself.  Any failed check (a
miss) calls the general method with the same arguments.  The generated source
is `.source` on the dispatcher.

Made when a call through the general path ran a specialization of plain
arrays (`bind`), once per specialization (kept on it as `dispatch`); the
latest such call's dispatcher is the one bound.
"""
import itertools
import logging
import types
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .codegen.fused import FusedKernel
from .codegen.fused_tier import _Timed
from .codegen.kernel import Kernel
from .scalar_dispatch import _NOTRACE
from .specialize import Specialization
from .trace import places, tracer
from .transform import WithGradient, as_result, fresh_result

log = logging.getLogger("zygote_sym.compile")
MAX_LEAVES = 64  # larger pytrees take the general path (the source grows with them)
_CONTAINERS = (dict, tuple, list)

try:  # optional: Numba's arrays own no data by NumPy's flags (their MemInfo owns it)
    from numba.core.runtime._nrt_python import _MemInfo as _NUMBA_MEMORY
except ImportError:  # (then no array has that type: a float stand-in)
    _NUMBA_MEMORY = float


class _Source:
    """The generated expressions, and the objects they name (bound in `env`)."""

    def __init__(self) -> None:
        self.env: Dict[str, Any] = {}
        self.checks: List[str] = []
        self.leaves: List[str] = []  # the variable holding each leaf, in pytree order
        self.arrays: List[int] = []  # which leaves are arrays
        self.text = ""  # the generated source

    def bind(self, obj: Any, prefix: str = "_o") -> str:
        name = f"{prefix}{len(self.env)}"
        self.env[name] = obj
        return name

    def walk(self, x: Any, expr: str, depth: int = 0) -> Optional[str]:
        """Checks for the argument `x` read by `expr`; its result tree as
        source (leaves as `{i}` placeholders), or None when x is not plain."""
        t = type(x)
        if t is np.ndarray and x.dtype.kind == "f" or t is float:
            var = f"l{len(self.leaves)}"
            if t is float:
                self.checks.append(f"type({var} := {expr}) is float")
            else:
                self.arrays.append(len(self.leaves))
                dt, shape = self.bind(x.dtype, "_d"), self.bind(x.shape, "_s")
                self.checks.append(f"type({var} := {expr}) is _nd and ({var}.dtype is {dt} or "
                                   f"{var}.dtype == {dt}) and {var}.shape == {shape}")
            self.leaves.append(var)
            return "{%d}" % (len(self.leaves) - 1)
        if t not in _CONTAINERS or depth > 8:
            return None
        var = f"t{len(self.checks)}"
        keys = list(x) if t is dict else range(len(x))
        if t is dict:
            self.checks.append(f"type({var} := {expr}) is dict and "
                               f"list({var}) == {self.bind(list(x), '_k')}")
        else:
            self.checks.append(f"type({var} := {expr}) is {t.__name__} and "
                               f"len({var}) == {len(x)}")
        kids = []
        for k in keys:
            key = str(k) if t is not dict else self.bind(k, "_k")
            kid = self.walk(x[k], f"{var}[{key}]", depth + 1)
            if kid is None or len(self.leaves) > MAX_LEAVES:
                return None
            kids.append(f"{key}: {kid}" if t is dict else kid)
        if t is dict:
            return "{{" + ", ".join(kids) + "}}"
        return ("[" + ", ".join(kids) + "]") if t is list else \
            ("(" + "".join(k + ", " for k in kids) + ")")


def _place(src, place):
    """The expression reading a captured array from its place (places.get's cases)."""
    holder, how, key = place
    if how == "item":
        return f"{src.bind(holder, '_h')}[{src.bind(key, '_k')}]"
    if how == "cell":
        return f"{src.bind(holder, '_h')}.cell_contents"
    return f"_get({src.bind(place, '_p')})"


def owner(a: Any) -> Optional[int]:
    """A key for the memory `a` lives in: the id of the NumPy array that owns
    it, or the address of Numba's allocation (its MemInfo; a MemInfo with a
    parent holds that Python array's memory); None when unknown (another
    buffer).  Two arrays share memory only if their keys are equal (or None).

    >>> m = np.zeros((3, 2))
    >>> owner(m[:, 0]) == owner(m.T) == id(m), owner(np.frombuffer(b"12345678"))
    (True, None)
    """
    for _ in range(8):
        b = a.base
        while type(b) is np.ndarray:
            a, b = b, b.base
        if b is None:
            return id(a) if a.flags.owndata else None
        if type(b) is not _NUMBA_MEMORY:
            return None
        if b.parent is None:
            return b.data
        a = b.parent
    return None


def owners(*arrays: Any) -> Optional[set]:
    """The `owner` keys of the input arrays (None when one is unknown).

    >>> x = np.ones(2)
    >>> owners(x, x[1:]) == {id(x)}
    True
    """
    keys = {id(a) if a.flags.owndata else owner(a) for a in arrays}
    return None if None in keys else keys


def _fresh_test(o, shape, inputs, made, key):
    """Is the gradient in variable `o` returned as the kernel made it?  Its
    memory (`owner`) must be no input's and no other gradient's: it owns it
    (NumPy's owndata) and is no input; or it is a view of an array that owns
    it and is no input nor any input's base (NumPy points a view's base at the
    owner); or Numba allocated it (a MemInfo without a parent array) and it is
    no input; or, failing those, its `owner` key is none of the inputs'.  (A
    kernel reads no `.base`: an owner that is no input's is new.)  With `key`
    (a later gradient is compared with this one) or earlier gradients, the
    key of its memory is kept in `k` and compared with theirs."""
    isnt = "".join(f" and {o} is not {x}" for x in inputs)
    base = "".join(f" and _b is not {x} and {x}.base is not _b" for x in inputs)
    keys = "".join(f" and {m} is not None and k != {m}" for _, m in made)
    keep = key or made
    return (f"type({o}) is _nd and ({o}.dtype is _f8 or {o}.dtype == _f8) and "
            f"{o}.shape == {shape} and (({o}.flags.owndata{isnt}"
            f"{f' and (k := _id({o})){keys}' if keep else ''}) or "
            f"(type(_b := {o}.base) is _nd and _b.flags.owndata{base}"
            f"{f' and (k := _id(_b)){keys}' if keep else ''}) or "
            f"(type(_b) is _MEM and _b.parent is None{isnt}"
            f"{f' and (k := _b.data){keys}' if keep else ''}) or "
            f"(k := _owner({o})) is not None{keys} and "
            f"(ik := ik or _owners({', '.join(inputs)})) is not None and k not in ik)")


def source(spec: Specialization, args: tuple) -> Optional[_Source]:
    """The dispatchers' source (`.text`) for `spec` run on arguments laid out
    as `args`, with the objects it names (`.env`); None when the arguments
    are not float arrays and floats in dicts, tuples and lists, or hold no
    array (bind's example shows a dispatcher)."""
    src = _Source()
    trees = [src.walk(a, f"a[{i}]") for i, a in enumerate(args)]
    n = len(src.leaves)
    if None in trees or not src.arrays or n > MAX_LEAVES or len(spec.none) != n:
        return None
    consts = [src.bind(v, "_c") for v in spec.consts]
    captured = [f"c{i}" for i in range(len(spec.captured))]
    reads = "".join(f"        {c} = {_place(src, s.place)}\n"
                    for c, (s, _) in zip(captured, spec.captured))
    inputs = [src.leaves[i] for i in src.arrays] + \
        [c for c, v in zip(consts, spec.consts) if isinstance(v, np.ndarray)] + captured
    shape, outs, k = ["            ik = None\n"], [], 0
    made: List[Tuple[str, str]] = []  # (variable, its memory's key) of each array gradient
    arrays = [i for i, (none, v) in enumerate(zip(spec.none, spec.examples))
              if not none and type(v) is np.ndarray]
    for i, (none, example) in enumerate(zip(spec.none, spec.examples)):
        if none:
            outs.append("None")
            continue
        k, out, ex = k + 1, f"o{i}", src.bind(example, "_e")
        if type(example) is np.ndarray:
            key = i != arrays[-1]  # (a later gradient is compared with this one's memory)
            test = _fresh_test(out, src.bind(example.shape, "_s"), inputs, made, key)
            everything = "".join(x + ", " for x in inputs + [o for o, _ in made])
            shape += [f"            {out} = r[{k}]\n",
                      f"            if not ({test}):\n",
                      f"                {out} = _general({out}, {ex}, ({everything}))\n"]
            if key:
                shape += [f"                k = _owner({out})\n", f"            k{i} = k\n"]
            made.append((out, f"k{i}"))
        else:  # a float argument's gradient: a Python float
            shape.append(f"            {out} = _general(r[{k}], {ex}, ())\n")
        outs.append(out)
    grads = "".join(str(t).format(*outs) + ", " for t in trees)
    checks = " and ".join([f"len(a) == {len(args)}"] + src.checks)
    if spec.watch.checks:  # (a watch without checks is always fresh)
        checks += " and (_quick() or _fresh())"
    call = ", ".join(src.leaves + consts + captured)
    # gradient() runs the gradients' own kernel where there is one (specialize.py), its
    # results preceded by None where the value would be
    no_value = spec._without_value is not None
    grad_kern = "_spec.grad_kernel or _spec.gradient_kernel()" if no_value else "_spec.kernel"
    run = """\
{reads}        kern = {kern}  # (read at each call: the auto backend swaps it)
        if type(kern) is _Timed:  # auto's timer: one call in its SAMPLE timed, counted here
            kern = kern.kernel if next(_count) % _SAMPLE else kern.timed
        if type(kern) is _Kernel or type(kern) is _Fused:  # its generated function, directly
            try:
                r = kern.fn({call})
            except Exception:  # to the kernel's own recovery (it is pure: a rerun is safe)
                r = kern({call})
        else:
            r = kern({call})
        if r is not None:
            _self._last = _spec{shift}
{shape}"""
    shift = "\n            _self._with_value = False" + ("\n            r = (None, *r)" if no_value else "")
    run_grad = run.format(reads=reads, kern=grad_kern, call=call, shape="".join(shape),
                          shift=shift)
    run = run.format(reads=reads, kern="_spec.kernel", call=call, shape="".join(shape),
                     shift="\n            _self._with_value = True")
    src.text = f"""\
def gradient(*a):
    if {checks} and {_NOTRACE}:
{run_grad}            return ({grads})
    return _gradient(*a)


def withgradient(*a, with_value=True):
    if {checks} and {_NOTRACE}:
{run}            v = r[0]
            v = _float(v) if type(v) is _f64 or type(v) is float else _as_result(v, 0.0)
            return _new(_WG, (v, ({grads})))
    return _withgradient(*a, with_value=with_value)
"""
    return src


def _build(compiled: Any, spec: Specialization, args: tuple) -> Optional[Dict[str, Any]]:
    """The dispatchers (by method name) for `spec` and this layout of arguments."""
    src = source(spec, args)
    if src is None:
        return None
    env = dict(src.env, _Timed=_Timed, _Kernel=Kernel, _Fused=FusedKernel,
               _count=itertools.count(1), _SAMPLE=_Timed.SAMPLE, _nd=np.ndarray,
               _f8=np.dtype(np.float64), _f64=np.float64, _id=id, _MEM=_NUMBA_MEMORY,
               _owner=owner, _owners=owners, _float=float, _as_result=as_result,
               _general=fresh_result, _get=places.get, _LIVE=tracer._LIVE, _tracing=tracer.tracing,
               _fresh=spec.watch.fresh, _quick=spec.watch._fast, _spec=spec, _self=compiled,
               _WG=WithGradient, _new=tuple.__new__,
               _gradient=types.MethodType(type(compiled).gradient, compiled),
               _withgradient=types.MethodType(type(compiled).withgradient, compiled))
    exec(compile(src.text, f"<zygote_sym array dispatcher {id(spec):#x}>", "exec"), env)
    made: Dict[str, Any] = {}
    for name in ("gradient", "withgradient"):
        fn = made[name] = env[name]
        fn.__doc__, fn.source = getattr(type(compiled), name).__doc__, src.text
        fn.array_dispatch = True
    return made


def bind(compiled: Any, spec: Any, args: tuple) -> None:
    """After a general call ran `spec` on `args`: make the dispatcher for them
    (once per specialization) the compiled object's methods, or, when there is
    none (another kind of specialization, arguments not plain), unbind any.

    >>> import zygote_sym as zs
    >>> c = zs.compile(lambda p: np.sum(p["w"]**2))
    >>> c.gradient({"w": np.array([1.0, 2.0])})  # the general path, which binds
    ({'w': array([2., 4.])},)
    >>> c.gradient.source.splitlines()[0], c.gradient({"w": np.array([3.0])})
    ('def gradient(*a):', ({'w': array([6.])},))
    """
    # (an unsafe specialization, zygote_sym.gradient's trace used once, gets none)
    made: Any = spec.dispatch if type(spec) is Specialization and spec.unsafe is None \
        else False
    if made is None:
        try:
            made = spec.dispatch = _build(compiled, spec, args) or False
        except Exception as e:  # noqa: BLE001 (a fault here costs speed, never a result)
            log.debug("no array dispatcher (%s: %s)", type(e).__name__, e)
            made = spec.dispatch = False
    bound = compiled.__dict__.get("gradient")
    if made:
        if bound is not made["gradient"]:
            compiled.__dict__.update(made)
    elif bound is not None and getattr(bound, "array_dispatch", False):
        unbind(compiled)


def unbind(compiled: Any, spec: Any = None) -> None:
    """Back to the general methods (for `spec` only: when it is the one bound)."""
    bound = compiled.__dict__.get("gradient")
    if bound is None or spec is not None and bound is not (spec.dispatch or {}).get("gradient"):
        return
    for name in ("gradient", "withgradient"):
        compiled.__dict__.pop(name, None)
