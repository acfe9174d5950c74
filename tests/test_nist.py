"""SciPy integration (zygote_sym.optimize) and the NIST StRD fits (issue 4)."""
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize

import zygote_sym as zs
from test_fused import each_backend  # noqa: F401 (a fixture: the compiled fits on both backends)
from test_optimize import traces  # noqa: F401 (a fixture: kernels traced so far)
from zygote_sym.cli import nist
from zygote_sym.cli.main import main

DATA = Path(__file__).resolve().parent.parent / "examples" / "data" / "nist_strd"
NAMES = ["Misra1a", "Thurber", "MGH09", "Rat43", "Eckerle4", "BoxBOD"]


@pytest.fixture(scope="module", params=NAMES)
def ds(request):
    return nist.parse(DATA / f"{request.param}.dat")


# --- NIST StRD -------------------------------------------------------------

@pytest.mark.parametrize("start", [1, 2])
def test_compiled_jacobian_fit_agrees_with_certified(ds, start, each_backend):
    # The premise: SciPy's own finite-difference fit agrees (true for all
    # 13 NIST files with '2-point'/trf); the compiled Jacobian must as well.
    assert nist.agree(nist.fit(ds, start, jac="2-point"), ds.certified, digits=4)
    res = nist.fit(ds, start, full_output=True)          # jac="zygote_sym"
    assert res.success
    assert nist.agree(res.x, ds.certified, digits=4), nist.lre(res.x, ds.certified)
    rss = nist.sse(res.x, ds.x, ds.y, nist.MODELS[ds.name])
    assert rss == pytest.approx(ds.rss_certified, rel=1e-6)


def test_compiled_residual_jacobian_matches_central_differences(ds, each_backend):
    model = nist.MODELS[ds.name]
    fun, jac, b0, unflatten = zs.optimize.residuals(nist.residuals, ds.certified,
                                                    ds.x, ds.y, model)
    b = ds.certified
    J = jac(b)
    assert J.shape == (len(ds.x), ds.n_params)
    np.testing.assert_array_equal(fun(b), model(b, ds.x) - ds.y)
    for j in range(ds.n_params):
        h = 1e-6 * abs(b[j])
        e = np.zeros_like(b)
        e[j] = h
        fd = (model(b + e, ds.x) - model(b - e, ds.x)) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_parse_and_header_model(ds):
    assert ds.x.shape == ds.y.shape and ds.x.ndim == 1
    assert ds.start1.shape == ds.start2.shape == ds.certified.shape == (ds.n_params,)
    header_model = nist.model_from_text(ds.model_text)
    np.testing.assert_allclose(header_model(ds.certified, ds.x),
                               nist.MODELS[ds.name](ds.certified, ds.x), rtol=1e-13)


def test_misra1a_header_values():
    d = nist.parse(DATA / "Misra1a.dat")
    assert d.name == "Misra1a" and len(d.x) == 14 and d.model_text == "b1*(1-exp[-b2*x])"
    np.testing.assert_array_equal(d.start1, [500, 1e-4])
    np.testing.assert_array_equal(d.certified, [2.3894212918e02, 5.5015643181e-04])
    assert d.rss_certified == 1.2455138894e-01
    assert (d.x[0], d.y[0]) == (77.6, 10.07)


def test_model_from_text_refuses_anything_but_arithmetic():
    for bad in ["__import__('os').system('true')", "x.real", "b1*y", "open(x)", "x[0]"]:
        with pytest.raises(ValueError):
            nist.model_from_text(bad)
    m = nist.model_from_text("b1 - b2*x - arctan[b3/(x-b4)]/pi")
    assert m.n_params == 4
    assert m(np.array([1.0, 0.0, 0.0, 1.0]), np.array([2.0])) == pytest.approx([1.0])


