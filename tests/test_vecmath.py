"""codegen/vecmath.py: vectorised float64 sin/cos within 1 ulp of the
correctly rounded value (mpmath at 160 bits is the reference), libm's value
bit for bit where the fast path hands over (NaN, +-inf, |x| > BOUND, points
within _TINY of a multiple of pi/2), and NumPy's shapes."""
import re
import threading

import numpy as np
import pytest
import sympy as sp

pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")

from zygote_sym.codegen import fused_jit, vecmath  # noqa: E402

def _rng():
    return np.random.default_rng(7)


def _hard_points():
    """Random points over the ranges, and the doubles nearest to k*pi/4
    (k even: a small reduced argument r, the reduction's hard case; k odd:
    |r| ~ pi/4, where the quadrant changes), with their neighbours."""
    rng = _rng()
    k = rng.integers(-667_000, 667_000, 150)
    with mpmath.workprec(160):
        near = [float(int(j) * mpmath.pi / 4) for j in np.concatenate([k, np.arange(-60, 61)])]
    near = np.array(near)
    return np.concatenate([
        rng.uniform(-1, 1, 400), rng.uniform(-100, 100, 400),
        rng.uniform(-vecmath.BOUND, vecmath.BOUND, 400),
        near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf),
        [2.0**-30, -1e-8, 0.785398163397448, 2.0**20 - 1], NEAR_HALF_PI,
    ])


@mpmath.workprec(160)
def _ulps(got, x, fn):
    """|got - fn(x)| in ulps of the exact value (mpmath at 160 bits)."""
    out = []
    for xi, gi in zip(x.tolist(), got.tolist()):
        exact = fn(mpmath.mpf(xi))
        if exact == 0:
            out.append(0.0 if gi == 0 else np.inf)
            continue
        e = max(int(mpmath.floor(mpmath.log(abs(exact), 2))), -1022)
        out.append(float(abs(mpmath.mpf(gi) - exact) / mpmath.mpf(2) ** (e - 52)))
    return np.array(out)


@pytest.mark.parametrize("ours, exact", [(vecmath.sin, mpmath.sin), (vecmath.cos, mpmath.cos)],
                         ids=["sin", "cos"])
def test_within_one_ulp_of_mpmath(ours, exact):
    x = _hard_points()
    err = _ulps(ours(x), x, exact)
    assert err.max() <= 1.0, x[np.argmax(err)]
    assert np.mean(err > 0.5) < 0.1  # mostly correctly rounded, as fdlibm is


SPECIAL = np.array([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, -1e-310, 1e-300,
                    -2.0**-27, np.inf, -np.inf, np.nan, np.pi, -np.pi / 2, np.pi / 4,
                    2.0**20, -2.0**20, np.nextafter(2.0**20, np.inf), 3e6, -1e22, 1e300,
                    1.7976931348623157e308, 6381956970095103.0 * 2.0**797])


