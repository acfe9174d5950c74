"""Compiled gradients on Dask arrays (zygote_sym/dask.py): fields block by block, losses summed
over row blocks by a tree reduction, refusals, and a dask.distributed LocalCluster on loopback.
Every value is checked against the NumPy compiled gradient on the concatenated data."""
import doctest
import pickle
from pathlib import Path

import numpy as np
import pytest

import zygote_sym as zs
from zygote_sym import dask as zd

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

RNG = np.random.default_rng(7)
N = 600
T = RNG.uniform(0, 2, N)
Y = 2 * np.exp(-1.3 * T) + 0.05 * RNG.normal(size=N)
THETA = np.array([1.5, 0.9])


def model(th, t):
    return th[0] * np.exp(-th[1] * t)


def sum_loss(th, t, y):
    return np.sum((model(th, t) - y) ** 2)


def mean_loss(th, t, y):
    return np.mean((model(th, t) - y) ** 2)


def ridge_loss(th, t, y):
    return np.sum((model(th, t) - y) ** 2) + 0.1 * np.sum(th ** 2)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


def test_field_runs_blockwise_with_the_chunks_of_the_broadcast_arguments():
    c = zs.compile(lambda x, y: np.sin(x) * np.exp(-y ** 2))
    x, y = RNG.normal(size=(30, 40)), RNG.normal(size=(30, 40))
    xd, yd = da.from_array(x, chunks=(7, 15)), da.from_array(y, chunks=(10, 40))
    val, (gx, gy) = zd.withgradient(c, xd, yd)
    assert all(isinstance(r, da.Array) for r in (val, gx, gy))
    chunks = da.core.unify_chunks(xd, "ij", yd, "ij")[0]["i"], \
        da.core.unify_chunks(xd, "ij", yd, "ij")[0]["j"]
    assert gx.chunks == gy.chunks == val.chunks == chunks
    ref = c.withgradient(x, y)
    close(val.compute(), ref.val)
    close(gx.compute(), ref.grad[0])
    close(gy.compute(), ref.grad[1])


def test_field_with_a_number_parameter_and_compute():
    c = zs.compile(lambda x, y: np.sin(x) * np.exp(-y ** 2))
    x = RNG.normal(size=500)
    gx, gy = zd.gradient(c, da.from_array(x, chunks=64), 0.3, compute=True)
    ref = c.gradient(x, np.full(500, 0.3))
    assert type(gx) is np.ndarray
    close(gx, ref[0])
    close(gy, ref[1])


def test_field_with_a_python_branch_per_element():
    c = zs.compile(lambda x: x ** 2 if x > 0 else -x)
    x = np.linspace(-1, 1, 101)
    (g,) = zd.gradient(c, da.from_array(x, chunks=10), compute=True)
    close(g, np.where(x > 0, 2 * x, -1.0))


@pytest.mark.parametrize("chunks", [97, N, 5])
def test_sum_loss_is_the_tree_sum_of_block_gradients(chunks):
    c = zs.compile(sum_loss)
    td, yd = da.from_array(T, chunks=chunks), da.from_array(Y, chunks=chunks)
    val, (g, gt, gy) = zd.withgradient(c, THETA, td, yd)
    assert val.shape == () and g.shape == (2,) and gt.chunks == td.chunks
    ref = c.withgradient(THETA, T, Y)
    close(val.compute(), ref.val)
    close(g.compute(), ref.grad[0])
    close(gt.compute(), ref.grad[1])
    close(gy.compute(), ref.grad[2])


def test_fewer_rows_than_the_check_needs_make_one_block():
    c = zs.compile(mean_loss)
    val, (g, _, _) = zd.withgradient(c, THETA, da.from_array(T[:2], chunks=1),
                                     da.from_array(Y[:2], chunks=1), compute=True)
    ref = c.withgradient(THETA, T[:2], Y[:2])
    close(val, ref.val)
    close(g, ref.grad[0])


@pytest.mark.parametrize("loss", [mean_loss, ridge_loss])
def test_mean_is_weighted_and_a_regularizer_counted_once(loss):
    c = zs.compile(loss)
    td, yd = da.from_array(T, chunks=130), da.from_array(Y, chunks=130)
    val, (g, gt, gy) = zd.withgradient(c, THETA, td, yd, compute=True)
    ref = c.withgradient(THETA, T, Y)
    close(val, ref.val)
    close(g, ref.grad[0])
    close(gt, ref.grad[1])


def test_wrt_parameters_only_and_rows_times_a_parameter_matrix():
    X = RNG.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    c = zs.compile(lambda w, X, y: np.sum((X @ w - y) ** 2), wrt=0)
    w = np.zeros(3)
    Xd = da.from_array(X, chunks=(64, 2))  # (rechunked to whole rows)
    val, grads = zd.withgradient(c, w, Xd, da.from_array(y, chunks=50), compute=True)
    ref = c.withgradient(w, X, y)
    assert grads[1:] == (None, None)
    close(val, ref.val)
    close(grads[0], ref.grad[0])


