"""zygote_sym: differentiate ordinary Python through SymPy, run it as generated code.

>>> import zygote_sym as zs
>>> zs.gradient(lambda a, b: a*b, 2, 3)
(3.0, 2.0)
"""
from importlib.metadata import PackageNotFoundError, version as _metadata_version

from .api import (Buffer, Derivation, TraceView, checkpointed, derive, diaghessian, dropgrad,
                  forwarddiff, gradient, hessian, hessian_reverse, hvp, ignore_derivatives,
                  jacobian, jvp, make_trace, pullback, stop_gradient, withgradient,
                  withjacobian)
from .compiled import Compiled, compile
from .custom import custom_jvp, custom_vjp, hook
from .params import Grads, Params
from .errors import (KernelError, NoRuleError, NonScalarOutputError, RandomDrawError,
                     SymbolicBranchError, TracerConversionError)
from .pytree import Tangent, register_pytree
from .transform import WithGradient
from . import dask, integrate, optimize  # noqa: F401  (integrate registers odeint/solve_ivp)

try:  # the installed distribution's version, so it cannot drift from pyproject.toml
    __version__ = _metadata_version("zygote_sym")
except PackageNotFoundError:  # imported from a source tree that was never `pip install`ed
    __version__ = "0+unknown"

__all__ = ["gradient", "withgradient", "pullback", "jacobian", "hessian", "diaghessian", "derive",
           "stop_gradient", "make_trace", "TraceView", "compile", "jvp", "hvp", "withjacobian",
           "Buffer", "forwarddiff", "checkpointed", "ignore_derivatives", "dropgrad",
           "hessian_reverse", "custom_vjp", "custom_jvp", "hook", "Compiled", "Params", "Grads", "Derivation",
           "WithGradient", "Tangent", "register_pytree", "TracerConversionError",
           "SymbolicBranchError", "NoRuleError", "KernelError", "RandomDrawError", "NonScalarOutputError", "optimize", "dask"]
