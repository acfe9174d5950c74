"""Differentiation: the backward pass (backward.py) and its rules (rules/)."""
