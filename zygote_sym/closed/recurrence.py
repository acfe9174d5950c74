"""Loops as recurrences: a let-bound form whose lines repeat one update with
a shifted variable (`t_m = G(t_{m'})`, t_{m'} the chain's line before, the
same G for MIN_RUN lines or more; lines that belong to no chain, such as the
chunks of an accumulated sum, may come between) is shown as
`y_{j+1} = G(y_j)` for `j = 0…N-1`, and the gradient as the tangent
recurrence `dy_dθ_{j+1} = G_y(y_j) dy_dθ_j + G_θ(y_j)` (forward
mode over the rows, by `sympy.diff` of each row: the chain rule, row by
row), as a person writes an explicit-Euler loop and its sensitivity.

Only scalar loops of one variable fold (a coupled update of two variables,
`x, v = x + dt*v, v - dt*k*x`, repeats two interleaved lines: it stays
let-bound), and only for scalar arguments.

Names: the sequence takes the name of the user's variable that carries it
(closed/variables.py finds it by its values; `vx` in a flight loop), else
the first of y, u, z, w no one uses; the index j, k, m, ... likewise
(`reserved`: every name in the user's code and the trace's leaves).
"""
from typing import Optional

import numpy as np
import sympy as sp

from .forms import person

MIN_RUN = 8  # fewer repeats read well enough as lines
INDEX_NAMES = ("j", "k", "m", "p", "q", "r", "s")  # the loop index: the first not in use
_Y = sp.Dummy("Y")


class Tangent(sp.Symbol):
    """∂u/∂θ: the identifier `du_dθ` in text (str and lambdify read it), a
    fraction in LaTeX."""

    def __new__(cls, of, wrt):
        obj = sp.Symbol.__new__(cls, f"d{of}_d{wrt}", real=True)
        obj.of, obj.wrt = of, wrt
        return obj

    def _latex(self, printer):
        return r"\frac{\partial %s}{\partial %s}" % (printer._print(sp.Symbol(self.of)),
                                                     printer._print(self.wrt))


class Recurrence:
    """`value_rows` then `tangent_rows`: (lhs, rhs) pairs, each defined once
    in order; `loops` maps the lhs of a loop row to (j, first, last): the row
    holds for j = first…last.  `value` is f, `gradient` maps each
    differentiated symbol to ∂f/∂θ; `note` says what was folded; `carried`
    is the IndexedBase of the loop-carried sequence."""

    def __init__(self, value_rows, value, loops, note, carried):
        self.value_rows, self.value, self.loops, self.note = value_rows, value, loops, note
        self.carried = carried
        self.tangent_rows, self.gradient = [], {}
        self.sizes = {lhs.base: loop[2] + 2 for lhs, loop in loops.items()}  # y_0…y_N

    def evaluate(self, env, compile_expr):
        """∂f/∂θ per differentiated symbol at the values `env` (symbol ->
        value), every row computed by `compile_expr(args, expr)` (SymPy's
        lambdify), the loops run j = first…last."""
        env = self._run(self.value_rows + self.tangent_rows, dict(env), compile_expr)
        return {theta: float(compile_expr(list(env), e)(*env.values()))
                for theta, e in self.gradient.items()}

    def sequence(self, env, compile_expr):
        """The values y_0…y_N of the loop-carried sequence at `env`."""
        return list(self._run(self.value_rows, dict(env), compile_expr)[self.carried])

    def _run(self, rows, env, compile_expr):
        for lhs, rhs in rows:
            loop = self.loops.get(lhs)
            if isinstance(lhs, sp.Indexed) and lhs.base not in env:
                env[lhs.base] = np.zeros(self.sizes[lhs.base])
            if loop is None:
                v = float(compile_expr(list(env), rhs)(*env.values()))
                if isinstance(lhs, sp.Indexed):
                    env[lhs.base][int(lhs.indices[0])] = v
                else:
                    env[lhs] = v
                continue
            j, first, last = loop
            fn, args = compile_expr(list(env) + [j], rhs), list(env.values())
            out = env[lhs.base]  # filled in place: the next step reads it
            for k in range(first, last + 1):
                out[k + 1] = float(fn(*args, k))
        return env

    def rename(self, name):
        """The sequence called `name` (the user's variable that carries it)
        in the value rows, before :meth:`differentiate`."""
        new = sp.IndexedBase(name, real=True)
        swap = {self.carried: new}
        self.value_rows = [(lhs.xreplace(swap), rhs.xreplace(swap))
                           for lhs, rhs in self.value_rows]
        self.loops = {lhs.xreplace(swap): loop for lhs, loop in self.loops.items()}
        self.sizes = {swap.get(b, b): size for b, size in self.sizes.items()}
        self.value = self.value.xreplace(swap)
        self.note = self.note.replace(f"{self.carried.name}_{{", f"{name}_{{")
        self.carried = new

    def differentiate(self, wrt):
        """The tangent rows and gradient for each Symbol in `wrt`."""
        for theta in wrt:
            _tangents(self, theta)


