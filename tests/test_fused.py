"""The fused backend (codegen/fused.py): one Numba loop per elementwise-plus-
reduction region gives the NumPy backend's numbers (to rounding: its sums run
left to right, NumPy's pairwise) at ordinary and special points; "auto"
swaps it in from the background; without numba, "auto" stays NumPy and
"fused" names the install.

`each_backend` is a fixture other test files import to run their compiled
checks on both backends."""
import collections
import functools
import logging
import math
import os
import re
import threading

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym import compiled
from zygote_sym.codegen import fused_between, fused_jit, fused_tier, runtime
from zygote_sym.codegen.fused import FusedKernel
from zygote_sym.codegen.kernel import Kernel
from zygote_sym.ir.nodes import Leaf
from zygote_sym.ir.ops import Index

pytestmark = pytest.mark.skipif(not fused_jit.available(), reason="numba is not installed")


@pytest.fixture(params=["numpy", "fused"])
def each_backend(request, monkeypatch):
    """zs.compile, and the compiled kernels of zs.optimize, with backend="numpy",
    then "fused" (skipped without numba), compiled in memory."""
    if request.param == "fused" and not fused_jit.available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv("ZYGOTE_SYM_CACHE_DIR", "")
    on = functools.partial(compiled.compile, backend=request.param)
    monkeypatch.setattr(zs, "compile", on)
    monkeypatch.setattr(zs.optimize, "compile", on)  # (optimize imported it by name)
    return request.param


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("ZYGOTE_SYM_CACHE_DIR", "")  # tests compile in memory


def _both(f, *args, wrt=None):
    """(numpy withgradient, fused withgradient, the fused compiled function)."""
    n = zs.compile(f, backend="numpy", wrt=wrt).withgradient(*args)
    c = zs.compile(f, backend="fused", wrt=wrt)
    return n, c.withgradient(*args), c


def _close(a, b, rtol=1e-12):
    """Equal to rounding, with NaN where NaN and infinities of the same sign."""
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(np.asarray(b, dtype=float), np.asarray(a, dtype=float),
                               rtol=rtol, atol=0, equal_nan=True)


X = np.linspace(-2.0, 3.0, 101)
Y = np.cos(np.arange(101.0))
MASK = np.arange(101) % 3 == 0

ARRAY_CASES = {
    "product and transcendentals": (lambda x, y: np.sum(np.sin(x) * np.exp(-y ** 2)
                                                        + np.log1p(x ** 2 * y ** 2)), (X, Y)),
    "where kink at 0": (lambda x: np.sum(np.where(x > 0, x ** 2, -x)), (np.array([-1., 0, 2.]),)),
    "maximum and abs kinks": (lambda x, y: np.sum(np.maximum(x, y) + np.abs(x - 1.0)),
                              (np.array([1.0, 2.0, -1.0]), np.array([1.0, 0.0, 3.0]))),
    "log near 0": (lambda x: np.sum(np.log(x) * x), (np.array([1e-300, 1e-12, 1.0]),)),
    "shifted slices (Rosenbrock)": (lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2
                                                     + (1 - x[:-1]) ** 2), (X / 3,)),
    "three-point stencil": (lambda x: np.sum((x[2:] - 2 * x[1:-1] + x[:-2]) ** 2 * x[1:-1]),
                            (Y,)),
    "matmul in the middle": (lambda w, a, y: np.sum(np.log1p(np.exp(-y * np.tanh(a @ w)))),
                             (np.array([0.5, -1.0, 2.0]), np.arange(12.0).reshape(4, 3) / 10,
                              np.array([1.0, -1.0, 1.0, -1.0]))),
    "2-D field and a sum inside": (lambda m: np.sum(np.sin(m) * np.sum(m ** 2)),
                                   (np.arange(6.0).reshape(2, 3),)),
    "scalar parameters over data": (lambda p, t, y: np.sum((p[0] * np.exp(-p[1] * t) + p[2]
                                                             - y) ** 2),
                                    (np.array([2.0, 1.0, 0.5]), X, Y)),
    "exp of an array the loop reads too": (
        lambda p, t: np.sum(np.exp(-p[0] * t) * (-p[0] * t) + np.log(t * t + 1.0)), (X[:2] + 3, X)),
    "captured boolean mask": (lambda x: np.sum(np.where(MASK, x ** 2, -x)), (X,)),
    "softplus, sigmoid and logaddexp": (lambda x: np.sum(np.logaddexp(0.0, x)
                                                         + np.logaddexp(x, 2 * x)), (X * 300,)),
}


