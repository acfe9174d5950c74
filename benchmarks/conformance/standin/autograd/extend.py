"""Stand-in for autograd.extend.  Custom rules (defvjp, defjvp...) raise
NotImplementedError: zygote_sym has no public API for them."""
from .core import (SparseObject, VSpace, def_linear, defjvp, defjvp_argnum, defjvp_argnums,  # noqa
                   defvjp, defvjp_argnum, defvjp_argnums, notrace_primitive, primitive, vspace)
from .tracer import Box  # noqa
