"""pytest plugin for the conformance run (loaded with `-p conformance_plugin`).

* keeps only this shard's tests (ZS_CONF_SHARD="i/k": every k-th test from i);
* a wall-clock limit per test (ZS_CONF_TEST_TIMEOUT seconds, SIGALRM);
* tells the stand-in's check_grads which test is running, and fails a test
  whose recorded gradient checks failed (check_grads itself never raises, so
  every check of the test runs);
* appends test outcomes and collection errors to ZS_CONF_LOG.
"""
import inspect
import os
import re
import signal
import threading

import pytest

from autograd import _conformance as conf

TEST_TIMEOUT = float(os.environ.get("ZS_CONF_TEST_TIMEOUT", "300"))


def _shard():
    spec = os.environ.get("ZS_CONF_SHARD", "0/1")
    i, k = (int(p) for p in spec.split("/"))
    return i, k


def _deselected(nodeid):
    prefixes = [p for p in os.environ.get("ZS_CONF_DESELECT", "").split(",") if p]
    return any(nodeid == p or nodeid.startswith(p + "[") for p in prefixes)


def pytest_collection_modifyitems(session, config, items):
    skip = [it for it in items if _deselected(it.nodeid)]
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = [it for it in items if not _deselected(it.nodeid)]
    i, k = _shard()
    if k <= 1:
        return
    keep = [it for n, it in enumerate(items) if n % k == i]
    drop = [it for n, it in enumerate(items) if n % k != i]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_collectreport(report):
    if report.failed and _shard()[0] == 0:
        text = str(report.longrepr)
        lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
        conf.record(type="collect", nodeid=report.nodeid, exc_msg=(lines[-1] if lines
                                                                    else text[-400:]))


def _on_alarm(signum, frame):
    raise conf.TestTimeout(f"test exceeded {TEST_TIMEOUT:g} s (wall clock)")


def _is_strict(item):
    """The test expects check_grads to raise (wraps it in pytest.raises)."""
    try:
        src = inspect.getsource(item.function)
    except (OSError, TypeError, AttributeError):
        return False
    return "raises(" in src and "check_grads" in src


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    conf.state.update(test=item.nodeid, checks=0, failed=[], exceptions=[],
                      strict=_is_strict(item))
    use_alarm = TEST_TIMEOUT > 0 and threading.current_thread() is threading.main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        result = yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    failed = conf.state["failed"]
    if failed and not conf.state["strict"]:
        first = failed[0]
        msg = (first.get("exc_msg") or "").splitlines()[0][:200] if first.get("exc_msg") else ""
        raise AssertionError(
            f"{len(failed)} of {conf.state['checks']} gradient checks failed; first: "
            f"order {first['order']} {first['mode']}: {first.get('exc_type')}: {msg}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call" or report.outcome != "passed":
        rec = {"type": "test", "nodeid": item.nodeid, "when": call.when,
               "outcome": report.outcome, "duration": round(call.duration, 3),
               "checks": conf.state["checks"] if conf.state["test"] == item.nodeid else 0}
        if call.excinfo is not None and report.outcome == "failed":
            rec.update(conf.exc_info_fields(call.excinfo.value))
        elif report.outcome == "skipped" and call.excinfo is not None:
            rec["exc_msg"] = re.sub(r"\s+", " ", str(call.excinfo.value))[:200]
        conf.record(**rec)
    return report
