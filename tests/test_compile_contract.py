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


# ------------------------------------------------- the array dispatcher (array_dispatch.py)
W_ARR = np.array([1.0, 2.0, 3.0])
SCALE = 2.0


def _dispatched(c):
    return getattr(c.__dict__.get("gradient"), "array_dispatch", False)


def test_array_dispatcher_falls_back_on_every_change_it_checks():
    def f(x):
        return SCALE * np.sum(W_ARR * x**2)

    def want(x):
        return 2 * SCALE * np.asarray(W_ARR) * np.asarray(x, dtype=float)

    c = zs.compile(f)
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    assert _dispatched(c)  # the next call with these arguments runs the generated dispatcher
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    val, (g,) = c.withgradient(x)
    assert type(val) is float and val == SCALE * np.sum(W_ARR * x**2)
    for other in [x.astype(np.float32), np.array([1, 2, 3]), x.astype(">f8"),
                  np.array([0.5, -1.0, 2.0, 4.0])[:3], x.reshape(3, 1)[:, 0]]:
        np.testing.assert_allclose(c.gradient(other)[0], want(other), rtol=1e-6)
        np.testing.assert_array_equal(c.gradient(x)[0], want(x))  # (and back)
    with pytest.raises(ValueError):  # a new shape: a new trace (W_ARR cannot broadcast)
        c.gradient(np.ones(4))
    W_ARR[0] = 10.0  # a captured array changed in place: read at the call
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    globals()["W_ARR"] = np.array([3.0, 2.0, 1.0])  # rebound: read from its place
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    globals()["W_ARR"] = np.array([3.0, 2.0, 1.0, 0.0])[:3]  # a view: any array of its shape
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    globals()["SCALE"] = 5.0  # a number f reads: the watch sees it, f is traced again
    np.testing.assert_array_equal(c.gradient(x)[0], want(x))
    assert c.gradient(x)[0][1] == -2 * 5.0 * 2.0
    # inside a derivative the call stays traced (not the kernel): d/dx of sum(grad)
    np.testing.assert_array_equal(zs.gradient(lambda v: np.sum(c.gradient(v)[0]), x)[0],
                                  2 * 5.0 * W_ARR)


def test_array_dispatcher_follows_guards_to_the_other_trace():
    c = zs.compile(lambda x, y: np.sum(x * y) if np.sum(x) > 0 else np.sum(x**2 * y))
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for _ in range(3):  # alternating branches: each call gives its own branch's gradient
        for _ in range(2):  # (the second: through the dispatcher)
            gx, gy = c.gradient(x, y)
            np.testing.assert_array_equal(gx, y)
            np.testing.assert_array_equal(gy, x)
            assert gx is not y and gy is not x  # (the kernel returns its inputs: copied)
        gx, gy = c.gradient(-x, y)
        np.testing.assert_array_equal(gx, -2 * x * y)
        np.testing.assert_array_equal(gy, x**2)
    assert sum(len(v) for v in c._cache.values()) == 2


def test_array_dispatcher_on_pytrees_checks_containers_and_keys():
    def loss(p, t):
        return np.sum((p["a"] * t + p["b"][0] - p["b"][1])**2)

    def want(p, t):
        r = 2 * (p["a"] * t + p["b"][0] - p["b"][1])
        return {"a": r * t, "b": (r, -r)}

    c = zs.compile(loss, wrt=0)
    t = np.linspace(0, 1, 4)
    p = {"a": np.full(4, 0.5), "b": (np.ones(4), np.zeros(4))}
    for q in [p, p, dict(b=p["b"], a=p["a"]), {"a": p["a"], "b": list(p["b"])},
              {"a": p["a"], "b": (np.ones(4), np.zeros(4), np.zeros(4))}, p,
              {"a": p["a"].astype(np.float32), "b": p["b"]}, p]:
        try:
            g, none = c.gradient(q, t)
        except (IndexError, ValueError):  # (three items in b: f does not read the third)
            continue
        assert none is None and list(g) == list(q) and type(g["b"]) is type(q["b"])
        w = want(q, t)
        np.testing.assert_allclose(g["a"], w["a"], rtol=1e-6)
        np.testing.assert_allclose(g["b"][0], w["b"][0], rtol=1e-6)
        np.testing.assert_allclose(g["b"][1], w["b"][1], rtol=1e-6)
    assert _dispatched(c)


def test_array_dispatcher_results_alias_nothing():
    def f(x, y):
        return np.sum((x + y)**2)

    x, y = np.array([1.0, 2.0]), np.array([0.5, 0.25])
    for backend in ["numpy", "fused"]:
        if backend == "fused":
            pytest.importorskip("numba")
        c = zs.compile(f, backend=backend)
        for _ in range(3):
            gx, gy = c.gradient(x, y)
            assert not np.may_share_memory(gx, gy)  # (a fused kernel returns one array twice)
            np.testing.assert_array_equal(gx, 2 * (x + y))
            gx[:] = 99.0  # the user's array: a later call is not corrupted
            np.testing.assert_array_equal(gy, 2 * (x + y))
        np.testing.assert_array_equal(x, [1.0, 2.0])
        c = zs.compile(lambda u, v: np.sum(u * v.T), backend=backend)
        u, v = np.ones((1, 3)), np.arange(6.0).reshape(3, 2)[:, :1]  # (v: a view of its base)
        for _ in range(2):  # the kernel returns views of the inputs (v.T, u.T): copied
            gu, gv = c.gradient(u, v)
            assert not any(np.may_share_memory(g, a) for g in (gu, gv) for a in (u, v))
            np.testing.assert_array_equal(gu, v.T)
            np.testing.assert_array_equal(gv, u.T)
        y = zs.compile(lambda x: np.sum(x**3), backend=backend).gradient(x)[0]
        c = zs.compile(lambda x, y: np.sum(x * y), backend=backend)
        for _ in range(2):  # y (fused: Numba's memory) comes back as the gradient in x: copied
            gx, gy = c.gradient(x, y)
            assert gx is not y and gy is not x
            np.testing.assert_array_equal(gx, 3 * x**2)


def test_a_gradient_that_is_an_input_inside_a_pytree_is_copied():
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    c = zs.compile(lambda p: np.sum(p["a"] * p["b"]), backend="numpy")
    for _ in range(2):  # the general path, then the dispatcher: the kernel returns p["b"]
        g = c.gradient(p)[0]
        assert not np.may_share_memory(g["a"], p["b"])
        g["a"][:] = 0.0
        np.testing.assert_array_equal(p["b"], [3.0, 4.0])
        np.testing.assert_array_equal(g["b"], p["a"])
