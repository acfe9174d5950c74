#!/usr/bin/env python
"""Run HIPS autograd 1.9.1's own test suite against zygote_sym.

A measurement, not a test: autograd's tests (from its PyPI sdist) run under
pytest with a stand-in `autograd` package (./standin) placed first on the
path, whose differential operators call zygote_sym's public API and whose
check_grads records every individual gradient check.  The result is "checks
passed / checks run", by order, by real/complex, by test file, and the
failures grouped by cause.  See README.md here.

    .venv/bin/python benchmarks/conformance/run.py            # full run
    .venv/bin/python benchmarks/conformance/run.py --files test_scalar_ops,test_numpy
    .venv/bin/python benchmarks/conformance/run.py --report-only   # re-aggregate last logs
"""
import argparse
import collections
import glob
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

from why import why as reason_for

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin")
AUTOGRAD_VERSION = "1.9.1"
SDIST_NAME = f"autograd-{AUTOGRAD_VERSION}.tar.gz"

# Files deliberately not run, and why.
EXCLUDED = {
    "test_vspaces.py": "tests autograd's own VSpace algebra (zeros, add, inner products...), which "
                       "the stand-in re-implements to compare gradients; running it would measure "
                       "the stand-in, not zygote_sym",
    "test_tests.py": "tests that check_grads itself detects wrong custom VJPs defined with "
                     "autograd.extend.defvjp; zygote_sym has no custom-rule API and the stand-in's "
                     "check_grads records failures instead of raising",
}

# Tests deliberately deselected (node id, or node id prefix of parametrised
# tests), and why: they test autograd's NumPy wrapper, with no derivative.
DESELECTED = {
    "tests/test_wrappers.py::test_custom_where_dtypes":
        "checks the Python/NumPy result types of autograd.numpy.where's own wrapper; no "
        "derivative involved (plain NumPy returns NumPy scalars)",
    "tests/test_wrappers.py::test_custom_where":
        "checks keyword calling of autograd.numpy.where's own wrapper; no derivative involved "
        "(NumPy's where takes positional arguments only)",
}


# ------------------------------------------------------------------ sdist


def find_or_download_sdist(sdist, cache_dir, python):
    if sdist:
        if not os.path.exists(sdist):
            sys.exit(f"--sdist {sdist}: no such file")
        return sdist
    cached = os.path.join(cache_dir, SDIST_NAME)
    if os.path.exists(cached):
        return cached
    os.makedirs(cache_dir, exist_ok=True)
    cmd = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"autograd=={AUTOGRAD_VERSION}", "-d", cache_dir]
    print("downloading:", " ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or not os.path.exists(cached):
        sys.exit(f"pip download failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return cached


def extract_tests(sdist, dest):
    """autograd-X/tests/* -> dest/tests/*, plus an empty pytest.ini that pins
    the rootdir (the sdist's own pytest options need xdist and coverage)."""
    prefix = None
    with tarfile.open(sdist) as tar:
        members = []
        for m in tar.getmembers():
            parts = m.name.split("/")
            if len(parts) >= 3 and parts[1] == "tests" and (m.isfile() or m.isdir()):
                prefix = parts[0]
                members.append(m)
        if not members:
            sys.exit(f"{sdist}: no tests/ directory inside")
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members=members, **kw)
    shutil.move(os.path.join(dest, prefix, "tests"), os.path.join(dest, "tests"))
    shutil.rmtree(os.path.join(dest, prefix), ignore_errors=True)
    with open(os.path.join(dest, "pytest.ini"), "w") as f:
        f.write("[pytest]\naddopts =\n")
    return os.path.join(dest, "tests")


# ------------------------------------------------------------------ running


def pytest_env(args, log_path, shard):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([STANDIN] + [p for p in
                                                      env.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p])
    env.update(ZS_CONF_LOG=log_path, ZS_CONF_SHARD=shard,
               ZS_CONF_TEST_TIMEOUT=str(args.test_timeout),
               ZS_CONF_CHECK_TIMEOUT=str(args.check_timeout),
               ZS_CONF_DESELECT=",".join(DESELECTED),
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def pytest_cmd(args, targets, extra=()):
    cmd = [args.python, "-m", "pytest", "-p", "conformance_plugin", "-p", "no:cacheprovider",
           "-q", "--tb=no", "-o", "console_output_style=classic", "-W", "ignore"]
    if args.k:
        cmd += ["-k", args.k]
    return cmd + list(extra) + targets


def select_files(tests_dir, args):
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(tests_dir, "test_*.py")))
    if args.files:
        wanted = {f if f.endswith(".py") else f + ".py" for f in args.files.split(",")}
        unknown = wanted - set(files)
        if unknown:
            sys.exit(f"--files: not in the sdist's tests/: {sorted(unknown)}")
        files = [f for f in files if f in wanted]
    run = [f for f in files if f not in EXCLUDED]
    excluded = {f: EXCLUDED[f] for f in files if f in EXCLUDED}
    return run, excluded


