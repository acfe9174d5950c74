"""Tracing: run Python on tracers and collect the SymPy DAG.

call.py (`trace_call`), tracer.py (Tracer, Trace, Guard), dispatch.py (ONE
registry of NumPy/Python operations on tracers) and its handlers/, and
capture.py (the state a function reaches through closures and globals).
Knows nothing of code generation or differentiation.
"""
