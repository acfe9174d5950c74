"""The array types scientists hold data in: pandas and xarray objects.

One table, `KINDS`: for each foreign type, how its values are read (a NumPy
array: what f computes on and what is differentiated) and how a gradient is
rebuilt in its type (same index/columns, same dims/coords/name/attrs).

As an argument (pytree.py) the object is one leaf, its values: inside f it
*is* that array (NumPy semantics: positions, not labels), and its gradient
comes back as the same type with the same labels.  As captured data (a
DataFrame in a global, a Series in a closure) the object stays the user's:
pandas/xarray compute among constants as they always do, and where it meets a
traced value it is read as a constant NumPy array (:class:`Reading`, the
dispatch registry of trace/call.py).  Labels are not traced, so reading a
captured object by position is only right where pandas/xarray would not
align it by labels against a traced argument or another captured object:
`aligned` says where, and Reading refuses the rest (pandas aligns Series by
index, xarray broadcasts by dim name).

Types are found through `sys.modules`: pandas and xarray are optional and
never imported here.  Dask arrays are refused by the eager API (they would be
computed in memory without saying so); masked arrays by pytree.py.
"""
import hashlib
import sys
import types
import weakref
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .errors import NoRuleError


def _pd():
    return sys.modules.get("pandas")


def _xr():
    return sys.modules.get("xarray")


_INDEX_DIGESTS: dict = {}  # id(pandas Index) -> (weak reference to it, its digest)


def _index_digest(index: Any) -> bytes:
    """The digest of a pandas Index's labels, kept while the Index lives
    (an Index is immutable; hashing 10**6 labels takes ~0.1 s, once)."""
    hit = _INDEX_DIGESTS.get(id(index))
    if hit is not None and hit[0]() is index:
        return hit[1]
    h = hashlib.blake2b(_pd().util.hash_pandas_object(index, index=False).to_numpy().tobytes(),
                        digest_size=12)
    h.update(repr((index.dtype, index.names)).encode())
    key = id(index)
    _INDEX_DIGESTS[key] = (weakref.ref(index, lambda _: _INDEX_DIGESTS.pop(key, None)),
                           h.digest())
    return _INDEX_DIGESTS[key][1]


