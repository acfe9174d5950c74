"""Names a person reads: symbols for the trace's leaves and lengths.

A leaf's path (`p['A']`, `θ['W']`, `a.x`, `p[0]`) becomes a symbol name
(`p_A`, `θ_W`, `a.x`, `p_0`); a captured global or closure variable is a
leaf already named after its variable (trace/call.py names captured arrays
by the place they were read from); an array computed inside f keeps the
trace's `c0`, `c1`, listed in the legend.  Each distinct axis length of the
inputs is a positive integer symbol (`n`, then `m`, `N`, ...; `n_x` once those
are taken), so sums read `Sum(..., (i, 0, n - 1))`; the legend gives their
values.
"""
import re

import numpy as np
import sympy as sp

LENGTH_NAMES = ("n", "m", "N", "M", "K", "L")
_ITEM = re.compile(r"\[\s*['\"]?([^\]'\"]*)['\"]?\s*\]")


def symbol_name(path):
    """`p['A']` -> `p_A`, `p[0]` -> `p_0`, `args[1]` -> `args_1`; dots stay (`a.x`)."""
    return _ITEM.sub(lambda m: "_" + m.group(1).strip().replace(" ", ""), path)


class Names:
    """Symbols for the leaves of one trace and for its axis lengths.

    `symbolic` maps a leaf to the user's own SymPy expression (fully
    symbolic mode), used as is; `renamed` maps a leaf to the name the user
    unpacked it into (closed/unpack.py); the lengths of `unlisted` leaves
    (vectors split into named elements) are not named; `used` are the
    names in the user's code (closed/variables.py): no name the library
    makes (lengths here; indices, temporaries, sequences from `reserved`)
    is one of them.
    """

    def __init__(self, leaves, consts, symbolic=None, renamed=None, unlisted=(), used=()):
        self.symbolic = dict(symbolic or {})
        self.leaves = list(leaves) + list(consts)
        self.consts = list(consts)
        self.names = {leaf: symbol_name(leaf.name) for leaf in self.leaves}
        self.names.update(renamed or {})
        taken = set(self.names.values()) | set(used)
        self.lengths = {}
        for leaf in self.leaves:
            for n in () if leaf in unlisted else leaf.shape:
                if n > 1 and n not in self.lengths:
                    name = next((c for c in LENGTH_NAMES if c not in taken),
                                f"n_{self.names[leaf]}")
                    taken.add(name)
                    self.lengths[n] = sp.Symbol(name, integer=True, positive=True)
        self.reserved = taken | {str(s) for e in self.symbolic.values()
                                 for s in getattr(e, "free_symbols", ())}
        self._bases = {}
        self.counts = {}  # numbers shown as counts: 1/200 -> 1/n (closed/indexed.per_count)

    def length(self, n):
        return self.lengths.get(n, sp.Integer(n))

    def base(self, leaf):
        """The Symbol (scalar) or IndexedBase (array) that stands for a leaf."""
        hit = self._bases.get(leaf)
        if hit is None:
            if leaf in self.symbolic:
                hit = self.symbolic[leaf]
            elif leaf.shape:
                hit = sp.IndexedBase(self.names[leaf], shape=tuple(map(self.length, leaf.shape)),
                                     real=True)
            else:
                hit = sp.Symbol(self.names[leaf], **leaf.assumptions0)
            self._bases[leaf] = hit
        return hit

    def element(self, leaf, idx):
        base = self.base(leaf)
        return base[idx] if leaf.shape else base

    def legend(self, const_values=None):
        """Lines that say what the library named: lengths and arrays made in f."""
        lines = [f"{s} = {n} (an axis length of the inputs)" for n, s in self.lengths.items()]
        for c in self.consts:
            if self.names[c].startswith("c") and self.names[c][1:].isdigit():
                v = None if const_values is None else const_values.get(c)
                what = f"an array of shape {c.shape} computed inside f"
                if v is not None and np.size(v) <= 6:
                    what += f": {np.asarray(v).tolist()}"
                lines.append(f"{self.names[c]} = {what}")
        return lines
