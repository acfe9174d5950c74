"""pandas and xarray objects as arguments and as captured data (issue 14;
zygote_sym/arraylike.py, docs/arrays.md "pandas, xarray and other array
types").  Values are checked against the plain-NumPy gradient of the same f
or central finite differences; labels against the input's."""
import numpy as np
import pytest

import zygote_sym as zs

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")


def cube_sum(x):
    return np.sum(x**3 - np.sin(x))


def cube_sum_grad(v):
    return 3 * v**2 - np.cos(v)


def fd(f, a, h=1e-6):
    """Central finite difference of scalar f at the float a."""
    return (f(a + h) - f(a - h)) / (2 * h)


def every_gradient(f, *args):
    """The gradients of every entry point that returns one per argument."""
    return {"gradient": zs.gradient(f, *args), "withgradient": zs.withgradient(f, *args).grad,
            "jacobian": zs.jacobian(f, *args), "compile": zs.compile(f).gradient(*args)}


# ------------------------------------------------------------ arguments
def test_a_series_argument_gives_a_series_gradient_with_its_index_and_name():
    s = pd.Series([0.5, -1.0, 2.0], index=["a", "b", "c"], name="w")
    for how, (g,) in every_gradient(cube_sum, s).items():
        assert isinstance(g, pd.Series), how
        pd.testing.assert_index_equal(g.index, s.index)
        assert g.name == "w"
        np.testing.assert_allclose(g.to_numpy(), cube_sum_grad(s.to_numpy()), rtol=1e-14,
                                   err_msg=how)
    assert zs.withgradient(cube_sum, s).val == pytest.approx(cube_sum(s.to_numpy()), rel=1e-15)


def test_a_compiled_function_gives_each_call_its_own_index():
    c = zs.compile(cube_sum)
    s = pd.Series([0.5, -1.0, 2.0], index=["a", "b", "c"])
    (g1,), (g2,) = c.gradient(s), c.gradient(s.set_axis(["x", "y", "z"]))
    assert list(g1.index) == ["a", "b", "c"] and list(g2.index) == ["x", "y", "z"]
    np.testing.assert_array_equal(g1.to_numpy(), g2.to_numpy())
    for index in (["a", "b", "c"], ["p", "q", "r"]):  # zs.gradient reuses kernels too
        (g,) = zs.gradient(cube_sum, s.set_axis(index))
        assert list(g.index) == index


def test_a_numeric_dataframe_argument_is_its_2d_values_inside_f():
    df = pd.DataFrame({"t": [0.0, 1.0, 2.0], "n": [1, 2, 3]}, index=[10, 20, 30])

    def f(d):  # inside f a DataFrame argument is its float array: columns by position
        return np.sum(d[:, 0] ** 2 * d[:, 1])

    for how, (g,) in every_gradient(f, df).items():
        assert isinstance(g, pd.DataFrame), how
        pd.testing.assert_index_equal(g.index, df.index)
        pd.testing.assert_index_equal(g.columns, df.columns)
        v = df.to_numpy(float)
        np.testing.assert_array_equal(g.to_numpy(), np.stack([2 * v[:, 0] * v[:, 1],
                                                              v[:, 0] ** 2], 1), err_msg=how)


def test_a_dataframe_with_non_numeric_columns_is_refused_naming_them():
    df = pd.DataFrame({"t": [0.0, 1.0], "site": ["x", "y"]})
    with pytest.raises(TypeError, match=r"df is a pandas DataFrame with non-numeric columns "
                                        r"\['site'\].*select_dtypes\('number'\)"):
        zs.gradient(lambda df: np.sum(df), df)
    (g,) = zs.gradient(lambda d: np.sum(d**2), df.select_dtypes("number"))
    assert list(g.columns) == ["t"] and list(g["t"]) == [0.0, 2.0]


@pytest.mark.parametrize("values, dtype", [(["a", "b"], None), ([1.0, None], "Float64"),
                                           ([True, False], None)])
def test_a_series_that_is_not_float_data_is_refused(values, dtype):
    with pytest.raises(TypeError, match=r"x is a pandas Series of dtype .*x.astype\(float\)"):
        zs.gradient(lambda x: np.sum(x), pd.Series(values, dtype=dtype))


