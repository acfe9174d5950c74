r"""What a fused kernel's driver computes BETWEEN its loops, over whole
arrays, and how it writes those lines (codegen/fused.py's driver).

Transcendental functions that have SIMD array versions run between loops:
NumPy's exp and log, vecmath's sin and cos.  The driver writes
`np.exp(_t5, out=_t5)` into an array a loop made and nothing else reads
(`in_place`), and one `_vm_sincos(x)` call for the sin and the cos of one
array (`sincos_pairs`, `vecmath_line`).

Temporaries that never leave one kernel call (a loop's output only later
loops or driver lines read, an exp no output is) live in *scratch*:
arrays kept per thread and per kernel (`Scratch`) and reused by the next
call, written by the loops (their outputs are arguments) and by `out=`.
A fresh 8 MB temporary costs more than computing it: with glibc's default
malloc settings each one is mmapped, page-faulted in (2048 faults) and
unmapped again on every call (B2, 10**6 points: 59 ms a call against 20 ms
with the heap kept, measured).  The arrays a kernel returns are never
scratch (a later call would overwrite what the caller holds).

>>> import numpy as np; from zygote_sym.ir.nodes import Leaf
>>> from zygote_sym.codegen.kernel import Kernel
>>> from zygote_sym.codegen.fused import FusedKernel
>>> x, v = Leaf("x", (4,)), [np.ones(4)]
>>> nodes = [sp.sin(x)*sp.cos(x) + sp.exp(2*x)]
>>> k = FusedKernel(nodes, [x], v, Kernel(nodes, [x], v))
>>> import re  # (the names' numbers are the nodes')
>>> [re.sub(r"_t\d+", "_t", ln.strip()) for ln in k.source.splitlines()
...  if "_vm_" in ln or "np.exp" in ln]
['_t, _t = _vm_sincos(_a0, out=(_S[0], _S[1]))', '_t = np.exp(_t, out=_t)']
"""
import collections
import itertools
import threading
from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np
import sympy as sp

from ..ir.nodes import children
from . import vecmath
from .fuse import is_boolean

# Functions computed BETWEEN loops over the whole array, not inside them:
# NumPy's exp and log are SIMD loops (AVX-512/AVX2), vecmath's sin and cos
# too (Numba loops of branch-free arithmetic that LLVM vectorises), where a
# Numba loop calls scalar libm (Numba 0.62+ has no SVML; LLVM's vector-library
# option is not applied by its pipeline).  Measured in one process each (2
# cores, load average ~4.9): B3 (10**5 points) np.exp then one loop, 276 µs,
# exp inside the loop, 639 µs; B2's gradient (10**6 points, the benchmark's
# malloc settings) with vecmath's sin and cos between loops 20 ms, with
# libm's inside the loop 58 ms, the hand-written loop 53 ms (a second run,
# load ~3.7: 8.5, 23.6 and 25.2 ms).  NumPy's own float64 sin and cos are
# libm's too (no faster than the loop).  Functions not measured stay in loops.
BETWEEN_LOOPS = frozenset({sp.exp, sp.log, *vecmath.BETWEEN_LOOPS})
# the driver's names of vecmath's functions; the sin and the cos of one
# array are one `_vm_sincos` call (one argument reduction for both)
VECMATH = {f: f"_vm_{f.__name__}" for f in vecmath.BETWEEN_LOOPS}
VM_NAMESPACE: Dict[str, Any] = {name: vecmath.BETWEEN_LOOPS[f] for f, name in VECMATH.items()}
VM_NAMESPACE["_vm_sincos"] = vecmath.sincos


def in_place(node: Any, text: str, code: Dict[Any, str], flat: Dict[Any, str], plan: Any,
             kept: Set[Any]) -> str:
    """`text`, NumPy's exp (or log) of a float64 array the driver made (a
    loop's output: `flat`), written into that array when nothing else reads
    it (`np.exp(_t5, out=_t5)`: no second array, and the cache lines just
    written are rewritten, not new ones fetched; B3: 210 -> 175 µs a call,
    measured); records the result's flat name when it has one.

    `code`: node -> its name in the driver; `flat`: node -> the name of its
    value as a contiguous 1-D float64 array; `plan`: fused._Plan; `kept`:
    the kernel's outputs and guarded nodes (never overwritten)."""
    (kid,) = children(node)
    # (not when the node is an output: the loop's array is scratch then)
    if plan.readers[kid] == [node] and kid not in kept and node not in kept and text == \
            f"{text.split('(')[0]}({code[kid]})":
        flat[node] = flat[kid]
        return f"{text[:-1]}, out={code[kid]})"
    if len(plan.shapes(node)) == 1:  # NumPy's exp of a flat float64 array is one
        flat[node] = code[node]
    return text


