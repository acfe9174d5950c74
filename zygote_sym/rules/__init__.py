"""Pullback rules, one table per op family."""
