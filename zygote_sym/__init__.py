"""zygote_sym: differentiate ordinary Python through SymPy, run it as generated code.

>>> import zygote_sym as zs
>>> zs.gradient(lambda a, b: a*b, 2, 3)
(3.0, 2.0)
"""
from .api import Derivation, WithGradient, derive, gradient, pullback, stop_gradient, withgradient
from .errors import NoRuleError, NonScalarOutputError, SymbolicBranchError, TracerConversionError
from .pytree import Tangent, register_pytree

__all__ = ["gradient", "withgradient", "pullback", "derive", "stop_gradient", "Derivation",
           "WithGradient", "Tangent", "register_pytree", "TracerConversionError",
           "SymbolicBranchError", "NoRuleError", "NonScalarOutputError"]
