"""compile's contract (docs/reliability.md, "What compile re-reads, checks
and refuses"): a compiled function never reuses a stale value silently."""
import cProfile
import gc
import random
import sys
import threading
import time
import types
import warnings

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym.errors import RandomDrawError


def traces(c):
    return sum(len(v) for v in c._cache.values())


FLAG, MODE, S64, TUP, LST = True, "a", np.float64(2.0), (2.0, 3.0), [1.0, 2.0]
MOD = types.ModuleType("zs_contract_mod")
MOD.K = 2.0
sys.modules[MOD.__name__] = MOD


class Config:
    scale = 2.0


def helper(x):
    return x * 2.0


def test_state_f_reads_is_checked_at_every_call():
    cases = [
        (lambda x: x * 2.0 if FLAG else x * 3.0, lambda: globals().update(FLAG=False), 3.0),
        (lambda x: x * 2.0 if MODE == "a" else x * 3.0, lambda: globals().update(MODE="b"), 3.0),
        (lambda x: x * S64, lambda: globals().update(S64=np.float64(5.0)), 5.0),
        (lambda x: x * TUP[0], lambda: globals().update(TUP=(7.0, 3.0)), 7.0),
        (lambda x: x * MOD.K, lambda: setattr(MOD, "K", 4.0), 4.0),
        (lambda x: x * Config.scale, lambda: setattr(Config, "scale", 9.0), 9.0),
        (lambda x: x * len(LST), lambda: LST.append(3.0), 3.0),
        (lambda x: x * LST[0], lambda: LST.__setitem__(0, 10.0), 10.0),
        (lambda x: helper(x), lambda: globals().update(helper=lambda x: x * 5.0), 5.0),
    ]
    for f, change, want in cases:
        c = zs.compile(f)
        first = c.gradient(1.0)[0]
        change()
        assert c.gradient(1.0) == (want,), (first, want)
        assert c.gradient(1.0) == zs.gradient(f, 1.0)


def test_object_attributes_and_methods():
    class Scaled:
        def __init__(self):
            self.k = 2.0

        def loss(self, x):
            return np.sum(self.k * x ** 2)

    s = Scaled()
    c = zs.compile(s.loss)
    np.testing.assert_array_equal(c.gradient(np.ones(2))[0], [4.0, 4.0])
    s.k = 3.0
    np.testing.assert_array_equal(c.gradient(np.ones(2))[0], [6.0, 6.0])
    attrs = {"name": "k"}
    d = zs.compile(lambda x: x * getattr(s, attrs["name"]))  # a computed name: all watched
    assert d.gradient(1.0) == (3.0,)
    s.k = 8.0
    assert d.gradient(1.0) == (8.0,)


def test_captured_arrays_are_read_at_every_call_without_a_new_trace():
    global CAP
    CAP = np.array([1.0, 2.0])
    c = zs.compile(lambda x: np.sum(x * CAP))
    np.testing.assert_array_equal(c.gradient(np.ones(2))[0], [1.0, 2.0])
    CAP[:] = [3.0, 4.0]
    np.testing.assert_array_equal(c.gradient(np.ones(2))[0], [3.0, 4.0])
    CAP = np.array([5.0, 6.0])  # rebound to another array of the same shape
    np.testing.assert_array_equal(c.gradient(np.ones(2))[0], [5.0, 6.0])
    assert traces(c) == 1
    CAP = np.array([1.0, 2.0, 3.0])  # another shape: a new trace, and the right shape
    with pytest.raises(ValueError):
        c.gradient(np.ones(2))


def test_index_arrays_are_checked_by_content():
    idx = np.array([0, 0])
    c = zs.compile(lambda a: np.sum(a[idx]))
    np.testing.assert_array_equal(c.gradient(np.array([1.0, 2.0]))[0], [2.0, 0.0])
    idx[:] = [1, 1]
    np.testing.assert_array_equal(c.gradient(np.array([1.0, 2.0]))[0], [0.0, 2.0])


@pytest.mark.parametrize("f, name", [
    (lambda x: x * np.random.normal(), "np.random"),
    (lambda x: x * RNG.normal(), "Generator global RNG"),
    (lambda x: x * random.random(), "random.random"),
    (lambda x: x * np.random.default_rng().uniform(), "os.urandom|random"),
])
def test_random_draws_inside_f_are_refused_naming_the_call(f, name, monkeypatch):
    # alone in the process (a background thread an earlier test left, such as the
    # fused backend's compiler, would make a generator's change only "maybe f's")
    monkeypatch.setattr("zygote_sym.trace.call.threading.active_count", lambda: 1)
    for _ in range(2):  # the second np.random.normal() is Box-Muller's cached one
        with pytest.raises(RandomDrawError, match=rf"{name}.*pass them as an argument"):
            zs.compile(f).gradient(1.0)
    assert isinstance(RandomDrawError("x"), TypeError)


RNG = np.random.default_rng(0)


def test_a_draw_while_other_threads_run_is_a_warning_naming_the_generator():
    idle = threading.Event()
    t = threading.Thread(target=idle.wait)
    t.start()
    try:  # the other thread could have drawn: not an error, but never silent
        with pytest.warns(RuntimeWarning, match=r"np\.random .*drawn from.*pass them as an"):
            zs.compile(lambda x: x * np.random.normal()).gradient(1.0)
    finally:
        idle.set()
        t.join()