def _hash_labels(*parts: Any) -> str:
    """A fingerprint of labels (pandas Index, coordinate arrays, names):
    part of pytree.structure_key, so a compiled specialization never hands
    back a gradient with another call's index."""
    h = hashlib.blake2b(digest_size=12)
    pd = _pd()
    for p in parts:
        if pd is not None and isinstance(p, pd.Index) and not isinstance(p, pd.RangeIndex):
            h.update(_index_digest(p))
        elif isinstance(p, np.ndarray) and p.dtype.kind in "biufcmM":
            h.update(repr((p.dtype.str, p.shape)).encode() + np.ascontiguousarray(p).tobytes())
        elif isinstance(p, np.ndarray) and pd is not None:  # strings, objects: via pandas
            h.update(pd.util.hash_pandas_object(pd.Index(p.ravel()), index=False)
                     .to_numpy().tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()


# ---------------------------------------------------------------- the table
def _series_values(x, path):
    if not isinstance(x.dtype, np.dtype) or x.dtype.kind not in "iufc":
        raise TypeError(f"{path} is a pandas Series of dtype {x.dtype}, which zygote_sym "
                        f"cannot differentiate: pass {path}.astype(float) (NaN for missing "
                        "values), or close over it if it is data, not a variable")
    return x.to_numpy()


def _frame_values(x, path):
    bad = [c for c, d in x.dtypes.items() if not isinstance(d, np.dtype) or d.kind not in "iuf"]
    if bad:
        raise TypeError(f"{path} is a pandas DataFrame with non-numeric columns {bad[:5]}: "
                        f"inside f it is one float array, so pass the numeric columns "
                        f"({path}.select_dtypes('number') or {path}[[...]]) and close over "
                        "the others")
    return x.to_numpy(dtype=np.float64)


def _dataarray_values(x, path):
    if x.chunks is not None:
        raise TypeError(_dask_message(path, "an xarray DataArray backed by Dask"))
    if x.dtype.kind not in "iufc":
        raise TypeError(f"{path} is an xarray DataArray of dtype {x.dtype}, which "
                        f"zygote_sym cannot differentiate: pass {path}.astype(float)")
    return x.values


def _dask_message(path, what):
    return (f"{path} is {what}, which zygote_sym would compute in memory here: pass "
            f"{path}.compute() or np.asarray({path}) when it fits in memory; for data beyond "
            "memory, a compiled function (zs.compile(f).gradient) takes Dask arrays as "
            "top-level arguments and runs its kernel block by block (zygote_sym/dask.py)")


def _refuse_dask(x, path):
    raise TypeError(_dask_message(path, "a Dask array"))


def _refuse_dataset(x, path):
    raise TypeError(f"{path} is an xarray Dataset: pass its variables as a dict, "
                    f"{{k: {path}[k] for k in {path}.data_vars}} (each DataArray's gradient "
                    "comes back as a DataArray)")


def _dataarray_read(x):
    if x.chunks is not None:
        raise TypeError("a captured xarray DataArray backed by Dask meets a traced value: "
                        "compute it first (da = da.compute()) or close over np.asarray(da)")
    return x.values


class Kind:
    """One foreign type: `test(module, x)` (the module found in sys.modules),
    `values(x, path)` -> the ndarray differentiated as an argument,
    `rebuild(template, g)` -> the same type holding g, `labels(x)` -> what
    aligns it (hashed into the tree's key), `read(x)` -> its values as
    captured data (any dtype: masks too).  Rows without `rebuild` only refuse."""

    def __init__(self, name: str, module: str, test: Callable, values: Callable,
                 rebuild: Optional[Callable] = None, labels: Optional[Callable] = None,
                 read: Optional[Callable] = None):
        self.name, self.module, self.test, self.values = name, module, test, values
        self.rebuild, self.labels, self.read = rebuild, labels or (lambda x: ()), read

    def __repr__(self):
        return self.name


KINDS = [
    Kind("pandas.Series", "pandas", lambda m, x: isinstance(x, m.Series), _series_values,
         lambda t, g: type(t)(g, index=t.index, name=t.name, copy=False),
         lambda x: (x.index, x.name), lambda x: x.to_numpy()),
    Kind("pandas.DataFrame", "pandas", lambda m, x: isinstance(x, m.DataFrame), _frame_values,
         lambda t, g: type(t)(g, index=t.index, columns=t.columns, copy=False),
         lambda x: (x.index, x.columns), lambda x: x.to_numpy()),
    Kind("xarray.DataArray", "xarray", lambda m, x: isinstance(x, m.DataArray),
         _dataarray_values, lambda t, g: t.copy(deep=False, data=g),
         lambda x: (x.dims, x.name, repr(x.attrs), *[
             p for k in sorted(x.coords, key=str) for p in (k, x.coords[k].dims, (
                 x.indexes[k] if k in x.indexes else x.coords[k].values))]),
         _dataarray_read),
    Kind("xarray.Dataset", "xarray", lambda m, x: isinstance(x, m.Dataset), _refuse_dataset),
    Kind("dask.array.Array", "dask.array", lambda m, x: isinstance(x, m.Array), _refuse_dask),
]


def kind(x: Any) -> Optional[Kind]:
    """The row of KINDS for x, or None (cheap for everything else: a type
    whose module is not pandas/xarray/dask is not looked at further)."""
    mod = type(x).__module__
    if not mod.startswith(("pandas", "xarray", "dask")):
        return None
    for k in KINDS:
        m = sys.modules.get(k.module)
        if m is not None and k.test(m, x):
            return k
    return None


def _row(x: Any) -> Kind:
    """kind(x) for an object known to be foreign."""
    k = kind(x)
    if k is None:
        raise TypeError(f"{type(x).__name__} is not a pandas/xarray/Dask type")
    return k


class Foreign:
    """The node kind (pytree.register_pytree) of a foreign argument: one
    child, its values.  Rebuilt from a tracer (f's argument) it is that
    tracer: f computes on the values; rebuilt from a gradient of the same
    shape it is the original type with the original labels; any other
    block (a Jacobian's, of shape out + in) stays a NumPy array.

    >>> import pytest; pd = pytest.importorskip("pandas")
    >>> s = pd.Series([1.0, 2.0], index=["a", "b"])
    >>> kids, aux = Foreign.flatten(s)
    >>> Foreign.unflatten(aux, [np.array([2.0, 4.0])])
    a    2.0
    b    4.0
    dtype: float64
    """

    def __init__(self, kind: Kind, template: Any, key: str):
        self.kind, self.template, self.key = kind, template, key

    def __repr__(self):  # (pytree.structure_key reads it: type, shape and labels)
        return f"{self.kind.name}{np.shape(self.template)}#{self.key}"

    @staticmethod
    def flatten(x: Any, path: str = "x"):
        k = _row(x)
        return [k.values(x, path)], Foreign(k, x, _hash_labels(*k.labels(x)))

    @staticmethod
    def unflatten(aux: "Foreign", kids: Sequence[Any]) -> Any:
        g, = kids
        if g is None or getattr(type(g), "pytree_leaf", False) or aux.kind.rebuild is None \
                or np.shape(g) != np.shape(aux.template):
            return g
        return aux.kind.rebuild(aux.template, np.asarray(g))


# ------------------------------------------------------------ captured data
def constant(x: Any) -> Any:
    """A captured pandas/xarray operand as the NumPy array f's traced
    arithmetic reads (anything else unchanged)."""
    k = kind(x)
    return x if k is None or k.read is None else k.read(x)


def read_as_constant(x: Any) -> bool:
    """Is x a type Reading reads as a constant (pandas, xarray DataArray)?"""
    k = kind(x)
    return k is not None and k.read is not None


def snapshot(x: Any) -> Any:
    """A copy of a captured object to compare it with at later calls: a
    compiled kernel holds what the trace read of it as constants, so a change
    of its values, labels or attributes means a new trace (trace/call.Watch)."""
    return x.copy(deep=True)


def same(x: Any, snap: Any) -> bool:
    """Is x still what `snapshot` copied (values with NaNs, dtypes, labels;
    for xarray also name and attrs)?"""
    if type(x) is not type(snap):
        return False
    return x.identical(snap) if _row(x).module == "xarray" else x.equals(snap) and (
        getattr(x, "name", None) == getattr(snap, "name", None))


def aligned(x: Any, y: Any) -> bool:
    """Would x's library combine x and y by position, as the trace does
    (labels not traced)?  pandas aligns Series on the index, DataFrames on
    index and columns, a Series against a DataFrame on the DataFrame's
    columns; xarray broadcasts by dim name and aligns coords; the two
    libraries together have no rule we follow.

    >>> import pytest; pd = pytest.importorskip("pandas")
    >>> aligned(pd.Series([1.0, 2.0]), pd.Series([3.0, 4.0], index=[1, 0]))
    False
    """
    kx, ky = _row(x), _row(y)
    if kx.module != ky.module:
        return False
    if kx.module == "xarray":
        return x.dims == y.dims and all(
            (d in x.indexes) == (d in y.indexes) and (
                d not in x.indexes or x.indexes[d].equals(y.indexes[d])) for d in x.dims)
    if type(x) is not type(y):  # a Series against a DataFrame: its index meets the columns
        s, frame = (x, y) if x.ndim == 1 else (y, x)
        return s.index.equals(frame.columns)
    return x.index.equals(y.index) and (x.ndim == 1 or x.columns.equals(y.columns))


_LABELS = {"pandas": "index/columns", "xarray": "dims/coords"}


class Reading:
    """The dispatch registry (trace/dispatch.py) with captured pandas/xarray
    operands read as constant NumPy arrays: `a * df['t']`, `np.where(
    np.isnan(da), 0, a)`, `x[s > 0]`.

    Labels are not traced, so every object read must be :func:`aligned`
    with the trace's foreign `arguments` and with the captured objects read
    before it (one representative per type is kept: all are aligned with
    it), else a TypeError: `a * s1 + s2` with two indexes would be aligned
    by pandas and computed by position here."""

    def __init__(self, inner: Any, arguments: Sequence[Any] = ()):
        self._inner = inner
        self._known = [("the argument", a) for a in arguments]  # (what, object)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _check(self, x):
        k = _row(x)
        if k.read is None:  # Dask arrays, Datasets
            raise TypeError(f"a captured {k.name} meets a traced value: zygote_sym's eager "
                            "functions compute on NumPy arrays in memory; close over "
                            "np.asarray(...) of it (or its .compute()) instead")
        for what, y in self._known:
            if y is not x and not aligned(x, y):
                raise TypeError(
                    f"a captured {k.name} meets a traced value computed from {what} "
                    f"{_row(y).name} with other labels ({_LABELS[k.module]}): {k.module} "
                    "would align them by label, zygote_sym computes on the values by "
                    "position.  Align them before the call (.reindex_like, xr.align, "
                    ".transpose), or use .to_numpy() / .values if positions are what you mean")
        if not any(type(y) is type(x) for _, y in self._known):
            self._known.append(("the captured", x))

    def _read(self, items):
        out = []
        for x in items:
            if isinstance(x, (list, tuple)) and any(kind(v) for v in x):
                x = type(x)(self._read(x)) if type(x) in (list, tuple) else x
            elif kind(x) is not None:
                self._check(x)
                x = constant(x)
            out.append(x)
        return out

    def operator(self, trace, ufunc, pyop, operands):
        return self._inner.operator(trace, ufunc, pyop, tuple(self._read(operands)))

    def ufunc(self, trace, ufunc, method, inputs, kwargs):
        return self._inner.ufunc(trace, ufunc, method, tuple(self._read(inputs)), kwargs)

    def function(self, func, args, kwargs):
        try:
            return self._inner.function(func, tuple(self._read(args)), dict(zip(
                kwargs, self._read(kwargs.values()))))
        except NoRuleError:
            lib = _caller_library()
            if lib is None:
                raise
            raise TypeError(
                f"a traced value reached {lib}'s own arithmetic, which zygote_sym cannot "
                f"trace (a {lib} object on the left of an operator with a traced value, "
                f"or a traced value stored into one): put the traced value first "
                f"(x * da, not da * x), or use the object's .values") from None


def reading(inner: Any, arguments: Sequence[Any] = ()) -> Any:
    """`inner` as a :class:`Reading`, or unchanged while neither pandas nor
    xarray is imported (no captured object can be one)."""
    return Reading(inner, arguments) if _pd() is not None or _xr() is not None else inner


def _caller_library() -> Optional[str]:
    """pandas or xarray, if one of its functions is on the call stack (read
    only when an operation failed, to name the cause)."""
    frame: Optional[types.FrameType] = sys._getframe(2)
    while frame is not None:
        root = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        if root in ("pandas", "xarray"):
            return root
        frame = frame.f_back
    return None