@pytest.mark.parametrize("name", list(ARRAY_CASES))
def test_array_kernels_equal_numpy(name):
    f, args = ARRAY_CASES[name]
    n, fz, c = _both(f, *args)
    assert c.backend == "fused"
    _close(n.val, fz.val)
    for a, b in zip(n.grad, fz.grad):
        _close(a, b)


def test_nan_and_inf_propagate_as_in_numpy():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0])
    with np.errstate(all="ignore"):
        n, fz, c = _both(lambda x: np.sum(np.sqrt(np.abs(x)) * np.exp(-x) + 1 / (1 + x * x)), x)
    assert c.backend == "fused"
    _close(n.val, fz.val)
    _close(n.grad[0], fz.grad[0])
    # the sign of an exact zero survives (no fast-math): cos(x)*x + sin(x) at -0.0 is -0.0
    n, fz, c = _both(lambda x: np.sum(np.sin(x) * x), np.array([-0.0, 0.0]))
    assert c.backend == "fused" and list(np.signbit(fz.grad[0])) == [True, False]
    assert list(np.signbit(n.grad[0])) == [True, False]


def test_sums_keep_nan_and_inf_in_every_lane():
    """A sum's add may be reassociated (SIMD lanes, partial sums): a NaN or
    an inf term still decides the total wherever it falls (first element,
    the vectorised middle, the scalar remainder, the last element), inf and
    -inf still give NaN, and the gradient keeps its own NaN/inf entries."""
    n = 1003  # not a multiple of any vector width: a remainder loop runs too
    c = zs.compile(lambda x: np.sum(x * x + 1.0), backend="fused")
    s = zs.compile(lambda x: np.sum(3.0 * x), backend="fused")
    for pos in (0, 1, 501, n - 2, n - 1):
        for bad in (np.nan, np.inf, -np.inf):
            x = np.linspace(-1.0, 1.0, n)
            x[pos] = bad
            val, (g,) = c.withgradient(x)
            assert c.backend == "fused"
            np.testing.assert_equal(val, abs(bad))
            np.testing.assert_equal(g[pos], 2 * bad)
            np.testing.assert_equal(s.withgradient(x)[0], 3 * bad)
        x = np.linspace(-1.0, 1.0, n)
        x[pos], x[(pos + 7) % n] = np.inf, -np.inf
        with np.errstate(invalid="ignore"):
            assert np.isnan(s.withgradient(x)[0]) and s.backend == "fused"