def collect(args, workdir, targets, log_dir):
    log = os.path.join(log_dir, "collect.jsonl")
    res = subprocess.run(pytest_cmd(args, targets, ["--collect-only"]), cwd=workdir,
                         env=pytest_env(args, log, "0/1"), capture_output=True, text=True,
                         timeout=600)
    nodeids = [ln.strip() for ln in res.stdout.splitlines() if "::" in ln and
               not ln.startswith(("ERROR", "FAILED"))]
    with open(os.path.join(log_dir, "collect.out"), "w") as f:
        f.write(res.stdout + res.stderr)
    if not nodeids:
        sys.exit(f"pytest collected no test (exit {res.returncode}); is pytest installed for "
                 f"{args.python}?\n{(res.stdout + res.stderr)[-3000:]}")
    return nodeids


def run_shards(args, workdir, targets, log_dir):
    procs = []
    t0 = time.time()
    for i in range(args.jobs):
        log = os.path.join(log_dir, f"shard{i}.jsonl")
        out = open(os.path.join(log_dir, f"shard{i}.out"), "w")
        p = subprocess.Popen(pytest_cmd(args, targets), cwd=workdir,
                             env=pytest_env(args, log, f"{i}/{args.jobs}"), stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((i, p, out))
    status = {}
    for i, p, out in procs:
        remaining = max(1.0, args.shard_timeout - (time.time() - t0))
        try:
            rc = p.wait(timeout=remaining)
            status[i] = {"returncode": rc, "timed_out": False}
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            status[i] = {"returncode": None, "timed_out": True}
        out.close()
    return status, time.time() - t0


# ------------------------------------------------------------------ causes


def _first_line(msg):
    for ln in (msg or "").splitlines():
        if ln.strip():
            return ln.strip()
    return ""


def _squash(text, width=90):
    text = re.sub(r"array\(.*", "array(...)", text)
    text = re.sub(r"(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?(?![\w])", "N", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _origin_group(origin):
    """'scipy.stats._distn_infrastructure:cdf' -> 'scipy.stats'; 'numpy._core._methods:_mean'
    -> 'numpy'; 'test code:test_numpy.py:fun' -> 'test code'."""
    mod = origin.split(":")[0]
    if mod in ("test code", "stand-in", "zygote_sym"):
        return mod
    parts = mod.split(".")
    return ".".join(parts[:2]) if parts[0] == "scipy" else parts[0]


def cause_of(rec):
    """A short, stable name for why a check (or test) failed."""
    t, msg = rec.get("exc_type") or "?", _first_line(rec.get("exc_msg"))
    m = None
    if t == "NoRuleError":
        m = re.search(r"no rule for (.+?) on traced", msg)
        key = f"NoRuleError: {m.group(1)}" if m else f"NoRuleError: {_squash(msg, 60)}"
    elif t == "TracerConversionError":
        m = re.match(r"(.+?) of a traced value", msg)
        key = f"TracerConversionError: {m.group(1) if m else _squash(msg.split(';')[0], 80)}"
        if m and rec.get("origin"):
            key += f" in {_origin_group(rec['origin'])}"
    elif t == "CheckMismatch":
        mode = "VJP" if "(VJP)" in msg else "JVP"
        key = (f"wrong shape/dtype ({mode} VSpace mismatch)" if msg.startswith("VSpace")
               else f"wrong value ({mode} check)")
    elif t == "CheckTimeout":
        key = "timeout: check CPU limit"
    elif t == "TestTimeout":
        key = "timeout: test wall-clock limit"
    elif t == "NotImplementedError" and msg.startswith("custom derivative rules"):
        key = "NotImplementedError: " + msg.split(":")[0]
    else:
        key = f"{t}: {_squash(msg)}"
    if rec.get("nested"):
        key += " [nested]"
    return key


def inner_failure(rec):
    """An order >= 2 check that could not compare anything because its
    function (an order-1 zygote_sym derivative, on plain numbers) failed."""
    return rec.get("stage") in ("reference", "setup") and rec.get("order", 1) > 1


# ------------------------------------------------------------------ aggregation


def load(log_dir):
    recs = []
    for path in sorted(glob.glob(os.path.join(log_dir, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for ln in f:
                ln = ln.strip()
                if ln:
                    try:
                        recs.append(json.loads(ln))
                    except json.JSONDecodeError:
                        pass
    return recs


def pct(a, b):
    return f"{100.0 * a / b:.1f} %" if b else "–"


def is_complex(rec):
    return bool(rec.get("cin") or rec.get("cout"))


def aggregate(recs, nodeids, excluded, meta):
    expected = [r for r in recs if r.get("type") == "check" and r.get("expected_failure")]
    checks = [r for r in recs if r.get("type") == "check" and not r.get("expected_failure")]
    tests = [r for r in recs if r.get("type") == "test"]
    collect_errors = [r for r in recs if r.get("type") == "collect"]

    def tally(rows):
        n, ok = len(rows), sum(1 for r in rows if r["passed"])
        return {"run": n, "passed": ok, "failed": n - ok,
                "pass_rate": round(ok / n, 4) if n else None}

    real = [r for r in checks if not is_complex(r)]
    cplx = [r for r in checks if is_complex(r)]
    orders = sorted({r["order"] for r in checks})
    summary = {
        "all": tally(checks), "real": tally(real), "complex": tally(cplx),
        "by_order": {str(o): {"all": tally([r for r in checks if r["order"] == o]),
                              "real": tally([r for r in real if r["order"] == o]),
                              "complex": tally([r for r in cplx if r["order"] == o])}
                     for o in orders},
        "by_path": {p: {"real": tally([r for r in real if r["path"] == p]),
                        "complex": tally([r for r in cplx if r["path"] == p])}
                    for p in sorted({r["path"] for r in checks}, key=lambda s: (len(s), s))},
        "complex_input": tally([r for r in checks if r.get("cin")]),
        "adapted": {kind: {"checks": sum(1 for r in checks if kind in r.get("adapted", ())),
                           "passed": sum(1 for r in checks if kind in r.get("adapted", ())
                                         and r["passed"]),
                           "passed_real": sum(1 for r in checks if kind in r.get("adapted", ())
                                              and r["passed"] and not is_complex(r))}
                    for kind in ("real_part", "dtype_cast")},
        "complex_output_real_input": tally([r for r in checks if not r.get("cin")
                                            and r.get("cout")]),
    }

    # tests: the call-phase outcome, or the first failing phase
    outcome = {}
    for r in tests:
        nid = r["nodeid"]
        if r["outcome"] == "failed" or nid not in outcome or r["when"] == "call" and \
                outcome[nid]["outcome"] != "failed":
            outcome[nid] = r
    for r in checks:  # a test killed mid-way still has its checks
        outcome.setdefault(r["test"], {"nodeid": r["test"], "outcome": "failed",
                                       "exc_type": "Killed", "exc_msg": "no report (shard killed)"})
    not_run = [n for n in nodeids if n not in outcome]

    files = collections.OrderedDict()
    for nid in sorted(set(nodeids) | set(outcome)):
        fname = nid.split("::")[0].split("/")[-1]
        files.setdefault(fname, {"tests": 0, "passed": 0, "failed": 0, "skipped": 0,
                                 "not_run": 0, "checks": None})
        st = files[fname]
        st["tests"] += 1
        o = outcome.get(nid)
        st["not_run" if o is None else o["outcome"]] += 1
    for fname, st in files.items():
        fr = [r for r in checks if r["test"] and r["test"].split("::")[0].endswith("/" + fname)]
        st["checks"] = {"all": tally(fr),
                        "real": tally([r for r in fr if not is_complex(r)]),
                        "complex": tally([r for r in fr if is_complex(r)])}

    def causes(rows):
        c = collections.Counter()
        real_c = collections.Counter()
        by_order = collections.defaultdict(collections.Counter)
        inner = collections.Counter()
        examples = {}
        for r in rows:
            if r["passed"]:
                continue
            k = cause_of(r)
            c[k] += 1
            if not is_complex(r):
                real_c[k] += 1
            by_order[k][r["order"]] += 1
            inner[k] += inner_failure(r)
            examples.setdefault(k, {"test": r["test"], "path": r["path"], "args": r["args"],
                                    "message": _first_line(r.get("exc_msg"))[:300],
                                    "where": r.get("where")})
        return [{"cause": k, "count": n, "real": real_c[k], "inner_derivative": inner[k],
                 "by_order": dict(sorted(by_order[k].items())), "example": examples[k]}
                for k, n in c.most_common()]

    test_fail_causes = collections.Counter()
    for nid, r in outcome.items():
        if r["outcome"] == "failed":
            msg = r.get("exc_msg") or ""
            key = ("gradient checks failed (see check causes)"
                   if re.match(r"\d+ of \d+ gradient checks failed", msg) else cause_of(r))
            test_fail_causes[key] += 1

    return {
        "meta": meta,
        "summary": summary,
        "tests": {"collected": len(nodeids), "reported": len(outcome),
                  "passed": sum(o["outcome"] == "passed" for o in outcome.values()),
                  "failed": sum(o["outcome"] == "failed" for o in outcome.values()),
                  "skipped": sum(o["outcome"] == "skipped" for o in outcome.values()),
                  "not_run": not_run},
        "files": files,
        "causes": causes(checks),
        "causes_order1": causes([r for r in checks if r["order"] == 1]),
        "test_failure_causes": [{"cause": k, "count": n}
                                for k, n in test_fail_causes.most_common()],
        "excluded": excluded,
        "deselected": DESELECTED,
        "expected_failure_checks": {"count": len(expected),
                                    "tests": sorted({r["test"] for r in expected})},
        "collection_errors": [{"nodeid": r["nodeid"], "error": r.get("exc_msg")}
                              for r in collect_errors],
        "timeouts": {"checks": sum(1 for r in checks if r.get("exc_type") == "CheckTimeout"),
                     "tests": sorted(n for n, o in outcome.items()
                                     if o.get("exc_type") == "TestTimeout")},
    }


# ------------------------------------------------------------------ report


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _t(d):
    return d["run"], d["passed"], pct(d["passed"], d["run"])


def markdown(res, top=40):
    s, m = res["summary"], res["meta"]
    out = [f"# autograd {AUTOGRAD_VERSION} test suite against zygote_sym", ""]
    out.append(f"Run {m['date']} · zygote_sym {m['zygote_sym']} (commit {m['commit']}) · "
               f"Python {m['python']} · NumPy {m['numpy']} · SciPy {m['scipy']} · "
               f"SymPy {m['sympy']} · {m['jobs']} shard(s), wall {m['wall_seconds']:.0f} s · "
               f"limits: {m['check_timeout']:g} s CPU per check, {m['test_timeout']:g} s per test."
               )
    out.append("")
    out.append("A *check* is one call of autograd's inner gradient check (`check_vjp` for "
               "'rev', `check_jvp` for 'fwd') at one order on one input; `check_grads(f)(x)` "
               "with the defaults (modes fwd+rev, order 2) is 6 checks. 'fwd' checks are "
               "computed through reverse mode (J·v assembled from VJPs). *Complex* = a "
               "complex input or output. See README.md.")
    out.append("")
    out += ["## Totals", "", _row(["", "checks run", "passed", "pass rate"]),
            _row(["---", "---:", "---:", "---:"])]
    out.append(_row(["**real-valued**", *_t(s["real"])]))
    for o, d in s["by_order"].items():
        out.append(_row([f"real, order {o}", *_t(d["real"])]))
    out.append(_row(["**complex-valued**", *_t(s["complex"])]))
    for o, d in s["by_order"].items():
        out.append(_row([f"complex, order {o}", *_t(d["complex"])]))
    out.append(_row(["complex: complex input", *_t(s["complex_input"])]))
    out.append(_row(["complex: real input, complex output", *_t(s["complex_output_real_input"])]))
    out.append(_row(["all checks", *_t(s["all"])]))
    out.append("")
    out += ["By check kind (`a>b` = mode b applied to the mode-a derivative function):", "",
            _row(["kind", "real run", "real passed", "real %", "complex run", "complex passed",
                  "complex %"]), _row(["---"] + ["---:"] * 6)]
    for p, d in s["by_path"].items():
        out.append(_row([p, *_t(d["real"]), *_t(d["complex"])]))
    ad = s["adapted"]
    out += ["", "Stand-in adaptations of zygote_sym's cotangents (autograd's form: a real input "
            "gets a real gradient of its own dtype): the real part was taken of a cotangent with a "
            f"non-zero imaginary part in {ad['real_part']['checks']} checks "
            f"({ad['real_part']['passed']} passed, {ad['real_part']['passed_real']} of them "
            "real-valued); a dtype was cast in "
            f"{ad['dtype_cast']['checks']} checks ({ad['dtype_cast']['passed']} passed, "
            f"{ad['dtype_cast']['passed_real']} real-valued)."]
    t = res["tests"]
    out += ["", f"pytest tests: {t['collected']} collected, {t['passed']} passed, "
            f"{t['failed']} failed, {t['skipped']} skipped, {len(t['not_run'])} not run "
            "(a test fails if any of its checks fails, or if it raises).", ""]

    out += ["## Per test file", "",
            _row(["file", "tests", "passed", "failed", "skipped", "not run", "real checks",
                  "real passed", "real %", "complex checks", "complex passed"]),
            _row(["---"] + ["---:"] * 10)]
    for f, st in res["files"].items():
        c = st["checks"]
        out.append(_row([f, st["tests"], st["passed"], st["failed"], st["skipped"],
                         st["not_run"], *_t(c["real"]), c["complex"]["run"],
                         c["complex"]["passed"]]))
    out.append("")

    orders = [int(o) for o in s["by_order"]]

    def cause_table(rows, n, by_order=True):
        head = ["#", "cause", "failed checks", "real"]
        if by_order:
            head += [f"order {o}" for o in orders] + ["via inner derivative", "why"]
        lines = [_row(head), _row(["---:", "---"] + ["---:"] * (len(head) - 2))]
        for i, r in enumerate(rows[:n], 1):
            cells = [i, f"`{r['cause']}`", r["count"], r["real"]]
            if by_order:
                cells += [r["by_order"].get(o, r["by_order"].get(str(o), 0)) for o in orders]
                cells += [r["inner_derivative"], reason_for(r["cause"])]
            lines.append(_row(cells))
        return lines

    out += [f"## Failed checks by cause (top {min(top, len(res['causes']))} of "
            f"{len(res['causes'])})", "",
            "`[nested]`: raised by a zygote_sym call whose arguments were themselves traced "
            "(differentiating through a derivative). *via inner derivative*: order ≥ 2 checks "
            "whose function (itself an order-1 zygote_sym derivative, called on plain numbers) "
            "already failed, so nothing could be compared; they are counted under that root "
            "cause. `wrong value`: ran, but disagrees with finite differences. "
            "`TracerConversionError ... in X`: X is the innermost code outside zygote_sym that "
            "converted a traced value (SciPy's Python implementation, NumPy, the test itself).",
            ""]
    out += cause_table(res["causes"], top)
    out += ["", f"### Order-1 checks only (top {min(20, len(res['causes_order1']))} of "
            f"{len(res['causes_order1'])})", ""]
    out += cause_table(res["causes_order1"], 20, by_order=False)
    out += ["", "## Tests that failed other than through checks", "",
            _row(["cause", "tests"]), _row(["---", "---:"])]
    for r in res["test_failure_causes"][:25]:
        out.append(_row([f"`{r['cause']}`", r["count"]]))
    out += ["", "## Excluded", ""]
    for f, why in res["excluded"].items():
        out.append(f"- `{f}`: {why}")
    for n, why in res.get("deselected", {}).items():
        out.append(f"- `{n}`: {why}")
    ef = res.get("expected_failure_checks", {})
    if ef.get("count"):
        out.append(f"- {ef['count']} checks inside `pytest.raises` (the test expects check_grads "
                   "to fail; run the autograd way, not counted): "
                   + ", ".join(f"`{t}`" for t in ef["tests"]))
    for r in res["collection_errors"]:
        out.append(f"- `{r['nodeid']}`: could not be collected: `{_first_line(r['error'])}`")
    if not (res["excluded"] or res["collection_errors"] or res.get("deselected")
            or ef.get("count")):
        out.append("- none")
    out += ["", "## Timeouts and incomplete runs", "",
            f"- checks stopped by the CPU limit: {res['timeouts']['checks']}",
            f"- tests stopped by the wall-clock limit: {len(res['timeouts']['tests'])}"
            + ("".join(f"\n  - `{n}`" for n in res["timeouts"]["tests"])),
            f"- tests collected but never reported (shard killed): {len(t['not_run'])}"]
    for i, st in sorted(m["shards"].items()):
        if st["timed_out"] or st["returncode"] not in (0, 1):
            out.append(f"- shard {i}: returncode {st['returncode']}, timed out "
                       f"{st['timed_out']}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ main


def versions(python):
    code = ("import json, numpy, scipy, sympy, zygote_sym, sys, platform;"
            "print(json.dumps({'python': platform.python_version(), 'numpy': numpy.__version__,"
            "'scipy': scipy.__version__, 'sympy': sympy.__version__,"
            "'zygote_sym': __import__('importlib.metadata').metadata.version('zygote_sym'),"
            "'zygote_sym_path': zygote_sym.__file__}))")
    res = subprocess.run([python, "-c", code], capture_output=True, text=True)
    info = json.loads(res.stdout) if res.returncode == 0 else {}
    try:
        repo = os.path.dirname(os.path.dirname(info.get("zygote_sym_path", HERE)))
        commit = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "zygote_sym"],
                               capture_output=True, text=True).stdout.strip()
        info["commit"] = commit + ("+uncommitted changes" if dirty else "")
    except OSError:
        info["commit"] = "?"
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdist", help=f"an already-downloaded {SDIST_NAME} (default: the cache, "
                    "else `pip download`)")
    ap.add_argument("--cache-dir", default=os.path.join(HERE, ".cache"))
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that has zygote_sym and pytest (default: this one)")
    ap.add_argument("--jobs", type=int, default=max(1, min(os.cpu_count() or 1, 8)),
                    help="parallel pytest shards (default: CPU count, at most 8)")
    ap.add_argument("--files", help="comma-separated test files to run (default: all)")
    ap.add_argument("-k", help="pytest -k expression")
    ap.add_argument("--check-timeout", type=float, default=30.0,
                    help="CPU seconds allowed per gradient check (default 30)")
    ap.add_argument("--test-timeout", type=float, default=180.0,
                    help="wall seconds allowed per test (default 180)")
    ap.add_argument("--shard-timeout", type=float, default=1500.0,
                    help="wall seconds for the whole run before shards are killed (default 1500)")
    ap.add_argument("--out-dir", default=HERE,
                    help="where RESULTS.md and results.json go (default: next to this script)")
    ap.add_argument("--log-dir", help="keep the raw JSONL logs here (default: cache dir/logs)")
    ap.add_argument("--report-only", action="store_true",
                    help="re-aggregate the logs of the last run, without running")
    ap.add_argument("--top", type=int, default=40, help="causes listed (default 40)")
    args = ap.parse_args(argv)

    log_dir = args.log_dir or os.path.join(args.cache_dir, "logs")
    meta_path = os.path.join(log_dir, "meta.json")
    if args.report_only:
        with open(meta_path) as f:
            saved = json.load(f)
        meta, nodeids, excluded = saved["meta"], saved["nodeids"], saved["excluded"]
    else:
        sdist = find_or_download_sdist(args.sdist, args.cache_dir, args.python)
        shutil.rmtree(log_dir, ignore_errors=True)
        os.makedirs(log_dir)
        workdir = tempfile.mkdtemp(prefix="zs-autograd-conformance-")
        try:
            tests_dir = extract_tests(sdist, workdir)
            files, excluded = select_files(tests_dir, args)
            targets = [f"tests/{f}" for f in files]
            t0 = time.time()
            nodeids = collect(args, workdir, targets, log_dir)
            print(f"{len(nodeids)} tests in {len(files)} files; running in {args.jobs} "
                  f"shard(s)...", file=sys.stderr)
            status, wall = run_shards(args, workdir, targets, log_dir)
            wall = time.time() - t0
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "jobs": args.jobs,
                "wall_seconds": wall, "check_timeout": args.check_timeout,
                "test_timeout": args.test_timeout, "sdist": os.path.basename(sdist),
                "platform": platform.platform(), "cpus": os.cpu_count(),
                "shards": {str(k): v for k, v in status.items()}, **versions(args.python)}
        with open(meta_path, "w") as f:
            json.dump({"meta": meta, "nodeids": nodeids, "excluded": excluded}, f, indent=1)

    res = aggregate(load(log_dir), nodeids, excluded, meta)
    md = markdown(res, args.top)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "RESULTS.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(md)
    s = res["summary"]
    print(f"real-valued checks: {s['real']['passed']}/{s['real']['run']} passed "
          f"({pct(s['real']['passed'], s['real']['run'])}); wrote "
          f"{os.path.join(args.out_dir, 'RESULTS.md')} and results.json", file=sys.stderr)


if __name__ == "__main__":
    main()
