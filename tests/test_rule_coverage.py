"""Every rule of the registries has a test case.

A derivative rule is exercised when its node class appears in the traced
function of a case that is checked against finite differences: the primal
DAGs of tests/test_elementary.py and tests/test_arrays.py (first order), and
the gradient DAGs of tests/test_arrays.py (differentiated again by its
second-order test).  A NumPy handler is exercised when a case calls it.
Add a case there when this test names a rule."""
import pytest

import test_arrays
import test_elementary
import zygote_sym as zs
from zygote_sym.ad.backward import grad
from zygote_sym.ad.rules import VJPS
from zygote_sym.ir.nodes import postorder
from zygote_sym.trace import dispatch
from zygote_sym.trace.call import trace_call


# rules whose derivative is not the function's own (so not checked against
# finite differences by the tables above): (f, args, the gradient)
EXACT = [
    (lambda x: x * zs.stop_gradient(x) ** 2, (3.0,), (9.0,)),
]


@pytest.mark.parametrize("f, args, want", EXACT)
def test_exact_cases(f, args, want):
    assert zs.gradient(f, *args) == want


def _args(point):
    return point if isinstance(point, tuple) else (point,)


def _cases():
    """(f, args, second order?) for every case of both tables."""
    for _, f, point in test_elementary.CASES:
        yield f, _args(point), False
    for f, x in test_arrays.CASES.values():
        yield f, (x,), True
    for f, args, _ in EXACT:
        yield f, args, False


def _classes_reached():
    seen = set()
    for f, args, second in _cases():
        traced = trace_call(f, args)
        roots = list(traced.out_exprs)
        if second:
            roots += [gr for gr in grad(roots[0], traced.leaves, traced.shapes) if gr is not None]
        seen.update(type(n) for n in postorder(roots))
    return seen


def _handlers_called(table):
    """The entries of a dispatch table that some case calls, by handler: one
    handler serves aliases (np.max, np.amax), one call covers them all."""
    called = set()

    def recording(key, handler):
        def run(*args, **kwargs):
            called.add(handler)
            return handler(*args, **kwargs)
        return run
    original = dict(table)
    table.update({key: recording(key, handler) for key, handler in original.items()})
    try:
        for f, args, _ in _cases():
            trace_call(f, args)
    finally:
        table.update(original)
    return {key for key, handler in original.items() if handler in called}


def test_every_derivative_rule_has_a_case():
    # (a custom_vjp/custom_jvp function registers its own rule: users' rules
    # are tested by their users, the mechanism in tests/test_custom_rules.py)
    reached = _classes_reached()
    missing = sorted(cls.__name__ for cls in VJPS
                     if cls not in reached and not hasattr(cls, "custom_name"))
    assert not missing, f"derivative rules no case exercises: {missing}"


@pytest.mark.parametrize("table", ["UFUNCS", "HANDLERS", "REDUCERS"])
def test_every_numpy_handler_has_a_case(table):
    entries = getattr(dispatch, table)
    called = _handlers_called(entries)
    missing = sorted(dispatch.public_name(f) for f in entries if f not in called)
    assert not missing, f"{table} entries no case calls: {missing}"
