"""Recording shared by the stand-in's check_grads and the pytest plugin.

Every gradient check appends one JSON line to $ZS_CONF_LOG; the plugin adds
one line per test phase outcome and per collection error.
"""
import json
import os
import re
import signal
import threading
import traceback
from contextlib import contextmanager

LOG_PATH = os.environ.get("ZS_CONF_LOG")
CHECK_CPU_TIMEOUT = float(os.environ.get("ZS_CONF_CHECK_TIMEOUT", "60"))

state = {"test": None, "checks": 0, "failed": [], "strict": False}
_log = None
_lock = threading.Lock()


class CheckTimeout(BaseException):
    """One gradient check used more CPU time than ZS_CONF_CHECK_TIMEOUT."""


class TestTimeout(BaseException):
    """One test ran longer (wall clock) than ZS_CONF_TEST_TIMEOUT."""


def record(**rec):
    global _log
    if not LOG_PATH:
        return
    rec.setdefault("test", state["test"])
    with _lock:
        if _log is None:
            _log = open(LOG_PATH, "a", encoding="utf-8")
        _log.write(json.dumps(rec, default=str) + "\n")
        _log.flush()


def _raise_check_timeout(signum, frame):
    raise CheckTimeout(f"gradient check exceeded {CHECK_CPU_TIMEOUT:g} s of CPU time")


@contextmanager
def cpu_timeout(seconds=None):
    """Raise CheckTimeout inside the block after `seconds` of process CPU time
    (ITIMER_VIRTUAL, independent of the plugin's wall-clock ITIMER_REAL)."""
    seconds = CHECK_CPU_TIMEOUT if seconds is None else seconds
    usable = seconds > 0 and threading.current_thread() is threading.main_thread() \
        and hasattr(signal, "ITIMER_VIRTUAL")
    if not usable:
        yield
        return
    old = signal.signal(signal.SIGVTALRM, _raise_check_timeout)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, old)


def exc_info_fields(exc):
    """type, first lines of the message, and whether it came from a nested
    (differentiate-a-derivative) zygote_sym call."""
    msg = str(exc)
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    where = " < ".join(f"{os.path.basename(f.filename)}:{f.lineno}:{f.name}"
                       for f in reversed(frames))
    return {"exc_type": type(exc).__name__, "exc_module": type(exc).__module__,
            "exc_msg": msg[:600], "nested": bool(getattr(exc, "__zs_nested__", False)),
            "where": where, "origin": origin(exc)}


_STANDIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# library-internal helper packages: report the library function that called them
_HELPER_DIRS = ("/scipy/_lib/", "/array_api_compat/", "/array_api_extra/")


def origin(exc):
    """The innermost frame outside zygote_sym that led to the exception, as
    'scipy.stats._distn_infrastructure:cdf', 'test code:test_numpy.py:fun' or
    'stand-in:autograd/core.py:vjp'."""
    for f in reversed(traceback.extract_tb(exc.__traceback__)):
        path = f.filename.replace(os.sep, "/")
        if "/zygote_sym/" in path or path.startswith("<zygote_sym") or any(
                helper in path for helper in _HELPER_DIRS):
            continue
        if path.startswith(_STANDIN_DIR.replace(os.sep, "/")):
            return f"stand-in:{os.path.relpath(f.filename, _STANDIN_DIR)}:{f.name}"
        m = re.search(r"/(?:site|dist)-packages/(.+)\.py$", path)
        if m:
            mod = m.group(1).replace("/", ".").removesuffix(".__init__")
            return f"{mod}:{f.name}"
        if re.search(r"/tests/[^/]+\.py$", path):
            return f"test code:{os.path.basename(path)}:{f.name}"
        m = re.search(r"/lib/python[\d.]+/(.+)\.py$", path)
        if m:
            return f"{m.group(1).replace('/', '.')}:{f.name}"
        return f"{os.path.basename(path)}:{f.name}"
    return "zygote_sym"
