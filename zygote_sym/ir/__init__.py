"""The intermediate representation: the SymPy DAG every other room reads.

nodes.py (Leaf, walks, Shapes), special.py and ops.py (node classes as
data), build.py and select.py (builders), numpy_ops.py (what structural ops
compute), printer.py (the let-bound form of a trace).  Imports nothing else
of zygote_sym.
"""
