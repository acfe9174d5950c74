"""The cost model's measurements, kept per machine.

fuse.py decides between NumPy and numexpr by timing both on this machine
(`faster_in_numpy`, `numexpr_pays`).  Timed in every process, that cost the
first gradient of a 10**6-point field 0.2-0.7 s (a quarter of its first
call or more), so each decision is stored in `calibration.json` in the
kernel cache directory (fused_jit.cache_dir: `$ZYGOTE_SYM_CACHE_DIR`, else
`~/.cache/zygote_sym/fused`), under a key naming the CPU model, the core count,
the NumPy and numexpr versions and numexpr's thread count: another machine,
an upgrade or another thread setting measures again.  Where the directory
cannot be written (or `ZYGOTE_SYM_CACHE_DIR` is empty) decisions are kept
for the process only, as before.  The file is JSON (read with `json`, never
evaluated) of booleans; anything else in it is ignored and measured anew.
"""
import json
import os
import platform
import tempfile
import threading
from typing import Callable, Dict, Optional

import numexpr
import numpy as np

from . import fused_jit

_lock = threading.Lock()
_decided: Dict[str, bool] = {}  # this machine's decisions, as read and measured
_read = False


def machine() -> str:
    """What a decision depends on besides the code: CPU, cores, versions, threads."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{cpu} | {os.cpu_count()} cores | numpy {np.__version__} | "
            f"numexpr {numexpr.__version__} ({numexpr.get_num_threads()} threads)")


def _path() -> Optional[str]:
    where = fused_jit.cache_dir()
    return None if where is None else os.path.join(where, "calibration.json")


def _load(path: Optional[str]) -> dict:
    """The whole file ({machine: {decision: bool}}), or {} when absent or unreadable."""
    if path is None:
        return {}
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(path: Optional[str], name: str, value: bool) -> None:
    """Add one decision to the file (read again and replaced atomically, so
    another process's decisions are kept; losing a race costs a measurement)."""
    if path is None:
        return
    data = _load(path)
    mine = data.get(machine())
    data[machine()] = {**(mine if isinstance(mine, dict) else {}), name: value}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # not writable: kept for this process


def decided(name: str, measure: Callable[[], bool]) -> bool:
    """The stored decision `name` for this machine, else `measure()`, stored.

    >>> import os, tempfile
    >>> os.environ["ZYGOTE_SYM_CACHE_DIR"] = tempfile.mkdtemp()
    >>> forget()
    >>> decided("doctest:a", lambda: True), decided("doctest:a", lambda: False)
    (True, True)
    >>> forget(); decided("doctest:a", lambda: False)   # read back from the file
    True
    >>> del os.environ["ZYGOTE_SYM_CACHE_DIR"]; forget()
    """
    global _read
    path = _path()
    with _lock:
        if not _read:
            mine = _load(path).get(machine())
            if isinstance(mine, dict):
                _decided.update({k: v for k, v in mine.items() if isinstance(v, bool)})
            _read = True
        if name in _decided:
            return _decided[name]
    value = bool(measure())  # (not under the lock: two threads may both measure, once)
    with _lock:
        _decided[name] = value
        _store(path, name, value)
    return value


def forget() -> None:
    """Drop this process's decisions (the next one reads the file again)."""
    global _read
    with _lock:
        _decided.clear()
        _read = False
