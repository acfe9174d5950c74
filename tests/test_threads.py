"""One compiled function called from many threads at once gives, in every
call, the numbers it gives in one thread: its buffers and numexpr objects are
per thread (codegen/emit.py).  8 threads x 200 calls on 10**5 elements."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym.codegen import fuse

THREADS, CALLS, N = 8, 200, 10**5


def _same(got, want):
    # (equal bit for bit, unless a threaded BLAS summed in another order)
    return all(np.array_equal(g, w) or np.allclose(g, w, rtol=1e-13, atol=0)
               for g, w in zip(got, want))


def _hammer(call, inputs, calls=CALLS):
    """Call `call(*inputs[k])` `calls` times in thread k, all threads started
    together; assert every result equals the single-threaded one."""
    refs = [call(*args) for args in inputs]
    barrier = threading.Barrier(len(inputs))
    wrong, errors = [], []

    def work(k):
        barrier.wait()
        try:
            for _ in range(calls):
                if not _same(call(*inputs[k]), refs[k]):
                    wrong.append(k)
        except Exception as e:  # noqa: BLE001 (reported below, with the thread's input)
            errors.append((k, e))
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert not wrong, f"{len(wrong)} of {calls * len(inputs)} calls gave wrong numbers"


def _arrays(seed):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, N), rng.uniform(-1, 1, N)) for _ in range(THREADS)]


def loss(a, b):
    return np.sum((a*b - 1.0)**2 - b*b*a + 3*a)


def test_buffered_numpy_ufunc_chains(monkeypatch):
    monkeypatch.setattr(fuse, "numexpr_pays", lambda size: False)
    c = zs.compile(loss)
    inputs = _arrays(0)
    c.gradient(*inputs[0])
    assert "out=_b" in c.source and "_ne" not in c.source
    _hammer(c.withgradient, inputs)
    a, b = inputs[3]
    val, (ga, gb) = c.withgradient(a, b)
    assert val == pytest.approx(loss(a, b), rel=1e-12)
    np.testing.assert_allclose(ga, 2*(a*b - 1)*b - b*b + 3, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gb, 2*(a*b - 1)*a - 2*a*b, rtol=1e-12, atol=1e-14)


def test_numexpr_regions(monkeypatch):
    monkeypatch.setattr(fuse, "numexpr_pays", lambda size: True)
    c = zs.compile(loss)
    inputs = _arrays(1)
    c.gradient(*inputs[0])
    assert "_ne" in c.source
    _hammer(c.gradient, inputs)


_SERIAL = """
import numpy as np, zygote_sym as zs
from zygote_sym.codegen import fuse
import test_threads as t
fuse.MIN_SIZE = 1
fuse.numexpr_pays = lambda size: True
c = zs.compile(t.loss)
rng = np.random.default_rng(2)
inputs = [(rng.uniform(-1, 1, 1000), rng.uniform(-1, 1, 1000)) for _ in range(t.THREADS)]
c.gradient(*inputs[0])
assert "_ne" in c.source
t._hammer(c.gradient, inputs, calls=1000)
print("ok")
"""


def test_numexpr_single_threaded_path_in_a_subprocess():
    """With one numexpr thread (or small arrays) a NumExpr object keeps the
    call's scratch registers in itself: one object shared by threads corrupts
    the heap and aborts the process, hence the subprocess."""
    tests, root = os.path.dirname(__file__), os.path.dirname(os.path.dirname(zs.__file__))
    env = dict(os.environ, NUMEXPR_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([tests, root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", _SERIAL], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_math_scalar_fast_path():
    c = zs.compile(lambda x, y, z: x*y*np.sin(z) + np.exp(x*y)/(1 + z**2))
    inputs = [(0.1*k, 0.3 + 0.05*k, -0.2*k) for k in range(THREADS)]
    _hammer(c.gradient, inputs, calls=2000)


def test_gradient_field_of_a_scalar_function():
    c = zs.compile(lambda x, y: np.sin(x)*np.exp(-y**2) + np.log1p(x**2*y**2))
    _hammer(c.gradient, _arrays(3), calls=50)


def test_first_calls_from_many_threads_at_once():
    """Threads that all find no kernel yet trace concurrently; each gets
    the right numbers."""
    inputs = _arrays(4)
    refs = [zs.gradient(loss, *args) for args in inputs]
    c = zs.compile(loss)
    barrier = threading.Barrier(THREADS)
    results = [None]*THREADS

    def work(k):
        barrier.wait()
        results[k] = [c.gradient(*inputs[k]) for _ in range(5)]
    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, refs):
        assert all(_same(g, want) for g in got)


def test_branches_of_a_batched_function_traced_from_many_threads_at_once():
    """A function with a Python branch, called on arrays: threads that meet an
    element no traced branch takes each trace one, and every element gets its
    own branch's value (a shared branch list once let one thread skip it)."""
    x = np.linspace(-1, 1, 101)  # x = 0 exactly takes the `else` branch
    want = np.where(x > 0, 2 * x, -1.0)
    for _ in range(10):
        c = zs.compile(lambda x: x ** 2 if x > 0 else -x)
        barrier = threading.Barrier(THREADS)
        results = [None] * THREADS

        def work(k):
            barrier.wait()
            results[k] = c.gradient(x[k * 10:k * 10 + 30])[0]
        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k, got in enumerate(results):
            np.testing.assert_array_equal(got, want[k * 10:k * 10 + 30])