@pytest.mark.parametrize("ours, ref", [(vecmath.sin, np.sin), (vecmath.cos, np.cos)])
def test_special_points_and_beyond_the_bound_are_numpys_exactly(ours, ref):
    """Signed zeros, subnormals, +-inf -> NaN, NaN, huge arguments (the
    libm pass: without it these are NaN), and points beyond BOUND."""
    rng = _rng()
    x = np.concatenate([SPECIAL, rng.uniform(vecmath.BOUND, 1e12, 200) * rng.choice([-1, 1], 200)])
    with np.errstate(invalid="ignore"):
        want = ref(x)
    got = ours(x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


# Doubles nearest to q*pi/2 (q = 263205, 526410, 58285) where the fast path
# alone is 1.06, 1.06 and 0.60 ulp off (cos, sin, cos; found by searching all
# q <= 667544 for the smallest |r|, measured with the _TINY rule switched off).
NEAR_HALF_PI = [413441.44719405076, 826882.8943881015, 91553.86390724055]


@mpmath.workprec(160)
def test_points_within_tiny_of_multiples_of_half_pi_are_libms():
    """Doubles nearest to k*pi/2 whose reduced argument is below _TINY: the
    fast path hands them to libm (without the _TINY rule, the first two are
    1.06 ulp off)."""
    x = np.array([float(k * mpmath.pi / 2) for k in range(1, 40)] + NEAR_HALF_PI)
    r = [abs(mpmath.mpf(v) - mpmath.nint(mpmath.mpf(v) / (mpmath.pi / 2)) * mpmath.pi / 2) for v in x]
    assert max(r) < vecmath._TINY
    np.testing.assert_array_equal(vecmath.sin(x), np.sin(x))
    np.testing.assert_array_equal(vecmath.cos(x), np.cos(x))


def test_compiled_loop_is_the_ieee_arithmetic_of_the_kernel():
    """No reassociation or contraction: the compiled loop gives the pure
    Python kernel's (IEEE double) values bit for bit."""
    rng = _rng()
    x = np.concatenate([rng.uniform(-10, 10, 300), rng.uniform(-vecmath.BOUND, vecmath.BOUND, 300)])
    python = np.array([vecmath._sincos1(v)[:2] for v in x.tolist()])
    s, c = vecmath.sincos(x)
    np.testing.assert_array_equal(s, python[:, 0])
    np.testing.assert_array_equal(c, python[:, 1])
    np.testing.assert_array_equal(s, vecmath.sin(x))
    np.testing.assert_array_equal(c, vecmath.cos(x))


def test_the_loop_vectorises_8_wide_on_avx512_and_leaves_llvm_as_it_was():
    """LLVM turns the first pass into SIMD (vectors of doubles in its IR), 8
    lanes where the host has AVX-512; the forced width is reset afterwards
    (a loop compiled after is as wide as one compiled before)."""
    import llvmlite.binding

    vecmath._loop("sin")  # sets the inlined kernel
    numba = fused_jit.numba
    sig = (numba.types.Array(numba.types.float64, 1, "C", readonly=True),)

    def width(fn, sig=sig):
        ir = numba.njit(sig, error_model="numpy")(fn).inspect_llvm(sig)
        return max((int(w) for w in re.findall(r"<(\d+) x double>", ir)), default=1)

    def double(x):
        out = np.empty(x.size)
        for i in range(x.size):
            out[i] = 2.0 * x[i]
        return out

    before = width(double)
    with vecmath._eight_lanes(numba):
        forced = width(vecmath._sin_loop, sig + (numba.types.Array(numba.types.float64, 1, "C"),))
    assert width(double) == before
    avx512 = llvmlite.binding.get_host_cpu_features().get("avx512f")
    assert forced == 8 if avx512 and numba.config.CPU_NAME is None else forced >= 2


def test_shapes_read_only_empty_and_errors():
    ro = np.linspace(-3, 3, 12).reshape(3, 4)
    ro.flags.writeable = False
    np.testing.assert_allclose(vecmath.sin(ro), np.sin(ro), rtol=3e-16, atol=0)
    assert vecmath.sin(ro).shape == (3, 4)
    strided = np.arange(20.0)[::3]
    np.testing.assert_allclose(vecmath.cos(strided), np.cos(strided), rtol=3e-16, atol=1e-17)
    assert vecmath.sin(np.empty(0)).shape == (0,)
    s, c = vecmath.sincos(np.empty((0, 2)))
    assert s.shape == c.shape == (0, 2)
    assert type(vecmath.cos(2.0)) is np.float64 and vecmath.cos(2.0) == np.cos(2.0)
    with pytest.raises(TypeError, match="dtype float32.*astype"):
        vecmath.sin(np.ones(3, np.float32))


def test_threads_share_nothing():
    x = _rng().uniform(-50, 50, 200_000)
    want = vecmath.sin(x)
    got = [None] * 4

    def run(i):
        got[i] = vecmath.sin(x)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_between_loops_table():
    assert vecmath.BETWEEN_LOOPS[sp.sin] is vecmath.sin
    assert vecmath.BETWEEN_LOOPS[sp.cos] is vecmath.cos


def test_prepare_compiles_ahead_and_names_the_loops():
    vecmath.prepare()
    assert set(vecmath._compiled) == {"sin", "cos", "sincos"}
    with pytest.raises(ValueError, match="'tan'.*sin, cos, sincos"):
        vecmath.prepare(("tan",))
