"""Stand-in for HIPS autograd whose derivatives are computed by zygote_sym.

Used only by benchmarks/conformance/run.py to run autograd 1.9.1's own test
suite against zygote_sym.  `autograd.numpy` is plain NumPy and
`autograd.scipy` plain SciPy: the functions the tests call receive
zygote_sym's traced values directly.
"""
from .builtins import dict, isinstance, list, tuple, type  # noqa: A004
from .core import primitive_with_deprecation_warnings as primitive  # noqa
from .differential_operators import (  # noqa
    checkpoint,
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    holomorphic_grad,
    jacobian,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
)

STANDIN = "zygote_sym"
