"""When a kernel becomes fused: the choice of `compile(f, backend=...)`.

- "numpy": the NumPy/numexpr (or `math`) kernel, always.
- "fused": the fused kernel (fused.py) is compiled when the kernel is made,
  before its first call; where it cannot be (Unfusable: nothing to fuse, an
  input numba does not take; or numba refuses the source) the NumPy kernel
  stays, logged at debug level.  Without numba, ImportError.
- "auto" (the default): the NumPy kernel runs at once; once it has run for
  `FUSE_AFTER` seconds of CPU time in all, the fused kernel is compiled in
  one background thread and swapped in when ready, with a debug log line.
  That is the ski-rental rule: a Numba compile costs 0.1-2 s, so it is paid
  only by a function that has already spent longer than that running (the
  loops of an optimisation), never by one called a few times.  The swapped-in
  kernel then races the NumPy kernel on the user's own next calls
  (alternating, `RACE` timed calls each) and the faster stays: a fused loop
  calls scalar libm functions where NumPy has SIMD ones and BLAS, and loses
  on some workloads (measured: a logistic loss over 10^4 x 100, 0.67 ms
  NumPy against 1.04 ms fused).  Without numba it stays "numpy".

The kernel the holder calls is swapped by its `install` (one attribute or
item assignment): a call running at that moment finishes on the kernel it
read; the next reads the new one.  Until the swap, "auto" installs a
`_Timed` NumPy kernel that adds up its CPU time.  The two kernels give the
same numbers to rounding (not bit for bit: NumPy's SIMD exp/sin and libm's
differ in the last bit, and sums run in another order), so which one a call
ran never changes what it means.
"""
import logging
import queue
import threading
import time
from typing import Any, Callable, List, Optional

import numpy as np

from . import fused_jit
from .fused import FusedKernel, Unfusable

log = logging.getLogger("zygote_sym.fused")

BACKENDS = ("auto", "numpy", "fused")
FUSE_AFTER = 5.0  # seconds of CPU time in the NumPy kernel before "auto" compiles
RACE = 5  # timed calls of each kernel before "auto" keeps the faster

_jobs: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
_worker: List[threading.Thread] = []
_worker_lock = threading.Lock()


def check_backend(backend: str) -> str:
    """The backend name, validated; ImportError for "fused" without numba."""
    if backend not in BACKENDS:
        raise ValueError(f"compile(backend={backend!r}): the backend is one of "
                         f"{', '.join(map(repr, BACKENDS))}")
    if backend == "fused":
        fused_jit.require()
    return backend


def stand_in(value: Any) -> Any:
    """An example input's type, dtype and ndim without its data: what a later
    fused compile needs, without keeping a large array alive."""
    if isinstance(value, np.ndarray):
        return np.empty((0,) * value.ndim if value.ndim else (), value.dtype)
    return value


def _work():
    while True:
        job = _jobs.get()
        job()


def _background(job):
    with _worker_lock:
        if not _worker:  # a daemon: an exiting program does not wait for a compile
            _worker.append(threading.Thread(target=_work, name="zygote_sym-fused", daemon=True))
            _worker[0].start()
    _jobs.put(job)


def drain(timeout: Optional[float] = None) -> bool:
    """Wait until every fused compile queued so far has finished (the one
    worker runs its jobs in order, so a marker queued now runs after them);
    False when `timeout` seconds passed first.  Benchmarks call it so that
    no background compile competes with the next timing."""
    with _worker_lock:
        if not _worker:
            return True
    done = threading.Event()
    _jobs.put(done.set)
    return done.wait(timeout)


class _Timed:
    """The NumPy kernel, adding up the CPU time its calls take (in the
    calling thread) until "auto" compiles the fused kernel; it answers for
    the kernel it wraps (`source`, `stages()`, `backend`...).  One call in
    `SAMPLE` is timed and counts for `SAMPLE`: reading the clock twice costs
    about a microsecond, as much as a whole scalar kernel."""

    SAMPLE = 16

    def __init__(self, kernel, tier):
        self.kernel, self.tier, self.calls = kernel, tier, 0

    def __call__(self, *values):
        self.calls += 1  # (racy across threads: a call more or less counted)
        if self.calls % self.SAMPLE:
            return self.kernel(*values)
        return self.timed(*values)

    def timed(self, *values):
        """One call, timed, counting for `SAMPLE` calls (a caller that counts
        its calls itself, scalar_dispatch.py, calls this every SAMPLE-th)."""
        start = time.thread_time()
        try:
            return self.kernel(*values)
        finally:
            tier = self.tier
            tier.spent += self.SAMPLE * (time.thread_time() - start)
            if tier.spent >= FUSE_AFTER:
                tier._schedule()

    def __getattr__(self, name):
        return getattr(self.kernel, name)