def test_seeded_generator_made_inside_f_is_deterministic_and_allowed():
    c = zs.compile(lambda x: x * np.random.default_rng(3).normal())
    want = np.random.default_rng(3).normal()
    assert c.gradient(1.0) == (want,) and c.gradient(2.0) == (want,)


def test_a_clock_read_warns_naming_it():
    with pytest.warns(RuntimeWarning, match=r"time\.time.*pass it as an argument"):
        zs.compile(lambda x: x * (time.time() > 0)).gradient(1.0)
    with pytest.warns(RuntimeWarning, match=r"time\.perf_counter"):
        zs.compile(lambda x: x + 0 * time.perf_counter()).gradient(1.0)


def test_a_clock_read_by_a_gc_callback_during_the_trace_is_not_f_s():
    def on_gc(phase, info):
        time.perf_counter()
    gc.callbacks.append(on_gc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            zs.compile(lambda x: (gc.collect(), x * 2.0)[1]).gradient(1.0)
    finally:
        gc.callbacks.remove(on_gc)


def test_side_effects_warn_once_and_do_not_force_new_traces():
    log = []

    def f(x):
        log.append(1)
        return x * 3.0

    c = zs.compile(f)
    with pytest.warns(RuntimeWarning, match="f changed .*log.*not repeated"):
        assert c.gradient(1.0) == (3.0,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zs.gradient(f, 1.0)  # log changes outside the compiled calls
        assert c.gradient(2.0) == (3.0,) and traces(c) == 1
    gen = iter([1.0, 2.0, 3.0])
    with pytest.warns(RuntimeWarning, match="advanced"):
        zs.compile(lambda x: x * next(gen)).gradient(1.0)


def test_state_that_keeps_changing_warns_naming_it():
    global STEP
    STEP = 0.0
    c = zs.compile(lambda x: x * 2.0 + STEP)
    with pytest.warns(RuntimeWarning, match=r"traced again 3 times.*STEP"):
        for i in range(5):
            STEP = float(i)
            c.gradient(1.0)


def test_non_scalar_output_is_an_error_unless_f_is_elementwise():
    f = lambda x: (x - np.mean(x)) ** 2  # noqa: E731
    with pytest.raises(zs.NonScalarOutputError) as compiled:
        zs.compile(f).gradient(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(zs.NonScalarOutputError):
        zs.gradient(f, np.array([1.0, 2.0, 3.0]))
    assert "sum it to a scalar" in str(compiled.value)
    with pytest.raises(zs.NonScalarOutputError):  # a branch, then a structural op
        zs.compile(lambda x: np.cumsum(x) if x[0] > 0 else x).gradient(np.ones(3))
    field = zs.compile(lambda x: np.sin(x) * x).gradient(np.array([0.0, 1.0]))[0]
    np.testing.assert_allclose(field, [0.0, np.cos(1.0) + np.sin(1.0)])
    branch = zs.compile(lambda x: x ** 2 if x > 0 else -x).gradient(np.array([-1.0, 2.0]))[0]
    np.testing.assert_array_equal(branch, [-1.0, 4.0])


def test_batched_field_rechecks_the_state_it_reads():
    global GAIN
    GAIN = 2.0
    c = zs.compile(lambda x: GAIN * x ** 2 if x > 0 else -x)
    np.testing.assert_array_equal(c.gradient(np.array([1.0, -1.0]))[0], [4.0, -1.0])
    GAIN = 5.0
    np.testing.assert_array_equal(c.gradient(np.array([1.0, -1.0]))[0], [10.0, -1.0])


def test_wrt_is_validated_like_jax_argnums():
    f = lambda x, y: x * y  # noqa: E731
    assert zs.compile(f, wrt=-1).gradient(2.0, 3.0) == (None, 2.0)
    assert zs.compile(f, wrt=(0, -1)).gradient(2.0, 3.0) == (3.0, 2.0)
    assert zs.compile(f, wrt=np.int64(0)).gradient(2.0, 3.0) == (3.0, None)
    with pytest.raises(ValueError, match=r"called with 2 arguments, so wrt must be in range\(-2, 2\)"):
        zs.compile(f, wrt=5).gradient(2.0, 3.0)
    with pytest.raises(ValueError, match=r"range\(-2, 2\)"):
        zs.compile(f, wrt=-3).gradient(2.0, 3.0)
    for bad in ("x", 1.5, True, (0, "y"), ()):
        with pytest.raises(TypeError, match="argument index or a tuple of them"):
            zs.compile(f, wrt=bad)


def test_under_cprofile_compile_works_and_says_detection_is_off():
    prof = cProfile.Profile()
    prof.enable()
    try:
        with pytest.warns(RuntimeWarning, match="another profiler"):
            assert zs.compile(lambda x: np.sin(x) * x).gradient(0.0) == (0.0,)
    finally:
        prof.disable()


def test_bound_methods_of_arrays_do_not_confuse_the_clock_watch():
    # the watch sees NumPy's C calls, whose __self__ may be an array
    x = np.array([[0.1, 0.2], [0.0, 0.3]])
    c = zs.compile(lambda x: np.sum(np.triu(x) * 2.0))
    np.testing.assert_array_equal(c.gradient(x)[0], [[2.0, 2.0], [0.0, 2.0]])