def into_scratch(node: Any, text: str, code: Dict[Any, str], flat: Dict[Any, str], plan: Any,
                 kept: Set[Any], scratch: "Scratch") -> str:
    """`text`, NumPy's exp (or log) of a float64 array, written into a
    scratch array of the node's shape (`np.exp(_t3, out=_S[2])`) when the
    node is not an output (`kept`) and reads one float64 array, else
    `text`; records the node's flat name (`flat`) when it has one."""
    (kid,) = children(node)
    shape = plan.shapes(node)
    if node in kept or not shape or plan.shapes(kid) != shape or \
            text != f"{text.split('(')[0]}({code[kid]})" or is_boolean(kid):
        return text
    k = scratch.slot(int(np.prod(shape)), "np.float64")
    flat[node] = f"_S[{k}]"
    out = f"_S[{k}]" if len(shape) == 1 else f"_S[{k}].reshape({shape!r})"
    return f"{text[:-1]}, out={out})"


def sincos_pairs(order: List[Any], plan: Any, guarded: Set[Any]) -> Dict[Any, Any]:
    """{sin(a): cos(a), cos(a): sin(a)} for the driver's sin and cos of one array a."""
    by = {(n.func, children(n)[0]): n for n in order if n.func in (sp.sin, sp.cos)
          and plan.kind[n] == "py" and plan.shapes(n) and n not in guarded}
    pairs = {}
    for (f, a), n in by.items():
        if f is sp.sin and (sp.cos, a) in by:
            pairs[n], pairs[by[(sp.cos, a)]] = by[(sp.cos, a)], n
    return pairs


def vecmath_line(node: Any, partner: Optional[Any], code: Dict[Any, str],
                 flat: Dict[Any, str], plan: Any, kept: Set[Any], scratch: "Scratch") -> str:
    """The driver's line computing vecmath's sin or cos of an array (and
    its partner, the cos or sin of the same array, in the same call),
    written into scratch arrays (`out=`) when neither is in `kept` (the
    kernel's outputs and guarded nodes)."""
    arg = children(node)[0]
    arg = flat.get(arg) or code[arg]
    done = [node] if partner is None else sorted((node, partner), key=lambda n: n.func is sp.cos)
    shape = plan.shapes(node)
    into = [] if any(n in kept for n in done) else \
        [f"_S[{scratch.slot(int(np.prod(shape)), 'np.float64')}]" for _ in done]
    for j, n in enumerate(done):
        code[n] = f"_t{plan.index[n]}"
        if into:
            flat[n] = into[j]
        elif len(shape) == 1:
            flat[n] = code[n]  # (a new contiguous float64 array)
    out = "" if not into else \
        f", out={into[0] if len(shape) == 1 else into[0] + f'.reshape({shape!r})'}" \
        if partner is None else \
        f", out=({', '.join(o if len(shape) == 1 else f'{o}.reshape({shape!r})' for o in into)})"
    if partner is None:
        return f"{code[node]} = {VECMATH[node.func]}({arg}{out})"
    return f"{code[done[0]]}, {code[done[1]]} = _vm_sincos({arg}{out})"


# Scratch memory kept per thread, at most SCRATCH_CAP bytes: each thread keeps
# the scratch of the kernels it called most recently, the least recently
# called dropped first while the total is above the cap; a kernel whose
# scratch alone is above it allocates its temporaries on every call (as NumPy
# does).  128 MB holds B2's (10**6 points: one 8 MB array) many times over.
SCRATCH_CAP = 128 << 20
_kept = threading.local()  # .sets: OrderedDict token -> (arrays, bytes); .total: bytes
_tokens = itertools.count()


class Scratch:
    """The scratch arrays of one kernel: `slot(size, dtype)` while the
    driver is generated (-> the index k of `_S[k]`), then `take()` before a
    call and `give(arrays)` after it.

    Thread safe: each thread has its own arrays (a threading.local).  A
    call takes its arrays out of the thread's store and puts them back when
    it ends, so a call of the same kernel made while it runs (re-entrant, in
    one thread) finds none there and allocates its own.

    >>> s = Scratch(); s.slot(3, "np.float64"), s.slot(2, "np.bool_")
    (0, 1)
    >>> a = s.take(); [x.shape for x in a]
    [(3,), (2,)]
    >>> s.give(a); s.take()[0] is a[0]
    True
    """

    def __init__(self) -> None:
        self.slots: List[Tuple[int, Any]] = []
        self.nbytes = 0
        self.token = next(_tokens)

    def slot(self, size: int, dtype: str) -> int:
        self.slots.append((size, np.bool_ if dtype == "np.bool_" else np.float64))
        self.nbytes += size * np.dtype(self.slots[-1][1]).itemsize
        return len(self.slots) - 1

    def take(self) -> Tuple[Any, ...]:
        sets = getattr(_kept, "sets", None)
        held = sets.pop(self.token, None) if sets else None
        if held is None:
            return tuple(np.empty(n, dtype) for n, dtype in self.slots)
        _kept.total -= held[1]
        return held[0]

    def give(self, arrays: Tuple[Any, ...]) -> None:
        if self.nbytes > SCRATCH_CAP:
            return
        sets = getattr(_kept, "sets", None)
        if sets is None:
            sets = _kept.sets = collections.OrderedDict()
            _kept.total = 0
        if self.token in sets:  # (a re-entrant call put its own back first)
            _kept.total -= sets.pop(self.token)[1]
        sets[self.token] = (arrays, self.nbytes)
        _kept.total += self.nbytes
        while _kept.total > SCRATCH_CAP:
            _kept.total -= sets.popitem(last=False)[1][1]
