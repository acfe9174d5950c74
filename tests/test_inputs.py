"""Inputs zygote_sym would read differently from NumPy (issue 11): each is
either computed exactly as NumPy computes it or refused with a TypeError
naming the argument and the fix (docs/reliability.md, "Inputs").
"""
import dataclasses
import decimal
import fractions

import numpy as np
import pytest

import zygote_sym as zs


def sum_sq(x):
    return np.sum(x**2)


def all_entry_points(f, *args):
    """Every way a user hands arguments to zygote_sym."""
    return [lambda: zs.gradient(f, *args), lambda: zs.withgradient(f, *args),
            lambda: zs.jacobian(f, *args), lambda: zs.pullback(f, *args),
            lambda: zs.hessian(f, *args), lambda: zs.jvp(f, args, args),
            lambda: zs.compile(f).gradient(*args), lambda: zs.compile(f)(*args)]


def assert_refused(f, args, *words):
    """Every entry point raises a TypeError holding `words`; "x" in them may
    be "args[0]" (compile names arguments by position before it traces)."""
    for i, run in enumerate(all_entry_points(f, *args)):
        with pytest.raises(TypeError) as e:
            run()
        for w in words:
            assert w in str(e.value) or i >= 6 and w.replace("x", "args[0]", 1) in str(
                e.value), (w, str(e.value))


# ------------------------------------------------------------ masked arrays
def test_masked_arrays_are_refused_naming_the_fixes():
    """The issue's probe: NumPy gives 14 (the masked 4 left out); zygote_sym
    used to give 30 and a gradient for the masked entry."""
    m = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 0, 0, 1])
    assert sum_sq(m) == 14.0
    assert_refused(sum_sq, (m,), "x is a masked array", "x.filled(", "x.compressed()",
                   "np.where(mask")
    with pytest.raises(TypeError, match=r"p\['w'\] is a masked array"):
        zs.gradient(lambda p: np.sum(p["w"]), {"w": m})


def test_the_fixes_for_masked_arrays_give_numpys_values():
    m = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 0, 0, 1])
    val, (g,) = zs.withgradient(sum_sq, m.filled(0.0))
    assert val == 14.0
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0, 0.0])
    val, (g,) = zs.withgradient(lambda x: np.sum(np.where(m.mask, 0.0, x) ** 2), m.data)
    assert val == 14.0
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0, 0.0])
    val, (g,) = zs.withgradient(sum_sq, m.compressed())
    assert val == 14.0
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])


# ------------------------------------------------------------ array-likes
class Series:
    """A pandas-like object: its values only through __array__."""

    def __init__(self, values):
        self._values, self.name = np.asarray(values, dtype=float), "s"

    def __array__(self, dtype=None, copy=None):
        return self._values


def test_objects_that_are_arrays_through___array___are_refused():
    """They used to flatten into their attributes: an empty Tangent(), or
    `np.asarray` of the copy failing inside f."""
    s = Series([1.0, 2.0])
    assert sum_sq(np.asarray(s)) == 5.0
    assert_refused(lambda x: sum_sq(np.asarray(x)), (s,), "x has type Series",
                   "np.asarray(x, dtype=float)", "register_pytree")


def test_np_asarray_of_them_is_differentiated():
    val, (g,) = zs.withgradient(sum_sq, np.asarray(Series([1.0, 2.0])))
    assert val == 5.0
    np.testing.assert_array_equal(g, [2.0, 4.0])


def test_a_registered_array_like_is_a_pytree():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __array__(self, dtype=None, copy=None):
            return np.array([self.a, self.b])

    zs.register_pytree(Pair, lambda p: ([p.a, p.b], None), lambda aux, kids: Pair(*kids))
    (g,) = zs.gradient(lambda p: p.a * p.b ** 2, Pair(3.0, 2.0))
    assert isinstance(g, Pair) and (g.a, g.b) == (4.0, 12.0)


