"""Why each remaining failure cause of the conformance run fails: (a
substring of the cause, the reason), first match wins.  RESULTS.md shows
the reason beside each cause; a cause with none is shown as "?" (new:
investigate it)."""
WHY = [
    ("is complex; zygote_sym differentiates real values only",
     "complex numbers: counted separately; complex support is another engineer's work"),
    ("complex constant 1j", "complex numbers (a 1j in the function)"),
    ("NoRuleError: np.fft.", "complex output (FFT): complex support"),
    ("NoRuleError: np.real", "np.real/imag/conj/angle are routed to complex support "
                             "(trace/complex.py), which handles real values too"),
    ("NoRuleError: np.imag", "as np.real"),
    ("NoRuleError: np.conj", "as np.real"),
    ("NoRuleError: np.angle", "as np.real"),
    ("NoRuleError: np.linalg.eig", "a general real matrix has complex eigenvalues: complex"),
    ("in scipy.integrate", "odeint/solve_ivp: another engineer's registration"),
    ("np.asarray()/np.array() in numpy",
     "np.int64(x) of a traced array (NumPy's scalar types are not proxied: isinstance must "
     "keep working) and np.append of nested lists given as f itself (nothing of the user's "
     "holds it)"),
    ("np.asarray()/np.array() in test code", "np.int64(x) of a traced array (see above)"),
    ("timeout", "np.gradient of a 10x10x10 array: the second-order DAG is large; the shared "
                "2-core machine's CPU limit"),
]


def why(cause):
    return next((reason for key, reason in WHY if key in cause), "?")
