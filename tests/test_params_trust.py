"""Implicit parameters: found wherever f reaches them, or a clear error
(docs/reliability.md, "Params")."""
import functools
import threading
import weakref

import numpy as np
import pytest

import zygote_sym as zs


@pytest.mark.parametrize("entry, name", [(2.0, "float"), ("w", "str"), ((1.0, 2.0), "tuple"),
                                         (np.float64(2.0), "float64"), (3, "int"),
                                         (np.array(["a"]), "dtype <U1")])
def test_params_hold_numeric_arrays_only(entry, name):
    with pytest.raises(TypeError, match=rf"Params entry 0 is .*{name}.*np\.array\(2\.0\).*argument"):
        zs.Params([entry])


def test_equal_constants_are_refused_not_confused():
    a = 2.0
    b = 2.0
    with pytest.raises(TypeError, match="shared object"):
        zs.gradient(lambda: a * b, zs.Params([a]))
    a, b = np.array(2.0), np.array(2.0)  # the fix: arrays are distinct objects
    g = zs.gradient(lambda: a * b, zs.Params([a]))
    assert float(g[a]) == 2.0


W = np.array([1.0, 2.0])
PAIR = (W, 3.0)


def _sq(w, k):
    return np.sum(w ** 2) * k


PARTIAL = functools.partial(_sq, W)


class Model:
    scale = np.array([2.0, 5.0])

    def __init__(self):
        self.w = np.array([1.0, 3.0])

    def loss(self):
        return np.sum(self.w ** 2)

    @classmethod
    def class_loss(cls):
        return np.sum(cls.scale ** 2)


D = np.array([1.0, 4.0])


def with_default(w=D, *, k=D):
    return np.sum(w ** 2) + np.sum(k)


B = np.arange(6.0).reshape(2, 3)
ROW = B[1]          # a view of a parameter, held in state
HEAD = B[0]         # a parameter that is a view of what f reads
DEEP = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": W}}}}}}}}}}
LONG = [0.0] * 20_000 + [W]


def test_parameters_reached_through_every_kind_of_holder():
    m = Model()
    cases = [
        (lambda: np.sum(PAIR[0] ** 2), W, [2.0, 4.0]),               # a tuple
        (lambda: PARTIAL(3.0), W, [6.0, 12.0]),                      # functools.partial
        (m.loss, m.w, [2.0, 6.0]),                                   # a bound method's __self__
        (Model.class_loss, Model.scale, [4.0, 10.0]),                # a class attribute
        (lambda: np.sum(m.scale ** 3), Model.scale, [12.0, 75.0]),   # ... through an instance
        (with_default, D, [3.0, 9.0]),                               # default and kw default
        (lambda: np.sum(ROW ** 2), B, [[0, 0, 0], [6.0, 8.0, 10.0]]),  # a view of the param
        (lambda: np.sum(B ** 2), HEAD, [0.0, 2.0, 4.0]),             # the param is a view
        (lambda: np.sum(DEEP["a"]["b"]["c"]["d"]["e"]["f"]["g"]["h"]["i"]["j"] ** 2), W,
         [2.0, 4.0]),                                                # 10 levels deep
        (lambda: np.sum(LONG[-1] ** 2), W, [2.0, 4.0]),              # a list of 20,001 items
    ]
    for f, p, want in cases:
        g = zs.gradient(f, zs.Params([p]))
        assert g[p] is not None, f
        np.testing.assert_array_equal(g[p], want)
    assert type(PAIR[0]) is np.ndarray and PARTIAL.args[0] is W and type(Model.scale) is np.ndarray
    assert with_default.__defaults__[0] is D and LONG[-1] is W


def test_a_parameter_f_does_not_reach_is_none():
    a, c = np.array([1.0]), np.array([2.0])
    g = zs.gradient(lambda: np.sum(a ** 2), zs.Params([a, c]))
    assert g[c] is None and g[a][0] == 2.0


def test_parameter_read_by_a_computed_name_is_found():
    class Net:
        pass
    net = Net()
    setattr(net, "layer" + "0", np.array([1.0, -1.0]))
    name = "layer" + str(0)
    g = zs.gradient(lambda: np.sum(getattr(net, name) ** 2), zs.Params([net.layer0]))
    np.testing.assert_array_equal(g[net.layer0], [2.0, -2.0])


def test_overlapping_parameters_are_an_error():
    A = np.arange(4.0)
    with pytest.raises(TypeError, match=r"parameter 1 \(an array of shape \(2,\)\) shares memory"):
        zs.gradient(lambda: np.sum(A), zs.Params([A, A[:2]]))
    V = A[1:3]  # f reads A[1:3] through V; the parameter A[2:] overlaps it only partly
    with pytest.raises(TypeError, match="partly overlaps"):
        zs.gradient(lambda: np.sum(V), zs.Params([A[2:]]))


def test_a_parameter_held_where_no_copy_can_be_made_is_named():
    P = np.array([1.0, 2.0])

    def gen():
        w = P
        while True:
            yield np.sum(w ** 2)
    it = gen()
    next(it)
    with pytest.raises(TypeError, match=r"parameter 0 \(an array of shape \(2,\)\) cannot be "
                                        r"substituted.*generator.*pass it as an argument"):
        zs.gradient(lambda: next(it), zs.Params([P]))


def test_the_users_objects_never_hold_a_tracer_while_traced():
    m = Model()
    real_m, real_model = weakref.ref(m), weakref.ref(Model)  # not followed: the real ones
    seen = []

    def loss():
        seen.append((type(real_m().__dict__["w"]), type(real_model().__dict__["scale"])))
        return m.loss() + Model.class_loss()

    g = zs.gradient(loss, zs.Params([m.w, Model.scale]))
    np.testing.assert_array_equal(g[m.w], [2.0, 6.0])
    np.testing.assert_array_equal(g[Model.scale], [4.0, 10.0])
    assert seen == [(np.ndarray, np.ndarray)]


def test_gradient_step_through_a_shadowed_object_updates_the_real_one():
    m = Model()
    w0 = m.w
    ps = zs.Params([m.w])
    for _ in range(3):
        zs.gradient(m.loss, ps).step(0.25)
    assert m.w is w0
    np.testing.assert_allclose(m.w, np.array([1.0, 3.0]) * 0.5 ** 3)


SHARED = {"w": np.array([1.0, 2.0, 3.0]), "b": np.array([0.5])}


def shared_loss():
    return np.sum(SHARED["w"] ** 2) + 3.0 * np.sum(SHARED["b"])


def test_threads_share_params():
    ps = zs.Params([SHARED["w"], SHARED["b"]])
    stop, bad, errors = threading.Event(), [], []

    def reader():
        while not stop.is_set():
            for v in SHARED.values():
                if type(v) is not np.ndarray:
                    bad.append(type(v))

    def worker():
        try:
            for _ in range(60):
                g = zs.gradient(shared_loss, ps)
                np.testing.assert_array_equal(g[SHARED["w"]], [2.0, 4.0, 6.0])
                np.testing.assert_array_equal(g[SHARED["b"]], [3.0])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    r = threading.Thread(target=reader)
    r.start()
    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    r.join()
    assert errors == [] and bad == []
