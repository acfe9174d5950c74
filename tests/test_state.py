"""User state during and after a trace (docs/reliability.md, "State").

No tracer is ever written into the user's state by zygote_sym (implicit
parameters and captured arrays live in shadow copies), a tracer f itself
stores is replaced by its value wherever it went, f's own changes are kept,
the user's exception propagates unchanged, Ctrl-C and KeyboardInterrupt
during the clean-up leave the state clean, and cycles and deep nesting are
walked without recursion.
"""
import collections
import signal
import sys
import threading
import types
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zygote_sym as zs
from zygote_sym.trace import shadow
from zygote_sym.trace.capture import Reach
from zygote_sym.trace.tracer import Tracer

THIS = sys.modules[__name__]


def tracers_in(*roots):
    """Paths of every Tracer reachable from roots (an independent walk: dicts,
    sequences, sets, object arrays, generator frames and the iterators in
    them, instance/class/module attributes, closures, partials)."""
    seen, found, stack = set(), [], [(r, f"root{i}") for i, r in enumerate(roots)]
    while stack:
        x, path = stack.pop()
        if isinstance(x, Tracer):
            found.append(path)
            continue
        if id(x) in seen or isinstance(x, (int, float, str, bytes, type(None))):
            continue
        seen.add(id(x))
        if isinstance(x, dict):
            stack += [(k, f"{path}.key") for k in x] + [(v, f"{path}[{k!r}]") for k, v in x.items()]
        elif isinstance(x, (list, tuple, set, frozenset, collections.deque)):
            stack += [(v, f"{path}[{i}]") for i, v in enumerate(x)]
        elif isinstance(x, np.ndarray) and x.dtype.kind == "O":
            stack += [(v, f"{path}.flat[{i}]") for i, v in enumerate(x.flat)]
        elif isinstance(x, types.GeneratorType) and x.gi_frame is not None:
            stack += [(v, f"{path}.{k}") for k, v in x.gi_frame.f_locals.items()]
        elif type(x).__name__ in ("list_iterator", "tuple_iterator"):
            stack.append((x.__reduce__()[1][0], path + ".seq"))
        elif isinstance(x, types.FunctionType):
            stack += [(c.cell_contents, f"{path}.<cell>") for c in x.__closure__ or ()]
        elif isinstance(x, types.ModuleType):
            stack += [(v, f"{path}.{k}") for k, v in vars(x).items() if not k.startswith("__")]
        elif isinstance(x, type):
            stack += [(v, f"{path}.{k}") for k, v in vars(x).items() if not k.startswith("__")]
        elif hasattr(x, "__dict__"):
            stack += [(v, f"{path}.{k}") for k, v in vars(x).items()]
    return found


# ------------------------------------------------------------ escapes
class Holder:
    pass


class Slotted:
    __slots__ = ("a",)


MOD = types.ModuleType("zs_test_state_mod")
SET, BOX, DQ, OBJARR, GENS, LONG = set(), [None], collections.deque(), np.empty(3, object), [], \
    [0.0] * 20_000
DEEP = {}
_cur = DEEP
for _ in range(12):
    _cur["n"] = {}
    _cur = _cur["n"]
DKEY, SLOT, CALLBACKS = {}, Slotted(), []


def _deepest():
    d = DEEP
    while "n" in d:
        d = d["n"]
    return d


def stores(x):
    """Stores the traced x in every kind of place the probe found."""
    Holder.attr = x
    MOD.val = x
    SET.add(x)
    BOX[0] = (x, (x, 1), frozenset([x]))
    DQ.append(x)
    OBJARR[1] = x
    GENS.append(v * 2 for v in [x])
    GENS.append(iter([x, x]))
    LONG[15_000] = x
    _deepest()["leaf"] = x
    DKEY[x] = "key"
    SLOT.a = x
    CALLBACKS.append(lambda: x)
    return x * x