def test_fused_sums_equal_numpy_to_rounding():
    """10**5 terms (and an odd count), several sums in one loop, the peeled
    edges of a shifted-slice loop: each sum within 1e-13 (relative) of the
    exactly rounded sum (math.fsum), as np.sum is."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0.5, 2.0, 100_003), rng.uniform(-1.0, 1.0, 100_003)
    p = np.array([2.0, 0.7, 0.3])
    f, _ = ARRAY_CASES["scalar parameters over data"]
    c = zs.compile(f, backend="fused")
    val, (g, _, _) = c.withgradient(p, x, y)
    assert c.backend == "fused"
    e = np.exp(-p[1] * x)
    r = p[0] * e + p[2] - y
    want = [math.fsum(r * r), math.fsum(2 * r * e), -p[0] * math.fsum(2 * r * x * e),
            math.fsum(2 * r)]
    got = [val, *g]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    np.testing.assert_allclose([np.sum(r * r), np.sum(2 * r)], [want[0], want[3]], rtol=1e-13)
    rosen, _ = ARRAY_CASES["shifted slices (Rosenbrock)"]
    c = zs.compile(rosen, backend="fused")
    z = x - 1.0
    terms = 100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2
    np.testing.assert_allclose(c.withgradient(z)[0], math.fsum(terms), rtol=1e-13, atol=0)


def _fast_math_flags(ir):
    """{flag: count} of LLVM fast-math flags on the instructions of `ir`."""
    flags = re.findall(r"= f(?:add|sub|mul|div|rem|neg|cmp) ((?:(?:fast|reassoc|nnan|ninf|nsz|"
                       r"arcp|contract|afn) )+)", ir)
    return collections.Counter(f for fs in flags for f in fs.split())


def _avx2():
    if not fused_jit.available():
        return False
    import llvmlite.binding  # (numba's own dependency)
    return bool(llvmlite.binding.get_host_cpu_features().get("avx2", False))


@pytest.mark.skipif(not _avx2(), reason="needs numba and a CPU with AVX2")
def test_reduction_loops_vectorise_with_reassoc_on_the_sum_only():
    """The loop of Rosenbrock's value and gradient: its sum's add runs on
    SIMD vectors (a strict left-to-right sum could not), that add is the
    only instruction with a fast-math flag, and its only flag is reassoc."""
    f, _ = ARRAY_CASES["shifted slices (Rosenbrock)"]
    c = zs.compile(f, backend="fused")
    c.gradient(np.linspace(-1, 1, 1000))
    (loop,) = c._last.kernel.loops.values()
    ir = loop.inspect_llvm(loop.signatures[0])
    assert re.search(r"= fadd reassoc <\d+ x double>", ir)
    flags = _fast_math_flags(ir)
    assert set(flags) == {"reassoc"}
    assert re.findall(r"= (f\w+) reassoc", ir) == ["fadd"] * flags["reassoc"]


def test_slices_are_index_offsets_in_one_loop():
    """Rosenbrock's value and gradient: one loop, reading x at i-1, i, i+1."""
    f, args = ARRAY_CASES["shifted slices (Rosenbrock)"]
    c = zs.compile(f, backend="fused")
    c.gradient(*args)
    src = c.source
    assert src.count("def _loop") == 1 and "i + 1" in src and "i - 1" in src
    x = args[0]
    want = np.zeros_like(x)
    want[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    want[1:] += 200 * (x[1:] - x[:-1] ** 2)
    _close(want, c.gradient(x)[0], rtol=1e-13)


def test_exp_runs_between_loops_and_input_values_are_recomputed():
    """A fit's gradient: NumPy's SIMD exp over the array between two loops;
    `c - y`, a value of the inputs, is computed in the pass that reads it
    (not written out by the first pass); three sums in that one pass; the
    3-element gradient assembled by NumPy (a loop of 3 costs more)."""
    f, (p, t, y) = ARRAY_CASES["scalar parameters over data"]
    c = zs.compile(f, backend="fused")
    g = c.gradient(p, t, y)[0]
    driver, loops = c.source.split("\ndef _loop0", 1)
    assert "np.exp(" in driver and "np.exp(" not in loops
    assert ", out=" in driver  # exp written into the array -b*t's loop made (read by nothing else)
    assert driver.count("_loop") == 2 and "= _loop1(" in driver  # -b*t; exp; the sums
    assert "_loop2" not in c.source  # the 3-vector gradient: NumPy adds, not a loop
    assert loops.count("_r") >= 6  # (declared and accumulated: at least three sums)
    e = np.exp(-p[1] * t)
    r = 2 * (p[0] * e + p[2] - y)
    _close([math.fsum(r * e), -p[0] * math.fsum(r * t * e), math.fsum(r)], g, rtol=1e-12)


def test_sin_and_cos_of_an_array_are_one_vecmath_call():
    """sin and cos over arrays run between loops (vecmath's SIMD loops, not
    libm in the loop), the sin and the cos of one array in one `sincos`
    call, also of an array a loop made (2*x); NumPy's values to 1 ulp, and
    libm's at NaN, +-inf, -0.0 and a huge argument."""
    def f(x):
        return np.sum(np.sin(x) * np.cos(x) + np.sin(2 * x) * x)
    x = np.concatenate([X, [np.nan, np.inf, -np.inf, -0.0, 1e300]])
    with np.errstate(invalid="ignore"):
        n, fz, c = _both(f, x)
        assert c.backend == "fused"
        driver, loops = c.source.split("\ndef _loop0", 1)
        assert driver.count("_vm_sincos(") == 2 and "sin(" not in loops and "cos(" not in loops
        _close(n.grad[0], fz.grad[0], rtol=1e-13)
        _close(n.val, fz.val)
        x = X[:-5]
        _close(zs.compile(f, backend="numpy").withgradient(x)[0], c.withgradient(x)[0],
               rtol=1e-13)


def test_scalar_kernels_are_one_numba_function():
    def f(x, y, z):
        return x * y * np.sin(z) + np.exp(x * y) / (1 + z ** 2)
    n, fz, c = _both(f, 0.5, 1.5, -0.3)
    assert c.backend == "fused" and type(fz.val) is float
    _close(n.val, fz.val)
    for a, b in zip(n.grad, fz.grad):
        _close(a, b)
    assert type(c._last.kernel.fn).__module__.startswith("numba")  # one compiled function
    # a special point: Python's math would raise; NumPy's (and numba's) give inf
    with np.errstate(all="ignore"):
        n, fz, _ = _both(lambda x: np.log(x) + 1 / x, 0.0)
    assert np.isnan(fz.val) and np.isnan(n.val) and np.isnan(fz.grad[0]) == np.isnan(n.grad[0])


def test_scalar_guards_retrace_on_the_fused_kernel():
    c = zs.compile(lambda x: x ** 2 if x > 0 else -x, backend="fused")
    assert c.gradient(2.0) == (4.0,) and c.backend == "fused"
    assert c.gradient(-3.0) == (-1.0,) and c.gradient(5.0) == (10.0,)


def test_gradient_field_of_a_scalar_function():
    f = lambda x, y: np.sin(x) * np.exp(-y ** 2) + np.log1p(x ** 2 * y ** 2)  # noqa: E731
    n = zs.compile(f, backend="numpy").gradient(X, Y)
    c = zs.compile(f, backend="fused")
    fz = c.gradient(X, Y)
    assert c.backend == "fused"
    for a, b in zip(n, fz):
        _close(a, b)
    # arrays written: sin(x) and cos(x) (by vecmath, into two scratch arrays),
    # -y**2 (for NumPy's exp: one scratch array, then exp in place) and the two
    # gradients (new arrays: they are returned); y**2, read by both passes, is
    # recomputed by the second, not written out
    assert c.source.count("np.empty(") == 2 and "_S[2]" in c.source and "_S[3]" not in c.source


def test_unfusable_kernels_stay_numpy():
    x32 = np.ones(3, dtype=np.float32)  # float32 stays NumPy's float32 arithmetic
    k = zs.compile(lambda x: np.sum(np.sin(x)), backend="fused")
    k.gradient(x32)
    assert k.backend == "numpy"


def test_auto_swaps_in_the_background_with_a_log_line(caplog, monkeypatch):
    monkeypatch.setattr(fused_tier, "FUSE_AFTER", 0.0)  # compile after the first call
    monkeypatch.setattr(fused_tier._Timed, "SAMPLE", 1)  # ... which is timed
    c = zs.compile(lambda x: np.sum(np.tanh(x) * x))
    x = np.linspace(-1, 1, 7)
    with caplog.at_level(logging.DEBUG, logger="zygote_sym.fused"):
        first = c.gradient(x)[0]
        tier = c._last.tiers[-1]  # (gradient()'s own kernel's: specialize.py)
        assert not tier.pending and tier.spent > 0  # timed, then asked for the fused kernel
        assert tier.ready.wait(60) and tier.backend == "fused"
        later = c.gradient(x)[0]
    assert c.backend == "fused"
    assert any("swapped in" in r.getMessage() for r in caplog.records)
    _close(first, later)


def test_wait_fused_asks_for_the_compile_now():
    c = zs.compile(lambda x: np.sum(x ** 3))
    c.gradient(np.ones(4))
    assert c.wait_fused(60) == "fused"
    np.testing.assert_allclose(c.gradient(np.arange(4.0))[0], 3 * np.arange(4.0) ** 2)


def test_swap_while_threads_call(caplog):
    """Threads calling while the fused kernel is swapped in (and then raced
    against the NumPy kernel) all get the NumPy kernel's numbers (to rounding)."""
    caplog.set_level(logging.DEBUG, logger="zygote_sym.fused")
    c = zs.compile(lambda x: np.sum(np.sin(x) * x))
    x = np.linspace(0, 1, 1000)
    want = zs.compile(lambda x: np.sum(np.sin(x) * x), backend="numpy").gradient(x)[0]
    wrong, stop = [], threading.Event()
    c.gradient(x)  # (traced here: wait_fused needs the specialization the threads call)

    def work():
        while not stop.is_set():
            got = c.gradient(x)[0]
            if not np.allclose(got, want, rtol=1e-13, atol=0):
                wrong.append(got)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        c.wait_fused(60)  # ("fused", or "numpy" if the race the threads run kept NumPy)
        assert any("fused kernel swapped in" in r.getMessage() for r in caplog.records)
        c.gradient(x)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not wrong


def test_concurrent_first_calls_trace_once(monkeypatch):
    traces = []
    barrier = threading.Barrier(6)
    trace_call = compiled.trace_call
    monkeypatch.setattr(compiled, "trace_call", lambda *a, **k: traces.append(1) or
                        trace_call(*a, **k))
    c = zs.compile(lambda x: np.sum(x ** 2), backend="numpy")
    results = []

    def work():
        barrier.wait()
        results.append(c.gradient(np.arange(3.0))[0])
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(list(r) == [0, 2, 4] for r in results)
    assert len(traces) == 1  # one trace for six concurrent first calls
    assert len(c._cache[next(iter(c._cache))]) == 1


def test_without_numba(monkeypatch):
    monkeypatch.setattr(fused_jit, "available", lambda: False)

    def missing():
        raise ImportError(f"the fused backend compiles kernels with Numba, which is not "
                          f"installed: {fused_jit.INSTALL}")
    monkeypatch.setattr(fused_jit, "require", missing)
    with pytest.raises(ImportError, match="pip install numba"):
        zs.compile(lambda x: x, backend="fused")
    c = zs.compile(lambda x: np.sum(x ** 2))  # auto: silently NumPy
    for _ in range(5):
        g = c.gradient(np.ones(3))[0]
    assert c.backend == "numpy" and c._last.tier.ready.is_set() and list(g) == [2, 2, 2]


def test_backend_name_is_checked():
    with pytest.raises(ValueError, match="'auto', 'numpy', 'fused'"):
        zs.compile(lambda x: x, backend="jax")


def test_disk_cache_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("ZYGOTE_SYM_CACHE_DIR", str(tmp_path))
    f = lambda x: np.sum(np.cos(x) * x ** 2)  # noqa: E731
    g1 = zs.compile(f, backend="fused").gradient(np.arange(3.0))[0]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.endswith(".py") for n in files)
    g2 = zs.compile(f, backend="fused").gradient(np.arange(3.0))[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # the same entry, reused
    np.testing.assert_array_equal(g1, g2)


def test_fused_kernel_falls_back_to_numpy_when_it_raises():
    from zygote_sym.codegen.kernel import Kernel
    from zygote_sym.ir.nodes import Leaf
    import sympy as sp
    x = Leaf("x", (3,))
    nodes = [sp.exp(x) * x]
    k = FusedKernel(nodes, [x], [np.ones(3)], Kernel(nodes, [x], [np.ones(3)]))
    assert k.backend == "fused"
    k.fn = lambda *values: 1 / 0  # a fault inside the fused kernel
    got = k(np.ones(3))[0]  # the NumPy kernel answers, and serves from now on
    assert k.backend == "numpy"
    np.testing.assert_allclose(got, np.e * np.ones(3))


def test_auto_keeps_the_faster_kernel_after_a_race(monkeypatch):
    monkeypatch.setattr(fused_tier, "FUSE_AFTER", 0.0)
    c = zs.compile(lambda x: np.sum(np.sin(x) * x))
    x = np.linspace(0, 1, 50)
    c.gradient(x)
    assert c.wait_fused(60) == "fused"  # on trial
    race = c._last.tiers[-1]  # (gradient()'s own kernel's: specialize.py)
    kernel = c._last.grad_kernel
    assert isinstance(kernel, fused_tier._Race)
    kernel.spent = [1.0, 0.0]  # as if NumPy had won every timed call
    got = [c.gradient(x)[0] for _ in range(2 * (fused_tier.RACE + 1))]
    assert race.backend == "numpy" and c.backend == "numpy"
    assert c._last.grad_kernel is kernel.kernels[1]  # the NumPy kernel installed for good
    for g in got:
        np.testing.assert_allclose(g, np.sin(x) + x * np.cos(x), rtol=1e-13)


# ---------------------------------------------------------------- BLAS threads
# Small BLAS calls in kernels run on one thread (codegen/runtime.py: a
# multithreaded call waits for a core another process holds).

class _FakeBlas:
    """A BLAS library's thread count, as threadpoolctl's controller shows it."""

    def __init__(self, n):
        self.n, self.sets = n, []

    def get(self):
        return self.n

    def put(self, n):
        self.sets.append(n)
        self.n = n


class _Busy:
    """A Crowd whose other processes use `others` cores."""

    def __init__(self, others):
        self.others = others

    def __call__(self):
        return self.others > runtime.CROWD_CORES


def test_large_blas_calls_run_on_the_cores_left_free(monkeypatch):
    """A product above BLAS_THREADS_FROM keeps as many threads as other
    processes leave cores (at least one); a small one gets one thread."""
    fake = _FakeBlas(8)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime, "_CORES", 8)
    for others, want in [(1.0, 7), (2.6, 5), (7.9, 1), (30.0, 1), (math.inf, 1)]:
        monkeypatch.setattr(runtime._blas, "crowd", _Busy(others))
        assert runtime._blas.limited(lambda a, b: fake.n, None, None, large=True) == want
        assert runtime._blas.limited(lambda a, b: fake.n, None, None) == 1
        assert fake.n == 8
    monkeypatch.setattr(runtime._blas, "crowd", _Busy(1.0))
    fake.sets.clear()
    a, b = np.ones((2_000, 100)), np.ones((100, 100))  # 2*10**7 multiply-adds: large
    np.testing.assert_array_equal(runtime._matmul1(a, b), np.full((2_000, 100), 100.0))
    assert fake.sets == [7, 8]