def fold(lines: list[tuple[sp.Basic, sp.Expr]], value: sp.Expr,
         reserved: set[str]) -> Optional["Recurrence"]:
    """A :class:`Recurrence` for the let-bound `lines` [(t_k, definition)] and
    the value expression (its value rows: call `differentiate` for the
    tangent rows), its sequence and index named apart from every name in
    `reserved` (the user's names, those of the trace's leaves); None when no MIN_RUN lines repeat one update of the line before in the
    chain (other lines may come between: an accumulated sum cut into chunks)."""
    temps = [lhs for lhs, _ in lines]
    defs = [d for _, d in lines] + [value]
    if not temps or not all(isinstance(t, sp.Symbol) for t in temps) \
            or not all(isinstance(d, sp.Expr) for d in defs):
        return None
    pos = {t: k for k, t in enumerate(temps)}
    g, chain = _longest_chain(temps, defs, pos)
    if len(chain) - 1 < MIN_RUN:
        return None
    a, last = chain[0], len(temps)  # (position len(temps) is f itself)
    if any(pos[s] >= a for s in g.free_symbols if s in pos):
        return None  # the update reads a line defined after the loop starts
    y = sp.IndexedBase(_fresh(("y", "u", "z", "w"), reserved), real=True)
    j = sp.Symbol(_fresh(INDEX_NAMES, reserved | {y.name}), integer=True)
    n = len(chain) - 1
    sub = {temps[q]: y[k] for k, q in enumerate(chain) if q < last}
    rows = [(temps[q], defs[q]) for q in range(a)]
    rows += [(y[0], defs[a]), (y[j + 1], g.xreplace({_Y: y[j]}))]
    rows += [(temps[q], defs[q].xreplace(sub)) for q in range(a + 1, last) if q not in chain]
    rows, value = _inline_small(rows, y[n] if chain[-1] == last else value.xreplace(sub))
    note = (f"{n} repeated updates folded into the recurrence "
            f"{y.name}_{{{j}+1}} = …, {j} = 0…{n - 1}, with its derivative recurrence")
    return Recurrence(rows, value, {y[j + 1]: (j, 0, n - 1)}, note, y)


def _longest_chain(temps, defs, pos):
    """(G, line positions) of the longest chain of lines each `G(previous
    line in the chain)`, one G for the chain; (None, []) if there is none."""
    chains = {}  # last position -> (G, positions)
    for m in range(1, len(defs)):
        refs = sorted((pos[s] for s in defs[m].free_symbols if s in pos), reverse=True)
        fresh = None
        for q in refs:
            g = defs[m].xreplace({temps[q]: _Y})
            before = chains.get(q)
            if before is not None and before[0] == g:
                chains[m] = (g, before[1] + [m])
                break
            fresh = fresh or (g, [q, m])  # the latest line read: the loop variable, likely
        else:
            if fresh is not None:
                chains[m] = fresh
    return max(chains.values(), key=lambda c: len(c[1]), default=(None, []))


def _inline_small(rows, value):
    """Rows that are a symbol's negation or as small (`t_0 = -k`) written
    into the rows that read them: a person writes `-k y_j`, not `t_0 y_j`."""
    small, kept = {}, []
    for lhs, rhs in rows:
        rhs = rhs.xreplace(small)
        if isinstance(lhs, sp.Symbol) and sp.count_ops(rhs) <= 2:
            small[lhs] = rhs
        else:
            kept.append((lhs, rhs))
    return kept, value.xreplace(small)


def _fresh(candidates, reserved):
    return next((c for c in candidates if c not in reserved),
                next(f"{candidates[0]}_{k}" for k in range(1, 1000)
                     if f"{candidates[0]}_{k}" not in reserved))


def _tangents(rec, theta):
    """Forward mode over the value rows: each row's tangent with respect to
    `theta` (the chain rule through the symbols and loop variables it reads)."""
    d, rows = {}, []

    def tangent(expr):
        terms = [sp.diff(expr, theta)]
        terms += [sp.diff(expr, s) * d[s] for s in expr.free_symbols
                  if isinstance(s, sp.Symbol) and s in d]
        terms += [sp.diff(expr, x) * d[x.base][x.indices] for x in expr.atoms(sp.Indexed)
                  if x.base in d]
        return person(sp.Add(*terms), simplify=False)

    for lhs, rhs in rec.value_rows:
        t = tangent(rhs)
        if isinstance(lhs, sp.Indexed):
            base = d.setdefault(lhs.base,
                                sp.IndexedBase(Tangent(lhs.base.name, theta), real=True))
            dlhs = base[lhs.indices]
            if lhs in rec.loops:
                rec.loops[dlhs] = rec.loops[lhs]
            rec.sizes[base] = rec.sizes[lhs.base]
            rows.append((dlhs, t))
        elif t == 0:
            d[lhs] = sp.S.Zero
        else:
            d[lhs] = Tangent(lhs.name, theta)
            rows.append((d[lhs], t))
    rec.tangent_rows += rows
    rec.gradient[theta] = tangent(rec.value)