def test_stored_tracers_become_values_everywhere():
    assert zs.gradient(stores, 3.0) == (6.0,)
    roots = [Holder, MOD, SET, BOX, DQ, OBJARR, GENS, LONG, DEEP, DKEY, SLOT, CALLBACKS]
    assert tracers_in(*roots) == []
    assert Holder.attr == 3.0 and MOD.val == 3.0 and SET == {3.0} and DQ[-1] == 3.0
    assert BOX[0] == (3.0, (3.0, 1), frozenset([3.0])) and OBJARR[1] == 3.0
    assert LONG[15_000] == 3.0 and _deepest()["leaf"] == 3.0 and list(DKEY) == [3.0]
    assert SLOT.a == 3.0 and CALLBACKS[-1]() == 3.0
    assert list(GENS[0]) == [6.0] and list(GENS[1]) == [3.0, 3.0]


class Boom(Exception):
    pass


def test_users_exception_propagates_unchanged_and_state_is_clean():
    box = {}
    err = Boom("mine")

    def f(x):
        box["x"] = [x, (x,)]
        raise err

    with pytest.raises(Boom) as info:
        zs.gradient(f, np.array([1.0, 2.0]))
    assert info.value is err
    assert tracers_in(box) == [] and np.array_equal(box["x"][1][0], [1.0, 2.0])


def test_an_unfixable_escape_warns_when_f_raised_and_errors_when_it_returned():
    keys = {}

    def f(x, fail):
        keys[x] = 1  # an array tracer as a dict key: its value, an array, is unhashable
        if fail:
            raise Boom("mine")
        return np.sum(x)

    with pytest.warns(RuntimeWarning, match="key"), pytest.raises(Boom):
        zs.gradient(lambda x: f(x, True), np.ones(2))
    keys.clear()
    with pytest.raises(zs.TracerConversionError, match="cannot replace"):
        zs.gradient(lambda x: f(x, False), np.ones(2))


def test_a_failing_write_back_warns_and_never_replaces_the_exception(monkeypatch):
    W = np.array([1.0, 2.0])
    log = [W]
    err = Boom("mine")

    def f():
        log.append(2.0)  # a change in the shadow of `log`, written back afterwards
        raise err

    monkeypatch.setattr(shadow.Shadows, "_write", lambda *a: 1 / 0)
    with pytest.warns(RuntimeWarning, match="could not write back"), pytest.raises(Boom) as info:
        zs.gradient(f, zs.Params([W]))
    assert info.value is err and log == [W]


# ------------------------------------------------------- shadows keep changes
COUNT = 0
W_GLOBAL = np.array([1.0, 2.0])
HISTORY = []


def loss_with_side_effects():
    global COUNT
    COUNT += 1  # f's own changes to state on the path to a parameter are kept
    HISTORY.append(COUNT)
    # while traced, the user's module still holds the array, not a tracer
    assert type(sys.modules[__name__].__dict__["W_GLOBAL"]) is np.ndarray
    return np.sum(W_GLOBAL ** 2)


def test_f_runs_on_shadows_and_its_own_changes_are_kept():
    before = COUNT
    g = zs.gradient(loss_with_side_effects, zs.Params([W_GLOBAL]))
    np.testing.assert_array_equal(g[W_GLOBAL], [2.0, 4.0])
    assert COUNT == before + 1 and HISTORY[-1] == COUNT
    assert THIS.W_GLOBAL is list(g.keys())[0]


# ---------------------------------------------------------- hypothesis
KINDS = ["dict", "list", "tuple", "deque", "obj", "cls", "mod", "set"]


def _build(spec, holders):
    """A structure from a nested spec; mutable holders are collected."""
    kind, kids = spec
    made = [_build(k, holders) for k in kids]
    if kind == "dict":
        x = {f"k{i}": v for i, v in enumerate(made)}
    elif kind == "list":
        x = list(made)
    elif kind == "tuple":
        return tuple(made)
    elif kind == "deque":
        x = collections.deque(made)
    elif kind == "set":
        x = set()
    elif kind == "obj":
        x = Holder()
        x.kids = made
    elif kind == "cls":
        x = type("Made", (), {"kids": made})
    else:
        x = types.ModuleType("made")
        x.kids = made
    holders.append(x)
    return x


def _store(h, value):
    if isinstance(h, dict):
        h["a"] = value
    elif isinstance(h, (list, collections.deque)):
        h.append(value)
    elif isinstance(h, set):  # something hashable that holds the value
        h.add(tuple(value.values()) if isinstance(value, dict) else
              tuple(value) if isinstance(value, (list, collections.deque)) else value)
    else:
        setattr(h, "a", value)