def test_small_blas_calls_run_on_one_thread_and_restore(monkeypatch):
    fake = _FakeBlas(2)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime._blas, "crowd", _Busy(1.0))  # another process is busy
    assert runtime._blas.limited(lambda a, b: fake.n, None, None) == 1  # during the call
    assert fake.n == 2 and fake.sets == [1, 2]
    a, b = np.linspace(-1, 1, 10_000), np.cos(np.arange(10_000.0))
    fake.sets.clear()
    np.testing.assert_allclose(runtime._dot1(a.reshape(100, 100), b), math.fsum(a * b),
                               rtol=1e-13)
    m = np.arange(30_000.0).reshape(300, 100) / 1e4
    np.testing.assert_allclose(runtime._matmul1(m, b[:100]), m @ b[:100], rtol=1e-14)
    assert fake.sets == [1, 2, 1, 2] and fake.n == 2


def test_blas_goes_serial_only_while_other_processes_use_the_cpu(tmp_path, monkeypatch):
    """Crowd: the machine's busy time (/proc/stat, in clock ticks) less this
    process's own CPU time, per second of wall time, against CROWD_CORES."""
    stat, clock = tmp_path / "stat", [0.0]
    own = [0.0]
    crowd = runtime.Crowd(str(stat))
    crowd.tick, crowd.clock = 100, lambda: clock[0]
    crowd.own = lambda: os.times_result((own[0], 0.0, 0.0, 0.0, 0.0))

    def at(t, busy_ticks, own_seconds):  # user, nice, system, idle, iowait
        clock[0], own[0] = t, own_seconds
        stat.write_text(f"cpu  {busy_ticks} 0 0 1000 0\n")
        return crowd()
    assert at(0.0, 0, 0.0)                # one reading: the safe side
    assert not at(1.0, 100, 0.9)          # a core busy, 0.9 s of it ours: 0.1 core others
    assert not at(1.1, 200, 1.9)          # within CROWD_EVERY: the last answer
    assert at(2.0, 200, 1.0)              # a core busy, none of it ours
    fake = _FakeBlas(2)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime._blas, "crowd", _Busy(0.0))
    assert runtime._blas.limited(lambda a, b: fake.n, None, None) == 2 and not fake.sets
    assert runtime.Crowd(str(tmp_path / "missing"))()  # no /proc/stat: always serial