def test_parse_errors(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_text("not a NIST file\n")
    with pytest.raises(ValueError, match="bad.dat: no 'Data"):
        nist.parse(bad)


# --- the command line --------------------------------------------------------

def test_fit_command_prints_fits_beside_certified(capsys):
    assert main(["fit", str(DATA / "Misra1a.dat")]) == 0
    out = capsys.readouterr().out
    assert "Start 1 fit" in out and "Start 2 fit" in out and "certified" in out
    assert "2.3894212918E+02" in out and "5.5015643181E-04" in out     # certified b1, b2
    assert out.count("agrees with the certified parameters to 4 significant digits") == 2
    assert "compiled zygote_sym residual Jacobian" in out


def test_fit_command_reads_the_model_of_an_unknown_file(tmp_path, capsys):
    text = (DATA / "Eckerle4.dat").read_text().replace("Eckerle4", "MyProblem")
    path = tmp_path / "MyProblem.dat"
    path.write_text(text)
    assert main(["fit", str(path), "--jac", "2-point"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MyProblem: y = (b1/b2) * exp[-0.5*((x-b3)/b2)**2]")
    assert out.count("agrees with") == 2 and "finite differences (2-point)" in out


def test_fit_command_errors(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        main(["fit", str(tmp_path / "missing.dat")])
    (tmp_path / "x.dat").write_text("hello\n")
    with pytest.raises(SystemExit, match="is this a NIST"):
        main(["fit", str(tmp_path / "x.dat")])


# --- zygote_sym.optimize --------------------------------------------------------

def test_objective_minimize_on_a_pytree_reaches_the_known_minimum(traces):
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    target = np.array([1.0, -1.0])

    def loss(p, A, target):
        r = A @ p["w"] - target
        return 0.5 * np.sum(r**2) + (p["s"] - 2.0)**2 + 0.1 * p["s"] * np.sum(p["w"])

    params = {"w": np.zeros(2), "s": 0.0, "tag": "static"}
    fun, x0, unflatten = zs.optimize.objective(loss, params, A, target)
    np.testing.assert_array_equal(x0, [0.0, 0.0, 0.0])
    v, g = fun(x0)
    ref = zs.gradient(loss, params, A, target)[0]
    assert v == pytest.approx(loss(params, A, target))
    np.testing.assert_allclose(g, [*ref["w"], ref["s"]])

    traced = traces()
    res = scipy.optimize.minimize(fun, x0, jac=True, method="BFGS", options={"gtol": 1e-10})
    assert res.success and res.nit > 3
    p = unflatten(res.x)
    # stationarity: A^T (A w - t) + 0.1 s 1 = 0,  2 (s - 2) + 0.1 sum(w) = 0 (linear)
    K = np.block([[A.T @ A, 0.1 * np.ones((2, 1))], [0.1 * np.ones((1, 2)), 2 * np.ones((1, 1))]])
    exact = np.linalg.solve(K, np.r_[A.T @ target, 4.0])
    np.testing.assert_allclose(res.x, exact, rtol=1e-7)
    assert set(p) == {"w", "s", "tag"} and p["tag"] == "static"
    assert type(p["s"]) is float and p["w"].shape == (2,) and p["w"].dtype == np.float64
    assert traced >= 1 and traces() == traced  # every iteration ran the cached kernel only


def test_residuals_on_a_pytree_match_zs_jacobian():
    def res(p, t):
        a, k = p["amp"], p["k"]
        return a[:, None] * np.exp(-k * t) - np.sin(t)     # (2, 5) residuals

    params = {"amp": np.array([1.0, 2.0]), "k": 0.3}
    t = np.linspace(0, 1, 5)
    fun, jac, x0, unflatten = zs.optimize.residuals(res, params, t)
    x = x0 + 0.1
    J = jac(x)
    ref = zs.jacobian(res, unflatten(x), t)[0]
    assert fun(x).shape == (10,) and J.shape == (10, 3)
    np.testing.assert_allclose(J[:, :2], ref["amp"].reshape(10, 2))
    np.testing.assert_allclose(J[:, 2], ref["k"].reshape(10))
    fit = scipy.optimize.least_squares(fun, x0, jac=jac)
    assert fit.cost < 0.5 * np.sum(fun(x0)**2)


def test_residual_columns_of_unused_leaves_are_zero():
    fun, jac, x0, _ = zs.optimize.residuals(lambda p, t: p[0] * t, (2.0, np.ones(3)),
                                            np.arange(4.0))
    J = jac(x0)
    assert J.shape == (4, 4)
    np.testing.assert_array_equal(J[:, 0], np.arange(4.0))
    np.testing.assert_array_equal(J[:, 1:], 0.0)


def test_ravel_round_trip_and_errors():
    x0, unflatten = zs.optimize.ravel((np.arange(6).reshape(2, 3), 1, [np.array(2.5)]))
    np.testing.assert_array_equal(x0, [0, 1, 2, 3, 4, 5, 1, 2.5])
    m, one, (z,) = unflatten(x0)
    assert m.shape == (2, 3) and m.dtype == np.float64 and type(one) is float
    assert isinstance(z, np.ndarray) and z.shape == ()
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        unflatten(np.zeros(7))
    with pytest.raises(ValueError, match="no numeric leaves"):
        zs.optimize.ravel({"name": "x"})
    # complex leaves ravel as their real parts, then their imaginary parts
    z0, unz = zs.optimize.ravel({"z": np.array([1 + 2j, 3 - 1j]), "a": 0.5})
    np.testing.assert_array_equal(z0, [1, 3, 2, -1, 0.5])
    np.testing.assert_array_equal(unz(z0)["z"], [1 + 2j, 3 - 1j])
    fun, x0, _ = zs.optimize.objective(lambda p: p * np.ones(2), np.array([1.0, 2.0]))
    with pytest.raises(zs.NonScalarOutputError):
        fun(x0)
    fun, jac, x0, _ = zs.optimize.residuals(lambda p: (p, p), 1.0)
    with pytest.raises(TypeError, match="one NumPy array"):
        fun(x0)