WRAPS = [lambda x: x, lambda x: (x, 1.0), lambda x: [x], lambda x: {"w": (x,)},
         lambda x: frozenset([x]), lambda x: collections.deque([x])]
specs = st.recursive(st.tuples(st.sampled_from(KINDS), st.just([])),
                     lambda kids: st.tuples(st.sampled_from(KINDS), st.lists(kids, max_size=3)),
                     max_leaves=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.lists(st.tuples(st.integers(0, 50), st.integers(0, len(WRAPS) - 1)),
                       min_size=1, max_size=6), st.booleans())
def test_random_nestings_hold_no_tracer_afterwards(spec, where, fails):
    holders = []
    root = [_build(spec, holders)]
    holders.append(root)
    err = Boom("random")

    def f(x):
        for i, w in where:
            _store(holders[i % len(holders)], WRAPS[w](x * 2.0))
        if fails:
            raise err
        return x * x

    if fails:
        with pytest.raises(Boom) as info:
            zs.gradient(f, 1.5)
        assert info.value is err
    else:
        assert zs.gradient(f, 1.5) == (3.0,)
    assert tracers_in(root, holders) == []


# ------------------------------------------------------------ interrupts
# the functions the clean-up calls (a KeyboardInterrupt there is what user code
# it runs, a key's __hash__ say, can raise; a real Ctrl-C is held meanwhile)
CLEANUP = {"write_back", "_write", "scrub", "put_all", "put", "rebuild", "get_any", "_visit",
           "_add", "_items", "_space", "_scan", "_function", "_object", "path"}
STATE = {"w": np.array([1.0, 2.0]), "log": []}


def interrupted_loss():
    STATE["log"].append(1.0)
    STATE["last"] = STATE["w"] * 2.0  # stored: a tracer until the clean-up replaces it
    return np.sum(STATE["w"] ** 2)


def _injector(when, action):
    """A trace hook doing `action` at the `when`-th line event of a clean-up
    function (in zygote_sym, after f returned)."""
    count = [0]
    done = [False]

    def local(frame, event, arg):
        if frame.f_code is interrupted_loss.__code__ and event == "return":
            STATE["returned"] = True
        elif event == "line" and not done[0] and frame.f_code.co_name in CLEANUP \
                and "zygote_sym" in frame.f_code.co_filename and STATE.get("returned"):
            count[0] += 1
            if count[0] == when:
                done[0] = True
                action()
        return local

    def hook(frame, event, arg):
        return local if event == "call" else None
    return hook


def _interrupt_during_clean_up(when, action):
    W = STATE["w"]
    STATE["returned"] = False
    sys.settrace(_injector(when, action))
    try:
        with pytest.raises(KeyboardInterrupt):
            zs.gradient(interrupted_loss, zs.Params([W]))
    finally:
        sys.settrace(None)
    assert STATE["w"] is W and type(STATE["last"]) is np.ndarray
    assert tracers_in(STATE) == []


def _raise():
    raise KeyboardInterrupt


@pytest.mark.parametrize("when", [1, 7, 23, 61, 150, 400])
def test_keyboard_interrupt_raised_inside_the_clean_up(when):
    try:
        _interrupt_during_clean_up(when, _raise)
    except pytest.fail.Exception:
        if when > 60:  # the clean-up may be shorter than that: then nothing is raised
            pytest.skip("clean-up shorter than the injection point")
        raise


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals go to the main thread")
@pytest.mark.parametrize("when", [1, 9, 40])
def test_ctrl_c_during_the_clean_up_is_held_until_it_is_done(when):
    _interrupt_during_clean_up(when, lambda: signal.raise_signal(signal.SIGINT))


@pytest.mark.parametrize("when", [3, 20, 80])
def test_keyboard_interrupt_inside_f_leaves_state_clean(when):
    W = STATE["w"]
    count = [0]

    def hook(frame, event, arg):
        if frame.f_code is not interrupted_loss.__code__:
            return None

        def local(frame, event, arg):
            count[0] += 1
            if count[0] == when % 5 + 1:
                raise KeyboardInterrupt
            return local
        return local

    sys.settrace(hook)
    try:
        with pytest.raises(KeyboardInterrupt):
            zs.gradient(interrupted_loss, zs.Params([W]))
    finally:
        sys.settrace(None)
    assert STATE["w"] is W and tracers_in(STATE) == []