def test_a_dataclass_with___array___is_a_record_of_its_fields():
    @dataclasses.dataclass
    class Point:
        x: float
        y: float

        def __array__(self, dtype=None, copy=None):
            return np.array([self.x, self.y])

    (g,) = zs.gradient(lambda p: p.x * p.y, Point(3.0, 2.0))
    assert g == zs.Tangent(x=2.0, y=3.0)


def test_ndarray_subclasses_other_than_memmap_are_refused(tmp_path):
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(M * M) == 54.0  # matrix product, where an ndarray squares elementwise
    assert_refused(lambda x: np.sum(x * x), (M,), "x is an ndarray subclass (matrix)",
                   "np.asarray(x)")
    mm = np.memmap(tmp_path / "m.dat", dtype=float, mode="w+", shape=(2,))
    mm[:] = [1.0, 2.0]
    val, (g,) = zs.withgradient(sum_sq, mm)
    assert val == 5.0
    np.testing.assert_array_equal(g, [2.0, 4.0])


# ------------------------------------------------------------ integers
@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.int8, np.uint8, np.uint64])
def test_narrow_and_unsigned_integer_arrays_are_refused_as_arguments(dtype):
    x = np.array([100, 50, 3], dtype=dtype)
    assert_refused(lambda x: np.sum(x * x), (x,), f"x is an integer array of dtype "
                   f"{np.dtype(dtype).name}", "x.astype(float)", "close over it")


def test_the_wrap_around_that_made_integer_arrays_unsafe():
    """uint8 arithmetic wraps: NumPy's sum(x*x) is 80, the real value 50000.
    zygote_sym used to return 50000 as f's value; now the user chooses."""
    x = np.array([200, 100], dtype=np.uint8)
    assert np.sum(x * x) == 80
    val, (g,) = zs.withgradient(lambda x: np.sum(x * x), x.astype(float))
    assert val == 50000.0
    np.testing.assert_array_equal(g, [400.0, 200.0])


def test_int64_arrays_are_differentiated_as_floats():
    """NumPy's default integers (`np.array([1, 2, 3])`) wrap only beyond
    2**63; they are computed as float64, exact below 2**53."""
    x = np.array([1, 2, 3])
    val, (g,) = zs.withgradient(lambda x: np.sum(x**3 // 2), x)
    assert val == np.sum(x**3 // 2) == 17
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])  # floor: zero derivative
    (g,) = zs.gradient(lambda x: np.sum(x**2), x)
    assert g.dtype == float
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])
    assert zs.gradient(lambda x: x**2, np.int64(3)) == (6.0,)


