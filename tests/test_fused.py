"""The fused backend (codegen/fused.py): one Numba loop per elementwise-plus-
reduction region gives the NumPy backend's numbers (to rounding: its sums run
left to right, NumPy's pairwise) at ordinary and special points; "auto"
swaps it in from the background; without numba, "auto" stays NumPy and
"fused" names the install.

`each_backend` is a fixture other test files import to run their compiled
checks on both backends."""
import functools
import logging
import math
import os
import threading

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym import compiled
from zygote_sym.codegen import fused_jit, fused_tier, runtime
from zygote_sym.codegen.fused import FusedKernel

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
    (not written out by the first pass); three sums in that one pass."""
    f, (p, t, y) = ARRAY_CASES["scalar parameters over data"]
    c = zs.compile(f, backend="fused")
    g = c.gradient(p, t, y)[0]
    driver, loops = c.source.split("\ndef _loop0", 1)
    assert "np.exp(" in driver and "np.exp(" not in loops
    assert driver.count("_loop") == 3 and "= _loop1(" in driver  # -b*t; exp; the sums
    assert loops.count("_r") >= 6  # (declared and accumulated: at least three sums)
    e = np.exp(-p[1] * t)
    r = 2 * (p[0] * e + p[2] - y)
    _close([math.fsum(r * e), -p[0] * math.fsum(r * t * e), math.fsum(r)], g, rtol=1e-12)


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
        tier = c._last.tier
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
    race = c._last.tier
    kernel = c._last.kernel
    assert isinstance(kernel, fused_tier._Race)
    kernel.spent = [1.0, 0.0]  # as if NumPy had won every timed call
    got = [c.gradient(x)[0] for _ in range(2 * (fused_tier.RACE + 1))]
    assert race.backend == "numpy" and c.backend == "numpy"
    assert c._last.kernel is kernel.kernels[1]  # the NumPy kernel installed for good
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


def test_small_blas_calls_run_on_one_thread_and_restore(monkeypatch):
    fake = _FakeBlas(2)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime._blas, "crowd", lambda: True)  # another process is busy
    assert runtime._blas.serial(lambda a, b: fake.n, None, None) == 1  # during the call
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
    monkeypatch.setattr(runtime._blas, "crowd", lambda: False)
    assert runtime._blas.serial(lambda a, b: fake.n, None, None) == 2 and not fake.sets
    assert runtime.Crowd(str(tmp_path / "missing"))()  # no /proc/stat: always serial


def test_which_blas_calls_get_one_thread():
    """Tiny products (BLAS is serial anyway) and huge ones (longer than a
    scheduler time slice) keep plain NumPy; the middle gets one thread."""
    assert runtime.one_blas_thread((10 ** 5,), (10 ** 5,))          # B3's dot products
    assert runtime.one_blas_thread((10 ** 4, 100), (100,))          # B5's products
    assert runtime.one_blas_thread((100,), (100, 10 ** 4))
    assert not runtime.one_blas_thread((3,), (3,))
    assert not runtime.one_blas_thread((3, 3), (3, 3))
    assert not runtime.one_blas_thread((1000, 1000), (1000, 1000))  # 10**9 multiply-adds
    assert not runtime.one_blas_thread((0,), (0,))


def test_concurrent_blas_limits_end_on_the_users_count(monkeypatch):
    fake = _FakeBlas(2)
    monkeypatch.setattr(runtime._blas, "libs", [(fake.get, fake.put)])
    monkeypatch.setattr(runtime._blas, "crowd", lambda: True)
    seen = []

    def work():
        for _ in range(200):
            seen.append(runtime._blas.serial(lambda a, b: fake.n, None, None))
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