def test_pytree_parameter_gives_a_delayed_gradient():
    c = zs.compile(lambda p, t, y: np.sum((p["a"] * np.exp(-p["b"] * t) - y) ** 2), wrt=0)
    p = {"a": 1.5, "b": 0.9}
    g = zd.gradient(c, p, da.from_array(T, chunks=100), da.from_array(Y, chunks=100))[0]
    ref = c.gradient(p, T, Y)[0]
    got = g.compute()
    close([got["a"], got["b"]], [ref["a"], ref["b"]])


@pytest.mark.parametrize("f, match", [
    (lambda th, t, y: np.sum(model(th, t) - y) ** 2, "Pow of the data"),
    (lambda th, t, y: np.max((model(th, t) - y) ** 2), "Max of the data"),
    (lambda th, t, y: np.sum((model(th, t) - y / np.max(y)) ** 2), "Max mixes the rows"),
    (lambda th, t, y: np.sum((model(th, t) - y) ** 2) + t[0] * th[0], "Index of the data"),
    (lambda th, t, y: np.sum((model(th, t) - y) ** 2) * len(t), "number of rows"),
    (lambda th, t, y: np.sum((model(th, t) - y) ** 2) if t[0] > 0 else 0.0, "branches on"),
    (lambda th, t, y: mean_loss(th, t, y) + np.sum(th ** 2), "regularizer"),
    (lambda th, t, y: np.mean(t) + np.sum(y), "a sum and a mean"),
    (lambda th, t, y: np.sum(np.cumsum(t) * th[0]), "Cumsum mixes the rows"),
])
def test_a_loss_that_is_not_a_sum_over_rows_is_refused(f, match):
    c = zs.compile(f)
    with pytest.raises(zd.ChunkedLossError, match=match):
        zd.withgradient(c, THETA, da.from_array(T, chunks=100), da.from_array(Y, chunks=100))


def test_refused_arguments():
    td = da.from_array(T, chunks=100)
    with pytest.raises(TypeError, match="compiled function"):
        zd.withgradient(sum_loss, THETA, td, td)
    with pytest.raises(TypeError, match="inside a container"):
        zd.withgradient(zs.compile(lambda p: np.sum(p[0])), (td,))
    with pytest.raises(ValueError, match="share their first axis"):
        zd.withgradient(zs.compile(sum_loss), THETA, td, td[:10])


def test_a_vector_output_is_refused():
    td = da.from_array(T, chunks=100)
    with pytest.raises(ValueError, match="do not broadcast together"):
        zd.gradient(zs.compile(model), THETA, td)
    with pytest.raises(zs.NonScalarOutputError):
        zd.gradient(zs.compile(lambda t: t - np.mean(t)), td)


def test_is_dask():
    assert zd.is_dask((1.0, da.zeros(3)))
    assert not zd.is_dask((1.0, np.zeros(3), [da.zeros(3)]))


def test_a_compiled_function_travels_as_f_and_is_compiled_once_per_process():
    c = zs.compile(sum_loss, wrt=0)
    shipped = zd._ship(c)
    back = pickle.loads(pickle.dumps(shipped))
    assert back.compiled is not c and back.compiled.wrt == (0,)
    assert pickle.loads(pickle.dumps(shipped)).compiled is back.compiled
    close(back(THETA, T, Y).grad[0], c.gradient(THETA, T, Y)[0])


@pytest.fixture(scope="module")
def client():
    # in-process workers talking TCP on loopback: every task is pickled as on a real cluster
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       protocol="tcp", host="127.0.0.1",
                                       dashboard_address=":0")  # (any free port)
    with cluster, distributed.Client(cluster) as c:
        yield c


def test_local_cluster_gradient_field_and_summed_loss(client):
    loss = zs.compile(ridge_loss, wrt=0)
    td, yd = da.from_array(T, chunks=75), da.from_array(Y, chunks=75)
    val, grads = zd.withgradient(loss, THETA, td, yd, compute=True)
    ref = loss.withgradient(THETA, T, Y)
    close(val, ref.val)
    close(grads[0], ref.grad[0])
    assert zd._ship(loss).token in zd._REBUILT  # it reached the workers by pickle

    field = zs.compile(lambda x, y: np.sin(x) * np.exp(-y ** 2))
    x = RNG.normal(size=2000)
    gx, gy = zd.gradient(field, da.from_array(x, chunks=300), 0.5)
    (gx, gy) = client.compute([gx, gy], sync=True)
    ref = field.gradient(x, np.full(2000, 0.5))
    close(gx, ref[0])
    close(gy, ref[1])


def test_docs_scale_md_examples_run():
    result = doctest.testfile(str(Path(__file__).resolve().parents[1] / "docs" / "scale.md"),
                              module_relative=False)
    assert result.failed == 0 and result.attempted >= 8


def test_compiled_gradient_with_dask_arguments_goes_blockwise():
    c = zs.compile(lambda x, y: np.sin(x) * np.exp(-y ** 2))
    x = RNG.normal(size=100)
    gx, gy = c.gradient(da.from_array(x, chunks=30), 0.2)
    assert isinstance(gx, da.Array) and gx.chunks == ((30, 30, 30, 10),)
    close(gx.compute(), c.gradient(x, np.full(100, 0.2))[0])
    loss = zs.compile(sum_loss)
    val = loss(THETA, da.from_array(T, chunks=100), da.from_array(Y, chunks=100))
    close(val.compute(), loss(THETA, T, Y))
