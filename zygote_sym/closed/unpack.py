"""Names from f's code: what the user unpacked an argument into (`A, k, c
= p` or `A = p[0]`), and the variables of captured arrays.

The trace sees only `p[0]`, `p[1]`, `p[2]`; the names are in f's bytecode,
read with the `dis` module (nothing is evaluated): an argument loaded, then
`UNPACK_SEQUENCE` and one `STORE_FAST` per element, or an argument loaded,
an integer constant, a subscript and a `STORE_FAST`.  A name stored more
than once in f is ambiguous and not used.

A vector argument read only through such elements is split: each element
becomes a scalar leaf of its unpacked name, so the gradient reads as rows
`∂f/∂A, ∂f/∂k, ∂f/∂c` (a person's form) rather than a sum of
`KroneckerDelta(i, 0)*...` terms.  A tuple argument's scalar leaves
(`p[0]`) just take the names.  A captured array the trace could not name
(`captured0`) takes the name of the closure variable or global of f that
holds it.
"""
import dis
import re
from typing import Any, Callable, Sequence

import sympy as sp

from ..ir.nodes import Leaf, postorder, substitute
from ..ir.ops import Index, parse_key

_LOADS = {"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF"}
_STORES = {"STORE_FAST", "STORE_DEREF", "STORE_FAST_STORE_FAST"}
_ELEMENT = re.compile(r"^(?P<arg>[^\[\]]+)\[(?P<k>-?\d+)\]$")  # a tuple leaf's path: p[0]


def unpacked_names(f: Callable[..., Any]) -> dict[str, dict[int, str]]:
    """{argument name: {element position: name}} from f's bytecode, e.g.
    `{'p': {0: 'A', 1: 'k', 2: 'c'}}` for `A, k, c = p`; {} when f has no
    readable bytecode (a builtin, a callable object) or no such pattern.

    >>> def model(p, t):
    ...     A, k, c = p
    ...     b = t[-1]
    ...     return A
    >>> unpacked_names(model)
    {'p': {0: 'A', 1: 'k', 2: 'c'}, 't': {-1: 'b'}}
    """
    code = getattr(f, "__code__", None)
    if code is None:
        return {}
    args = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    ins = [i for i in dis.get_instructions(code) if i.opname not in ("CACHE", "EXTENDED_ARG")]
    stored: dict[str, int] = {}
    for i in ins:
        if i.opname in _STORES:
            for name in _stored(i):
                stored[name] = stored.get(name, 0) + 1
    found: dict[str, dict[int, str]] = {}
    for a, b in zip(ins, ins[1:]):
        if a.opname not in _LOADS or a.argval not in args:
            continue
        at = ins.index(b)
        if b.opname == "UNPACK_SEQUENCE":
            count = int(b.arg or 0)
            targets = [n for s in ins[at + 1:at + 1 + count] if s.opname in _STORES
                       for n in _stored(s)][:count]
            if len(targets) == count:
                _add(found, a.argval, dict(enumerate(targets)), stored)
        elif b.opname == "LOAD_CONST" and type(b.argval) is int and at + 2 < len(ins):
            sub, store = ins[at + 1], ins[at + 2]
            if _is_subscript(sub) and store.opname in _STORES:
                _add(found, a.argval, {b.argval: _stored(store)[0]}, stored)
    return found


def _stored(instr):
    v = instr.argval
    return list(v) if isinstance(v, tuple) else [v]


def _is_subscript(instr):
    return instr.opname == "BINARY_SUBSCR" or (instr.opname == "BINARY_OP"
                                               and instr.argrepr == "[]")  # (3.14)


def _add(found, arg, names, stored):
    into = found.setdefault(arg, {})
    for k, name in names.items():
        if stored.get(name) == 1 and k not in into:
            into[k] = name


def tuple_names(leaves: Sequence[Leaf], unpacked: dict[str, dict[int, str]],
                taken: set[str]) -> dict[Leaf, str]:
    """{leaf: name} for scalar leaves `p[k]` of a tuple argument p unpacked
    into names (not in `taken`)."""
    out = {}
    for leaf in leaves:
        m = _ELEMENT.match(leaf.name)
        if m and not leaf.shape:
            name = unpacked.get(m["arg"], {}).get(int(m["k"]))
            if name and name not in taken:
                out[leaf] = name
    return out


def split(out: sp.Expr, leaves: Sequence[Leaf], unpacked: dict[str, dict[int, str]],
          taken: set[str]) -> tuple[sp.Expr, dict[Leaf, list[Leaf]]]:
    """(out', {vector leaf: [scalar Leaf per element]}) where every element
    of a vector leaf that f reads only as `p[k]` has an unpacked name (not
    in `taken`); `out'` reads those scalar leaves instead."""
    uses: dict[Leaf, set[sp.Basic]] = {}
    for node in postorder([out]):
        for c in getattr(node, "operands", node.args):
            if isinstance(c, Leaf):
                uses.setdefault(c, set()).add(node)
    parts: dict[Leaf, list[Leaf]] = {}
    mapping: dict[sp.Basic, Leaf] = {}
    for leaf in leaves:
        names = unpacked.get(leaf.name)
        if not names or len(leaf.shape) != 1 or leaf not in uses:
            continue
        m = leaf.shape[0]
        named = {k % m: v for k, v in names.items() if -m <= k < m and v not in taken}
        if len(named) != m or len(set(named.values())) != m:
            continue
        read = {}
        for node in uses[leaf]:
            key = node.key if isinstance(node, Index) and len(node.operands) == 1 else None
            k = parse_key(key) if key is not None else None
            if k is None or len(k) != 1 or type(k[0]) is not int:
                break  # p is also used as a whole (or sliced): keep index notation
            read[node] = k[0] % m
        else:
            parts[leaf] = [Leaf(named[k], ()) for k in range(m)]
            mapping.update((node, parts[leaf][k]) for node, k in read.items())
    if not mapping:
        return out, {}
    return substitute([out], mapping)[0], parts


def variable_names(f: Callable[..., Any], consts: dict[Leaf, Any],
                   taken: set[str]) -> dict[Leaf, str]:
    """{const leaf: name} for captured arrays the trace could not name
    (`captured0`) that f reads as a closure variable or a global of that
    name (the same object, by identity; not in `taken`)."""
    code = getattr(f, "__code__", None)
    if code is None:
        return {}
    cells = zip(code.co_freevars, getattr(f, "__closure__", None) or ())
    places = [(n, c.cell_contents) for n, c in cells if _filled(c)]
    places += [(n, f.__globals__[n]) for n in code.co_names if n in f.__globals__]
    out: dict[Leaf, str] = {}
    for leaf, value in consts.items():
        if not _GENERATED.match(leaf.name):
            continue
        name = next((n for n, v in places if v is value), None)
        if name and name not in taken and name not in out.values():
            out[leaf] = name
    return out


_GENERATED = re.compile(r"^captured\d+$")


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True