def test_which_blas_calls_get_one_thread():
    """Tiny products (BLAS is serial anyway) keep plain NumPy; the rest have
    their threads limited while other processes use the CPU."""
    assert runtime.one_blas_thread((10 ** 5,), (10 ** 5,))          # B3's dot products
    assert runtime.one_blas_thread((10 ** 4, 100), (100,))          # B5's products
    assert runtime.one_blas_thread((100,), (100, 10 ** 4))
    assert not runtime.one_blas_thread((3,), (3,))
    assert not runtime.one_blas_thread((3, 3), (3, 3))
    assert runtime.one_blas_thread((1000, 1000), (1000, 1000))  # 10**9: on the free cores
    assert not runtime.one_blas_thread((0,), (0,))


def test_concurrent_blas_limits_end_on_the_users_count(monkeypatch):
    fake = _FakeBlas(2)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime._blas, "crowd", _Busy(1.0))
    seen = []

    def work():
        for _ in range(200):
            seen.append(runtime._blas.limited(lambda a, b: fake.n, None, None))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.n == 2 and set(seen) == {1}


def test_kernel_dot_products_keep_the_users_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info()]
    t = np.linspace(0, 5, 20_000)
    y = 2.5 * np.exp(-1.3 * t)
    c = zs.compile(lambda p: np.sum((p[0] * np.exp(-p[1] * t) - y) ** 2), backend="numpy")
    g = c.gradient(np.array([2.0, 1.0]))[0]
    e = np.exp(-t)
    r = 2 * (2 * e - y)
    np.testing.assert_allclose(g, [math.fsum(r * e), -2 * math.fsum(r * t * e)], rtol=1e-12)
    assert "_dot1(" in c.source
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info()] == before


