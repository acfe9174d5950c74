"""zygote_sym: differentiate ordinary Python through SymPy, run it as generated code.

>>> import zygote_sym as zs
>>> zs.gradient(lambda a, b: a*b, 2, 3)
(3.0, 2.0)
"""
from .api import (Derivation, WithGradient, derive, diaghessian, gradient, hessian, jacobian,
                  pullback, stop_gradient, withgradient)
from .compiled import Compiled, compile
from .params import Grads, Params
from .errors import NoRuleError, NonScalarOutputError, SymbolicBranchError, TracerConversionError
from .pytree import Tangent, register_pytree
from . import optimize

__all__ = ["gradient", "withgradient", "pullback", "jacobian", "hessian", "diaghessian", "derive",
           "stop_gradient", "compile", "Compiled", "Params", "Grads", "Derivation",
           "WithGradient", "Tangent", "register_pytree", "TracerConversionError",
           "SymbolicBranchError", "NoRuleError", "NonScalarOutputError", "optimize"]