class NastyKey:
    """A key whose __hash__ raises KeyboardInterrupt once, during the clean-up."""
    armed = False

    def __hash__(self):
        if NastyKey.armed:
            NastyKey.armed = False
            raise KeyboardInterrupt
        return 7


def test_keyboard_interrupt_from_user_code_called_by_the_clean_up():
    key, W = NastyKey(), np.array([3.0])
    table = {key: W, "out": None}

    def f():
        table["out"] = table[key] * 2.0
        NastyKey.armed = True  # the write-back hashes the key again
        return np.sum(table[key] ** 2)

    NastyKey.armed = False
    with pytest.raises(KeyboardInterrupt):
        zs.gradient(f, zs.Params([W]))
    assert table[key] is W and type(table["out"]) is np.ndarray and tracers_in(table) == []


# --------------------------------------------------------------- threads
W_SHARED = np.array([1.0, 2.0, 3.0])
B_SHARED = np.array([0.5])


def shared_loss():
    return np.sum(W_SHARED ** 2) + 3.0 * np.sum(B_SHARED)


def test_threads_share_params_and_a_numpy_thread_never_sees_a_tracer():
    stop, seen, errors = threading.Event(), [], []

    def reader():
        while not stop.is_set():
            for v in (THIS.W_SHARED, THIS.B_SHARED, THIS.__dict__["W_SHARED"]):
                if not isinstance(v, np.ndarray):
                    seen.append(type(v))
                np.sum(v * 2)

    def worker(k):
        try:
            ps = zs.Params([W_SHARED, B_SHARED])
            c = zs.compile(lambda x: np.sum(x * W_SHARED))
            for i in range(200):
                if i % 4 == 0:
                    g = zs.gradient(shared_loss, ps)
                    np.testing.assert_array_equal(g[W_SHARED], 2 * W_SHARED)
                    np.testing.assert_array_equal(g[B_SHARED], [3.0])
                else:
                    np.testing.assert_array_equal(c.gradient(np.full(3, float(k)))[0], W_SHARED)
                if i % 50 == 0:  # a fresh compile traces again
                    c = zs.compile(lambda x: np.sum(x * W_SHARED))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t_read = threading.Thread(target=reader)
    t_read.start()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    t_read.join()
    assert errors == [] and seen == []


# ----------------------------------------------------- cycles and depth
def test_self_referencing_containers_are_visited_once():
    d, l = {}, []
    d["self"], d["l"] = d, l
    l.append(l)
    l.append(d)
    reach = Reach([d])
    assert len(reach.nodes) == 2 and len(reach.parents[id(d)]) == 3

    def f(x):
        d["x"] = x
        l.append(x)
        return x * 2.0

    assert zs.gradient(f, 1.0) == (2.0,)
    assert d["x"] == 1.0 and l[-1] == 1.0 and tracers_in(d) == []
    c = zs.compile(lambda x: x * len(l))
    assert c.gradient(1.0) == (3.0,)


def test_very_deep_nesting_has_no_recursion_error():
    deep = leaf = {}
    for _ in range(5_000):
        leaf["n"] = {}
        leaf = leaf["n"]
    chain = tup = ()
    for _ in range(3_000):
        tup = (tup,)
    W = np.array([2.0])
    leaf["w"], holder = W, [tup]

    def f():
        leaf["x"] = W * 1.0
        holder.append((holder[0], W * 3.0))
        return np.sum(leaf["w"] ** 2) + 0 * len(chain)

    g = zs.gradient(f, zs.Params([W]))
    np.testing.assert_array_equal(g[W], [4.0])
    assert tracers_in(holder[1][1]) == [] and type(leaf["x"]) is np.ndarray
    c = zs.compile(lambda x: x * len(deep))
    assert c.gradient(2.0) == (1.0,)


def test_warnings_as_errors_do_not_hide_the_users_exception():
    keys = {}

    def f(x):
        keys[x] = 1
        raise Boom("mine")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(Boom):
            zs.gradient(f, np.ones(2))


def test_the_signal_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    zs.gradient(lambda x: x * 2.0, 1.0)
    assert signal.getsignal(signal.SIGINT) is before
