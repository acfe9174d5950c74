"""Closed forms for people: the DAG and its gradient as ordinary SymPy in the
user's names (index notation for arrays), under a size budget, shown as
text, LaTeX and offline HTML.  `derive` is the entry point."""
from .derivation import Derivation, derive

__all__ = ["Derivation", "derive"]