def test_a_narrow_integer_series_follows_numpys_integer_policy():
    with pytest.raises(TypeError, match="x is an integer array of dtype int32"):
        zs.gradient(lambda x: np.sum(x * x), pd.Series([1, 2], dtype=np.int32))


def test_a_dataarray_argument_gives_a_dataarray_with_its_dims_coords_name_attrs():
    da = xr.DataArray(np.array([[0.5, 1.0, -2.0], [0.25, 3.0, 1.5]]), dims=("y", "x"),
                      coords={"y": [1, 2], "x": [10.0, 20.0, 30.0], "lab": ("x", list("abc"))},
                      name="T", attrs={"units": "K"})
    for how, (g,) in every_gradient(cube_sum, da).items():
        assert isinstance(g, xr.DataArray), how
        assert g.dims == da.dims and g.name == "T" and g.attrs == {"units": "K"}
        xr.testing.assert_identical(g.coords.to_dataset(), da.coords.to_dataset())
        np.testing.assert_allclose(g.values, cube_sum_grad(da.values), rtol=1e-14, err_msg=how)


def test_a_jacobian_block_of_another_shape_is_a_numpy_array():
    """d(x**2)/dx of a Series is (n, n): no index fits it both ways (JAX's shape)."""
    s = pd.Series([1.0, 2.0, 3.0], index=list("abc"))
    (J,) = zs.jacobian(lambda x: x**2, s)
    assert type(J) is np.ndarray
    np.testing.assert_array_equal(J, np.diag([2.0, 4.0, 6.0]))


def test_dask_arrays_and_datasets_are_refused_by_the_eager_api():
    da = pytest.importorskip("dask.array")
    x = da.ones(4, chunks=2)
    for run in (lambda: zs.gradient(cube_sum, x), lambda: zs.withgradient(cube_sum, x),
                lambda: zs.jacobian(cube_sum, x)):
        with pytest.raises(TypeError, match=r"x is a Dask array.*x.compute\(\) or "
                                            r"np.asarray\(x\)"):
            run()
    ds = xr.Dataset({"a": ("x", [1.0, 2.0])})
    with pytest.raises(TypeError, match=r"x is an xarray Dataset.*x\[k\] for k in x.data_vars"):
        zs.gradient(lambda x: np.sum(x["a"]), ds)


# ------------------------------------------------------------ captured data
df = pd.DataFrame({"t": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 2.5, 4.0, 6.5]},
                  index=pd.date_range("2026-01-01", periods=4))


def loss_column(a):
    return np.sum((a * df["t"] - df["y"]) ** 2)


def loss_values(a):
    return np.sum((a * df.t.values - df.y.to_numpy()) ** 2)


def test_captured_dataframe_columns_are_constants():
    t, y = df["t"].to_numpy(), df["y"].to_numpy()
    want = 2 * np.sum((0.7 * t - y) * t)
    assert want == pytest.approx(fd(loss_column, 0.7), rel=1e-7)
    for loss in (loss_column, loss_values):
        assert zs.gradient(loss, 0.7)[0] == pytest.approx(want, rel=1e-14)
        assert zs.compile(loss).gradient(0.7)[0] == pytest.approx(want, rel=1e-14)


def test_a_series_in_a_closure_and_a_dataframe_operand():
    s = df["y"]
    frame = df[["t", "y"]]
    (g,) = zs.gradient(lambda w: np.sum(np.exp(w * s)), 0.1)
    assert g == pytest.approx(np.sum(s.to_numpy() * np.exp(0.1 * s.to_numpy())), rel=1e-14)
    (g,) = zs.gradient(lambda w: np.sum(w @ frame.T), np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, frame.to_numpy().sum(0), rtol=1e-15)


def test_a_compiled_loss_sees_the_captured_frame_change():
    local = df.copy()

    def loss(a):
        return np.sum((a * local["t"] - local["y"]) ** 2)
    c = zs.compile(loss)
    assert c.gradient(1.0)[0] == pytest.approx(fd(loss, 1.0), rel=1e-7)
    local["y"] = [0.0, 1.0, 1.0, 2.0]  # in place: the same DataFrame object
    assert c.gradient(1.0)[0] == pytest.approx(fd(loss, 1.0), rel=1e-7)
    assert zs.gradient(loss, 1.0)[0] == pytest.approx(fd(loss, 1.0), rel=1e-7)


