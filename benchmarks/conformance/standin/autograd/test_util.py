"""autograd.test_util, mirroring autograd 1.9.1's semantics, with every
individual gradient check recorded instead of stopping the test.

autograd's check_grads(f, modes, order)(x):
  for mode in modes:            ('fwd' -> check_jvp, 'rev' -> check_vjp)
      check f at x in that mode                       <- one check, order = depth
      if order > 1: grad_f(x, v) = JVP (fwd) or VJP (rev) of f at x along v
                    check_grads(grad_f, (0, 1), modes, order - 1)(x, v)
So order=2 with both modes is 6 checks: 2 at order 1, 4 at order 2 (each
mode of each mode's derivative function).

Differences from autograd, all for measuring rather than testing:
* a failing check is recorded and the test goes on (autograd raises at the
  first failure); the pytest plugin fails the test afterwards if any check
  failed, so every check of every test runs whatever fails before it.
* the numerical side (f at x, random directions, finite differences) is
  computed before the system under test, drawing the same random vectors in
  the same order as autograd does in a passing run, so the inputs of later
  checks do not depend on earlier failures.
* if the derivative function of an order-2 block cannot even be set up
  (f itself fails at x), the checks of that block are recorded as failed.
* each check is limited to ZS_CONF_CHECK_TIMEOUT seconds of CPU time.
* in tests that wrap check_grads in `pytest.raises` ("strict" tests, found by
  the plugin from the test's source), check_grads raises its first failure
  at the end, as autograd would; their checks are marked expected_failure
  and left out of the totals.
"""
import time
from itertools import product

import numpy as np

from . import _conformance as conf
from .core import ADAPTED, make_jvp, make_vjp, vspace
from .wrap_util import get_name, unary_to_nary

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def scalar_close(a, b):
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


class CheckMismatch(AssertionError):
    """The analytic derivative disagrees with the numerical one."""


def make_numerical_jvp(f, x, y=None):
    y = f(x) if y is None else y
    x_vs, y_vs = vspace(x), vspace(y)

    def jvp(v):
        # (f(x + v*eps/2) - f(x - v*eps/2)) / eps
        f_x_plus = f(x_vs.add(x, x_vs.scalar_mul(v, EPS / 2)))
        f_x_minus = f(x_vs.add(x, x_vs.scalar_mul(v, -EPS / 2)))
        neg_f_x_minus = y_vs.scalar_mul(f_x_minus, -1.0)
        return y_vs.scalar_mul(y_vs.add(f_x_plus, neg_f_x_minus), 1.0 / EPS)

    return jvp