def test_narrow_numpy_integer_scalars_are_refused_python_ints_are_floats():
    with pytest.raises(TypeError, match=r"x is a NumPy integer scalar of dtype int32.*"
                                        r"x.astype\(float\)"):
        zs.gradient(lambda x: x**2, np.int32(3))
    (g,) = zs.gradient(lambda x: x**2, 3)
    assert g == 6.0 and type(g) is float
    val, (gx, gy) = zs.withgradient(lambda x, y: x // y + x / y, 7, 2)
    assert val == 3 + 3.5 and (gx, gy) == (0.5, -1.75)


def test_python_ints_beyond_2_53_are_refused():
    with pytest.raises(TypeError, match=r"x is the int 9007199254740993, larger than 2\*\*53"):
        zs.gradient(lambda x: x * 2.0, 2**53 + 1)
    (g,) = zs.gradient(lambda x: x * 2.0, 2**53)
    assert g == 2.0


def test_integer_data_that_is_not_differentiated_works():
    """Closed over, in f's output (has_aux), in stop_gradient, as a cotangent."""
    labels = np.array([1, 0, 1])
    W = np.array([[0.5, 1.5], [2.0, -1.0], [0.25, 3.0]])
    (g,) = zs.gradient(lambda W: np.sum(W[np.arange(3), labels] ** 2), W)
    np.testing.assert_array_equal(g, [[0.0, 3.0], [4.0, 0.0], [0.0, 6.0]])
    (g,), aux = zs.gradient(lambda x: (np.sum(x**2), np.argmax(x)), np.array([1.0, 3.0]),
                            has_aux=True)
    np.testing.assert_array_equal(g, [2.0, 6.0])
    assert aux == 1
    (g,) = zs.gradient(lambda x: np.sum(zs.stop_gradient(np.array([1, 2])) * x), np.ones(2))
    np.testing.assert_array_equal(g, [1.0, 2.0])
    _, back = zs.pullback(lambda x: x**2, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(back(np.array([1, 2]))[0], [2.0, 8.0])


def test_bool_arrays_are_refused_as_arguments():
    with pytest.raises(TypeError, match="argument x is an array of dtype bool"):
        zs.gradient(lambda x: np.sum(x), np.array([True, False]))


# ------------------------------------------------------------ other numbers
def test_decimals_are_refused_fractions_are_exact():
    with pytest.raises(TypeError, match=r"x is a decimal.Decimal.*float\(x\).*"
                                        r"fractions.Fraction\(x\)"):
        zs.gradient(lambda x: x * 3, decimal.Decimal("0.1"))
    val, (g,) = zs.withgradient(lambda x: x * x * 3, fractions.Fraction(1, 10))
    assert g == fractions.Fraction(3, 5) and type(g) is fractions.Fraction
    assert val == 0.03  # (the value is returned as a float)


def test_a_fraction_beside_arrays_meets_numpy_as_a_float():
    """A NumPy kernel casts Python numbers to float64 on entry (np.sinh of a
    Fraction raised inside the kernel)."""
    s = fractions.Fraction(1, 3)
    x = np.array([0.5, 1.0])
    val, (gs, gx) = zs.withgradient(lambda s, x: np.sum(np.sinh(s) * x), s, x)
    assert val == pytest.approx(np.sinh(1 / 3) * 1.5, rel=1e-15)
    assert gs == pytest.approx(np.cosh(1 / 3) * 1.5, rel=1e-15)
    np.testing.assert_allclose(gx, np.sinh(1 / 3), rtol=1e-15)


def test_python_floats_in_numpy_kernels_follow_numpy_at_special_points():
    """inf where Python raises ZeroDivisionError or OverflowError."""
    with np.errstate(all="ignore"):
        assert zs.jacobian(lambda s: s**-2, -0.0) == (np.inf,)
        val, (g, _) = zs.withgradient(lambda s, x: (s**2) ** 3 + np.sum(np.cos(x)),
                                      -1.5e110, np.array([0.0]))
    assert val == np.inf and g == -np.inf


def test_float32_inputs_compute_as_numpy_and_return_float64():
    x = np.array([0.1, 0.2], np.float32)
    val, (g,) = zs.withgradient(lambda x: np.sum(np.sin(x) * x), x)
    assert val == pytest.approx(float(np.sum(np.sin(x) * x)), rel=1e-7)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-6)


def test_narrow_integers_made_inside_f_are_refused():
    # NumPy wraps uint8 around (200*200 % 256 == 64); the trace's arithmetic is exact,
    # so a value that becomes a narrow integer inside f would be silently wrong
    u8 = np.array([200, 100], dtype=np.uint8)
    assert np.sum(u8 + 3) == 306 and np.sum(np.array([250.0]).astype(np.uint8) ** 2) == 36
    for f, x in [(lambda x: np.sum(x.astype(np.uint8) ** 2), np.array([250.0])),
                 (lambda n: np.sum(u8 + n), 3)]:
        with pytest.raises(zs.TracerConversionError, match="uint8.*x.astype\\(float\\)"):
            zs.gradient(f, x)
    # a float result of narrow integer data is plain float arithmetic
    assert zs.gradient(lambda x: np.sum(u8 * x), 2.0) == (300.0,)


@pytest.mark.parametrize("call, message", [
    (lambda: zs.gradient(3.0, 1.0), "f is float 3.0, not a function"),
    (lambda: zs.compile(3), "f is int 3, not a function"),
    (lambda: zs.gradient(lambda x: None, 1.0), "gradient: f returned None"),
    (lambda: zs.Buffer(None), "Buffer\\(x\\): x is NoneType"),
])
def test_misuse_is_named(call, message):
    with pytest.raises((TypeError, zs.NonScalarOutputError), match=message):
        call()
