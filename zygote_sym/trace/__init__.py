"""Tracing: run Python on tracers and collect the SymPy DAG.

call.py (`trace_call`), tracer.py (Tracer, Trace, Guard), complex.py (complex
values as pairs of real tracers), dispatch.py (ONE registry of NumPy/Python
operations on tracers) and its handlers/, library.py (library functions that
convert with np.asarray, and their proxies), capture.py/places.py (the state
a function reaches through closures and globals, and its places), shadow.py
(copies of the holders on the path to a substituted value), impure.py
(random-draw and clock watches).  Knows nothing of code generation or
differentiation.
"""