def _has_complex(value):
    if isinstance(value, dict):
        return any(_has_complex(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_complex(v) for v in value)
    try:
        return bool(np.iscomplexobj(value))
    except Exception:
        return False


def _describe(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_describe(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    shape = np.shape(value)
    kind = "c" if _has_complex(value) else "r"
    return f"{kind}{list(shape)}" if shape else f"{kind}scalar"


def check_vjp(f, x, info=None):
    info = {} if info is None else info
    y = f(x)
    info["cout"] = _has_complex(y)
    jvp = make_numerical_jvp(f, x, y)
    x_vs, y_vs = vspace(x), vspace(y)
    x_v, y_v = x_vs.randn(), y_vs.randn()
    vjv_numeric = y_vs.inner_prod(y_v, jvp(x_v))
    info["stage"] = "system"
    vjp, _ = make_vjp(f, x)
    vjp_y = x_vs.covector(vjp(y_vs.covector(y_v)))
    if not vspace(vjp_y) == x_vs:
        raise CheckMismatch(f"VSpace mismatch (VJP): analytic {vspace(vjp_y)}, input {x_vs}")
    vjv_exact = x_vs.inner_prod(x_v, vjp_y)
    if not scalar_close(vjv_numeric, vjv_exact):
        raise CheckMismatch(
            "Derivative (VJP) check of {} failed with arg {}:\nanalytic: {}\nnumeric:  {}".format(
                get_name(f), x, vjv_exact, vjv_numeric))


def check_jvp(f, x, info=None):
    info = {} if info is None else info
    y = f(x)
    info["cout"] = _has_complex(y)
    jvp_numeric = make_numerical_jvp(f, x, y)
    x_v = vspace(x).randn()
    numeric = jvp_numeric(x_v)
    num_vs = vspace(numeric)
    v = num_vs.randn()  # the direction check_equivalent draws
    info["stage"] = "system"
    analytic = make_jvp(f, x)(x_v)[1]
    if not vspace(analytic) == num_vs:
        raise CheckMismatch(f"VSpace mismatch (JVP): analytic {vspace(analytic)}, "
                            f"numeric {num_vs}")
    if not scalar_close(num_vs.inner_prod(analytic, v), num_vs.inner_prod(numeric, v)):
        raise CheckMismatch(
            "Derivative (JVP) check of {} failed with arg {}:\nanalytic: {}\nnumeric:  {}".format(
                get_name(f), x, analytic, numeric))


def check_equivalent(x, y):
    x_vs, y_vs = vspace(x), vspace(y)
    assert x_vs == y_vs, f"VSpace mismatch:\nx: {x_vs}\ny: {y_vs}"
    v = x_vs.randn()
    assert scalar_close(x_vs.inner_prod(x, v), x_vs.inner_prod(y, v)), \
        f"Value mismatch:\nx: {x}\ny: {y}"


def _run_check(mode, f, x, depth, path, modes, order):
    info = {"stage": "reference"}
    adapted_before = dict(ADAPTED)
    t0 = time.perf_counter()
    exc = None
    try:
        with conf.cpu_timeout():
            (check_jvp if mode == "fwd" else check_vjp)(f, x, info)
    except conf.TestTimeout as e:
        _record(mode, f, x, depth, path, info, e, time.perf_counter() - t0)
        raise
    except (Exception, conf.CheckTimeout) as e:  # noqa: B902 - every failure is a result
        exc = e
    info["adapted"] = sorted(k for k, n in ADAPTED.items() if n != adapted_before[k])
    _record(mode, f, x, depth, path, info, exc, time.perf_counter() - t0)


def _record(mode, f, x, depth, path, info, exc, seconds, unrun=False):
    rec = {"type": "check", "order": depth, "mode": mode, "path": path + mode,
           "fname": get_name(f), "args": _describe(x)[:200], "cin": _has_complex(x),
           "cout": info.get("cout"), "passed": exc is None, "stage": info.get("stage"),
           "seconds": round(seconds, 4), "unrun": unrun}
    if info.get("adapted"):
        rec["adapted"] = info["adapted"]
    if conf.state.get("strict"):
        rec["expected_failure"] = True
    if exc is not None:
        rec.update(conf.exc_info_fields(exc))
        conf.state["failed"].append(rec)
        conf.state.setdefault("exceptions", []).append(exc)
    conf.state["checks"] += 1
    conf.record(**rec)


def _record_unrun(modes, order, depth, path, x, exc):
    """The checks an order-(>1) block would have run, failed because its
    derivative function could not be set up."""
    for mode in modes:
        _record(mode, None, x, depth, path, {"stage": "setup"}, exc, 0.0, unrun=True)
        if order > 1:
            _record_unrun(modes, order - 1, depth + 1, f"{path}{mode}>", x, exc)


def _nary(f, name):
    def unary_f(xv):
        return f(*xv)
    unary_f.__name__ = name
    return unary_f


def _check_grads(f, x, modes, order, depth, path):
    if "fwd" in modes:
        _run_check("fwd", f, x, depth, path, modes, order)
        if order > 1:
            try:
                grad_f = lambda x, v: make_jvp(f, x)(v)[1]  # noqa: E731
                v = vspace(x).randn()
            except Exception as e:
                _record_unrun(modes, order - 1, depth + 1, f"{path}fwd>", x, e)
            else:
                _check_grads(_nary(grad_f, f"jvp_{get_name(f)}"), (x, v), modes, order - 1,
                             depth + 1, f"{path}fwd>")
    if "rev" in modes:
        _run_check("rev", f, x, depth, path, modes, order)
        if order > 1:
            try:
                grad_f = lambda x, v: make_vjp(f, x)[0](v)  # noqa: E731
                with conf.cpu_timeout():
                    v = vspace(f(x)).randn()
            except (Exception, conf.CheckTimeout) as e:
                _record_unrun(modes, order - 1, depth + 1, f"{path}rev>", x, e)
            else:
                _check_grads(_nary(grad_f, f"vjp_{get_name(f)}"), (x, v), modes, order - 1,
                             depth + 1, f"{path}rev>")


@unary_to_nary
def check_grads(f, x, modes=["fwd", "rev"], order=2):
    assert all(m in ["fwd", "rev"] for m in modes)
    before = len(conf.state["failed"])
    _check_grads(f, x, modes, order, 1, "")
    if conf.state.get("strict") and len(conf.state["failed"]) > before:
        # The test wraps check_grads in pytest.raises: behave as autograd does
        # and raise the first failure (its checks are not counted in totals).
        raise conf.state["exceptions"][before]


def combo_check(fun, *args, **kwargs):
    # Tests all combinations of args and kwargs given.
    _check_grads_ = lambda f: check_grads(f, *args, **kwargs)  # noqa: E731

    def _combo_check(*args, **kwargs):
        kwarg_key_vals = [[(k, x) for x in xs] for k, xs in kwargs.items()]
        for _args in product(*args):
            for _kwargs in product(*kwarg_key_vals):
                _check_grads_(fun)(*_args, **dict(_kwargs))

    return _combo_check
