"""autograd's differential operators, computed by zygote_sym's public API.

grad / value_and_grad -> zygote_sym.withgradient (zygote_sym.pullback for
size-1 non-scalar outputs, which autograd's grad accepts); jacobian ->
zygote_sym.jacobian; hessian -> zygote_sym.hessian; everything else is built
from make_vjp / make_jvp (core.py) the way autograd builds it, so operators
that autograd defines by nesting (make_hvp, hessian_tensor_product,
make_ggnvp...) nest zygote_sym calls as well.
"""
import inspect
import warnings
from collections import OrderedDict

import numpy as np

import zygote_sym

from .core import _Nested, _is_tracer, as_like
from .core import make_jvp as _make_jvp
from .core import make_vjp as _make_vjp
from .core import vspace
from .wrap_util import unary_to_nary

make_vjp = unary_to_nary(_make_vjp)
make_jvp = unary_to_nary(_make_jvp)


def _is_complex(value):
    if _is_tracer(value):
        return np.dtype(getattr(value, "dtype", None) or np.float64).kind == "c"
    return np.iscomplexobj(value)


_SCALAR_MSG = ("Grad only applies to real scalar-output functions. "
               "Try jacobian, elementwise_grad or holomorphic_grad.")


def _value_and_grad(fun, x, name):
    try:
        with _Nested(x):
            ans, grads = zygote_sym.withgradient(fun, x)
    except zygote_sym.NonScalarOutputError:
        # autograd's grad accepts any output of size 1 (e.g. shape (1, 1)).
        vjp, ans = _make_vjp(fun, x)
        if not vspace(ans).size == 1:
            raise TypeError(_SCALAR_MSG.replace("Grad", name))
        return ans, vjp(vspace(ans).ones())
    if _is_complex(ans):
        raise TypeError(_SCALAR_MSG.replace("Grad", name))
    with _Nested(x):
        return ans, as_like(grads[0], x)


@unary_to_nary
def grad(fun, x):
    """
    Returns a function which computes the gradient of `fun` with respect to
    positional argument number `argnum`. The returned function takes the same
    arguments as `fun`, but returns the gradient instead. The function `fun`
    should be scalar-valued. The gradient has the same type as the argument."""
    return _value_and_grad(fun, x, "Grad")[1]


@unary_to_nary
def value_and_grad(fun, x):
    """Returns a function that returns both value and gradient."""
    return _value_and_grad(fun, x, "value_and_grad")


@unary_to_nary
def elementwise_grad(fun, x):
    """Sum of each column of the Jacobian of `fun`, in one pass."""
    vjp, ans = _make_vjp(fun, x)
    if vspace(ans).iscomplex:
        raise TypeError("Elementwise_grad only applies to real-output functions.")
    return vjp(vspace(ans).ones())


@unary_to_nary
def deriv(fun, x):
    return _make_jvp(fun, x)(vspace(x).ones())[1]


@unary_to_nary
def jacobian(fun, x):
    """Jacobian of `fun` (shape: output shape + input shape), by zygote_sym.jacobian."""
    with _Nested(x):
        jac = zygote_sym.jacobian(fun, x)[0]
    if jac is None:
        out_shape = tuple(np.shape(fun(x)))
        return np.zeros(out_shape + tuple(np.shape(x)))
    return jac


@unary_to_nary
def holomorphic_grad(fun, x):
    if not vspace(x).iscomplex:
        warnings.warn("Input to holomorphic_grad is not complex")
    return grad(lambda x: np.real(fun(x)))(x)


def grad_named(fun, argname):
    """Takes gradients with respect to a named argument."""
    arg_index = inspect.getfullargspec(fun).args.index(argname)
    return grad(fun, arg_index)


@unary_to_nary
def hessian(fun, x):
    """Exact Hessian: zygote_sym.hessian for scalar outputs, else autograd's
    jacobian(jacobian(fun)) (nested)."""
    try:
        with _Nested(x):
            return zygote_sym.hessian(fun, x)
    except zygote_sym.NonScalarOutputError:
        return jacobian(jacobian(fun))(x)


@unary_to_nary
def make_hvp(fun, x):
    return _make_vjp(grad(fun), x)


def hessian_tensor_product(fun, argnum=0):
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return np.tensordot(fun_grad(*args, **kwargs), vector, np.ndim(vector))

    return grad(vector_dot_grad, argnum)


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun, argnum=0):
    def vector_dot_fun(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return np.tensordot(vector, fun(*args, **kwargs), axes=np.ndim(vector))

    return jacobian(vector_dot_fun, argnum)


vector_jacobian_product = tensor_jacobian_product


@unary_to_nary
def make_jvp_reversemode(fun, x):
    vjp, y = _make_vjp(fun, x)
    vjp_vjp, _ = _make_vjp(vjp, vspace(y).zeros())
    return vjp_vjp


def make_ggnvp(f, g=lambda x: 1.0 / 2 * np.sum(x**2, axis=-1), f_argnum=0):
    @unary_to_nary
    def _make_ggnvp(f, x):
        f_vjp, f_x = _make_vjp(f, x)
        g_hvp, grad_g_x = _make_vjp(grad(g), f_x)
        f_jvp, _ = _make_vjp(f_vjp, vspace(grad_g_x).zeros())

        def ggnvp(v):
            return f_vjp(g_hvp(f_jvp(v)))

        return ggnvp

    return _make_ggnvp(f, f_argnum)


@unary_to_nary
def grad_and_aux(fun, x):
    vjp, (ans, aux) = _make_vjp(lambda x: tuple(fun(x)), x)
    return vjp((vspace(ans).ones(), vspace(aux).zeros())), aux


def multigrad_dict(fun):
    sig = inspect.signature(fun)
    names = list(sig.parameters)

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        argdict = OrderedDict(bound.arguments)
        newfun = lambda dct: fun(**dct)
        grad_dict = grad(newfun)(dict(argdict))
        return OrderedDict((name, grad_dict[name]) for name in names)

    return gradfun


def checkpoint(fun):
    """Checkpointing only trades memory for time; values and derivatives are
    those of fun itself."""
    return fun