def test_np_isnan_and_np_where_on_a_captured_dataarray():
    obs = xr.DataArray([1.0, np.nan, 4.0, 6.5], dims="time",
                       coords={"time": [0.0, 1.0, 2.0, 3.0]})
    t, y = obs["time"].values, obs.values
    ok = ~np.isnan(y)

    def loss(a):  # the masked entries computed NaN-free, then selected
        r = a * obs["time"] - np.where(np.isnan(obs), 0.0, obs)
        return np.sum(np.where(np.isnan(obs), 0.0, r**2))

    def loss_masked(a):
        return np.sum((a * t[~np.isnan(obs)] - obs.values[ok]) ** 2)

    want = 2 * np.sum((1.5 * t[ok] - y[ok]) * t[ok])
    assert want == pytest.approx(fd(loss, 1.5), rel=1e-7)
    for f in (loss, loss_masked):
        assert zs.gradient(f, 1.5)[0] == pytest.approx(want, rel=1e-14)
        assert zs.compile(f).gradient(1.5)[0] == pytest.approx(want, rel=1e-14)


def test_a_captured_series_must_align_with_a_series_argument():
    w = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    x = pd.Series([0.5, 0.25, 2.0], index=["a", "b", "c"])
    (g,) = zs.gradient(lambda x: np.sum(x * w), x)
    assert list(g.index) == ["a", "b", "c"] and list(g) == [1.0, 2.0, 3.0]
    # pandas would align by label: x * w would be NaN at "a" and "z", not positional
    shuffled = x.set_axis(["z", "b", "c"])
    assert np.isnan((shuffled * w)["a"])
    with pytest.raises(TypeError, match="pandas would align them by label.*reindex_like"):
        zs.gradient(lambda x: np.sum(x * w), shuffled)


def test_two_captured_series_with_other_indexes_are_refused():
    """pandas aligns `a*s1 + s2` by label (three entries, two NaN); by
    position the trace would give two numbers."""
    s1 = pd.Series([1.0, 2.0], index=["a", "b"])
    s2 = pd.Series([3.0, 4.0], index=["b", "c"])
    assert list(np.isnan(s1 + s2)) == [True, False, True]
    with pytest.raises(TypeError, match="from the captured pandas.Series with other labels"):
        zs.gradient(lambda a: np.sum(a * s1 + s2), 1.0)
    assert zs.gradient(lambda a: np.sum(a * s1 + s2.to_numpy()), 1.0) == (3.0,)
    frame = pd.DataFrame([[1.0, 2.0]], columns=["a", "b"])  # s1's index meets its columns
    assert zs.gradient(lambda a: np.sum(a * s1 * frame), 2.0) == (5.0,)


def test_a_captured_dask_array_meeting_a_traced_value_is_named():
    dask_array = pytest.importorskip("dask.array")
    d = dask_array.ones(4, chunks=2)
    with pytest.raises(TypeError, match=r"a captured dask.array.Array meets a traced value.*"
                                        r"np.asarray"):
        zs.gradient(lambda a: np.sum(a * d), 1.0)


def test_a_captured_dataarray_must_have_the_argument_dims():
    a = xr.DataArray(np.ones((2, 2)), dims=("x", "y"))
    b = xr.DataArray(np.array([[1.0, 2.0], [3.0, 4.0]]), dims=("y", "x"))
    with pytest.raises(TypeError, match="xarray would align them by label"):
        zs.gradient(lambda a: np.sum(a * b), a)
    (g,) = zs.gradient(lambda a: np.sum(a * b.transpose("x", "y")), a)
    assert g.dims == ("x", "y")
    np.testing.assert_array_equal(g.values, (a * b).values)


def test_a_dataarray_left_of_a_traced_value_is_named():
    da = xr.DataArray([1.0, 2.0], dims="x")
    with pytest.raises(TypeError, match=r"reached xarray's own arithmetic.*x \* da"):
        zs.gradient(lambda a: np.sum(da * a), 1.0)
    assert zs.gradient(lambda a: np.sum(a * da), 1.0) == (3.0,)


def test_a_captured_series_left_of_a_traced_value():  # Tracer.__pandas_priority__
    assert zs.gradient(lambda a: np.sum(df["t"] * a + np.multiply(df["y"], a)), 1.0) == (
        pytest.approx(np.sum(df.to_numpy())),)
