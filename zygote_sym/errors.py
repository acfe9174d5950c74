"""The errors zygote_sym raises, each naming the operation and the fix."""


class TracerConversionError(TypeError):
    """A traced value was turned into a plain number, which would drop its
    gradient (`float(x)`, `math.sin(x)`, `np.asarray(x, float)`)."""


class SymbolicBranchError(TypeError):
    """Python control flow (`if`, `while`, `bool`, `int`) met a value that is
    purely symbolic, so there is no concrete value to decide on."""


class NoRuleError(NotImplementedError):
    """An operation reached a tracer for which zygote_sym has no rule."""


class KernelError(RuntimeError):
    """A generated kernel failed on inputs its function accepts: a fault in
    zygote_sym's code generation (the cause is chained)."""


class RandomDrawError(TypeError):
    """compile(f) met a random draw inside f: a kernel would repeat it."""


class NonScalarOutputError(TypeError):
    """`gradient`/`withgradient` got a function whose output is not a scalar."""
