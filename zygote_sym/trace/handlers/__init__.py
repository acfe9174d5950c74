"""Handlers of NumPy calls on tracers, one module per family; dispatch.py
merges their tables."""