class _Race:
    """The fused and the NumPy kernel taking turns on the user's calls (fused
    first), timed by the wall clock (numexpr and BLAS use other threads),
    until each has had `RACE` timed calls; the first call of each is a
    warm-up.  Then the tier keeps the faster."""

    def __init__(self, fused, numpy_kernel, tier):
        self.kernels, self.tier = (fused, numpy_kernel), tier
        self.spent, self.calls = [0.0, 0.0], 0

    @property
    def backend(self):  # the kernel the latest call ran
        return ("numpy", "fused")[self.calls % 2 == 1 or not self.calls]

    def __call__(self, *values):
        n = self.calls  # (racy across threads: a call more or less counted)
        self.calls = n + 1
        start = time.perf_counter()
        try:
            return self.kernels[n % 2](*values)
        finally:
            if n >= 2:
                self.spent[n % 2] += time.perf_counter() - start
            tier = self.tier
            if tier is not None and n + 1 >= 2 * (RACE + 1):
                tier._decide(self)

    def __getattr__(self, name):
        return getattr(self.kernels[0], name)


class Tier:
    """The NumPy kernel now, the fused one when ready (module docstring).

    install(kernel): makes the holder call `kernel` from then on.  `pending`
    is true while "auto" still times the NumPy kernel; `ready` is set once
    the fused compile has finished, whatever its outcome (`wait(timeout)`),
    and `backend` is the one the holder now calls.
    """

    def __init__(self, mode, numpy_kernel, nodes, inputs, values, guards, install, name="f"):
        self.args = (nodes, inputs, [stand_in(v) for v in values], numpy_kernel, guards)
        self.install, self.name = install, name
        self.ready = threading.Event()
        self.backend, self.spent = "numpy", 0.0
        self.pending = self.raced = mode == "auto" and fused_jit.available()
        if mode == "fused":
            self._build()
        elif self.pending:
            install(_Timed(numpy_kernel, self))
        else:
            self.ready.set()

    def _schedule(self):
        with _worker_lock:  # one compile, however many threads ask at once
            if not self.pending:
                return
            self.pending = False
        _background(self._build)

    def _decide(self, race):
        with _worker_lock:  # once, however many threads finish the race together
            if race.tier is None:
                return
            race.tier = None
        fused, numpy = race.spent
        keep = 0 if fused <= numpy else 1
        self.install(race.kernels[keep])
        self.backend = ("fused", "numpy")[keep]
        log.debug("%s: the %s kernel stays (%d calls each: fused %.3g s, NumPy %.3g s)",
                  self.name, self.backend, RACE, fused, numpy)

    def wait(self, timeout: Optional[float] = None) -> str:
        """Block until the fused compile has finished (or `timeout` s); the
        backend the holder now calls.  Asks for the compile now if "auto"
        was still counting calls."""
        self._schedule()
        self.ready.wait(timeout)
        return self.backend

    def _build(self):
        nodes, inputs, values, numpy_kernel, guards = self.args
        try:
            kernel = FusedKernel(nodes, inputs, values, numpy_kernel, guards)
        except Unfusable as e:
            self.install(numpy_kernel)  # (no more timing)
            log.debug("%s: no fused kernel (%s); the NumPy kernel stays", self.name, e)
        except Exception as e:  # noqa: BLE001 (numba's refusal: the NumPy kernel is right)
            self.install(numpy_kernel)
            log.debug("%s: numba could not compile the fused kernel (%s: %s); the NumPy "
                      "kernel stays", self.name, type(e).__name__, str(e)[:500])
        else:
            self.install(_Race(kernel, numpy_kernel, self) if self.raced else kernel)
            self.backend = "fused"
            log.debug("%s: fused kernel swapped in after %.2f s in the NumPy kernel",
                      self.name, self.spent)
        finally:
            self.args = None  # the DAG need not stay alive with the kernel
            self.ready.set()


class Tiered:
    """What a compiled function (compiled.py, `_last`: its latest
    specialization) tells and does about its backend."""

    _last: Any = None
    _with_value = True  # did the latest call ask for f's value (gradient() does not)?

    def _kernel(self) -> Any:
        """The kernel the latest call ran: gradient()'s own where it has one
        (specialize.py: a kernel of the gradients alone)."""
        spec = self._last
        grads_only = getattr(spec, "grad_kernel", None)
        return spec.kernel if self._with_value or grads_only is None else grads_only

    @property
    def backend(self) -> str:
        """"fused" or "numpy": the kernel the latest call ran (see compile)."""
        spec = self._last
        kernels = [self._kernel()] if hasattr(spec, "kernel") else \
            [k for b in getattr(spec, "branches", ()) for k in b._kernels.values()]
        return "fused" if any(getattr(k, "backend", None) == "fused" for k in kernels) \
            else "numpy"

    def wait_fused(self, timeout: Optional[float] = None) -> str:
        """Compile the latest specialization's fused kernels now (in the
        background thread) and wait for them (at most `timeout` s each);
        returns `backend` after the swap."""
        spec = self._last
        tiers = [t for b in spec.branches for t in b.tiers.values()] \
            if hasattr(spec, "branches") else getattr(spec, "tiers", [getattr(spec, "tier", None)])
        for tier in tiers:
            if tier is not None:
                tier.wait(timeout)
        return self.backend