def _scratch_held():
    """The scratch arrays this thread keeps (of every kernel it called)."""
    return [a for arrays, _ in getattr(fused_between._kept, "sets", {}).values() for a in arrays]


def test_results_never_alias_scratch():
    """Temporaries live in scratch arrays reused by the next call; what a
    call returns is new: a second call with other inputs leaves the first
    call's results as they were (-y**2 goes through scratch); an output
    that is a NumPy view of a scratch array (a 2-D slice) is copied."""
    f, _ = ARRAY_CASES["product and transcendentals"]
    c, n = zs.compile(f, backend="fused"), zs.compile(f, backend="numpy")
    first = c.gradient(X, Y)
    kept = [g.copy() for g in first]
    assert c.backend == "fused" and "_S[0]" in c.source
    second = c.gradient(Y, X)
    for a, b, want in zip(first, kept, n.gradient(X, Y)):
        np.testing.assert_array_equal(a, b)
        _close(want, a)
    for g in (*first, *second):
        assert not any(np.shares_memory(g, s) for s in _scratch_held())
    for a, b in zip(second, n.gradient(Y, X)):
        _close(b, a)
    # an output that is a view of a scratch array is copied (fused._unshared)
    x = Leaf("x", (4, 3))
    inner = x ** 2 + 1
    nodes = [2 * Index.make(inner, "1:3, :"), Index.make(inner, "1:3, :")]
    k = FusedKernel(nodes, [x], [np.ones((4, 3))], Kernel(nodes, [x], [np.ones((4, 3))]))
    assert "_unshared(" in k.source
    a = np.arange(12.0).reshape(4, 3)
    r1 = k(a)
    r2 = k(-a)
    np.testing.assert_array_equal(r1[1], a[1:3] ** 2 + 1)
    np.testing.assert_array_equal(r1[0], 2 * (a[1:3] ** 2 + 1))
    np.testing.assert_array_equal(r2[1], a[1:3] ** 2 + 1)


def test_each_thread_has_its_own_scratch():
    """Threads calling one kernel at once with different inputs each get
    their own scratch arrays (and the right numbers); a call made while the
    thread's arrays are taken (re-entrant) gets new ones."""
    f, _ = ARRAY_CASES["product and transcendentals"]
    c, n = zs.compile(f, backend="fused"), zs.compile(f, backend="numpy")
    c.gradient(X, Y)
    assert c.backend == "fused"
    inputs = [(X * (j + 1) / 4, Y - j) for j in range(4)]
    wants = [n.gradient(*xy) for xy in inputs]
    wrong, arrays, start = [], {}, threading.Barrier(4)

    def work(j):
        start.wait()
        for _ in range(30):
            for a, b in zip(c.gradient(*inputs[j]), wants[j]):
                if not np.allclose(a, b, rtol=1e-12, atol=0):
                    wrong.append(j)
        arrays[j] = _scratch_held()  # (c's: -y**2; kept alive past the thread)
    threads = [threading.Thread(target=work, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    held = [a for j in range(4) for a in arrays[j]]
    assert all(arrays.values()) and not any(  # each thread its own arrays, none shared
        np.shares_memory(a, b) for i, a in enumerate(held) for b in held[i + 1:])
    scratch = fused_between.Scratch()
    scratch.slot(10, "np.float64")
    outer = scratch.take()
    inner = scratch.take()  # (while `outer` is taken: as a re-entrant call would)
    assert not np.shares_memory(outer[0], inner[0])
    scratch.give(inner)
    scratch.give(outer)
    assert scratch.take()[0] is outer[0]  # (the outer call's arrays are the ones kept)


def test_scratch_kept_per_thread_is_capped(monkeypatch):
    """Above SCRATCH_CAP bytes the least recently called kernels' scratch is
    dropped; a kernel whose scratch alone is above it allocates every call."""
    monkeypatch.setattr(fused_between, "_kept", threading.local())
    f = lambda x: np.sum(np.exp(-x ** 2) * x)  # noqa: E731
    c1, c2 = zs.compile(f, backend="fused"), zs.compile(f, backend="fused")
    x = np.linspace(-1.0, 1.0, 1000)  # (scratch: -x**2, 8000 bytes)
    want = np.exp(-x ** 2) * (1 - 2 * x ** 2)
    monkeypatch.setattr(fused_between, "SCRATCH_CAP", 10000)
    _close(want, c1.gradient(x)[0])
    _close(want, c2.gradient(x)[0])
    assert "_S[0]" in c1.source and "_S[1]" not in c1.source
    (token,) = fused_between._kept.sets  # c1's dropped: 16000 bytes > 10000
    assert fused_between._kept.total == 8000
    monkeypatch.setattr(fused_between, "SCRATCH_CAP", 1000)
    _close(want, c1.gradient(x)[0])
    assert list(fused_between._kept.sets) == [token]
