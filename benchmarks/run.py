"""Benchmark: zygote_sym's compiled gradients against JAX, PyTorch, HIPS autograd,
CasADi, SymPy (diff + lambdify), a hand-fused Numba loop and hand-written
NumPy on workloads B1-B7, all in one process.  A script, not a timed test.

    python benchmarks/run.py [--only B1,B3] [--systems zygote_sym,jax,numpy]
                             [--busy] [--scaling] [--json out.json] [--quick]

For each (workload, system) it prints the first-call time (trace + compile +
run, from a fresh state: the compiled object is created inside the timed
region; the median of --first-reps such builds, see first_call), the steady
median per call, the ratios of both to JAX and to
hand-written NumPy, and the error of the gradient against the NumPy reference
(so a fast wrong answer shows).  Then, as markdown for docs/performance.md:
the results, the targets table (zygote_sym's default compile against JAX and
the hand-fused loop, met / not met), with --busy the steady times again with
a competing process spinning on one core (load.py), with --scaling the
scaling table (scaling.py), and the machine it ran on.

Figures are whole-machine noisy: compare ratios within one run, never
absolute times across runs, and run it on a quiet machine.
"""
import argparse
import atexit
import gc
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hand_fused  # noqa: E402  (each gradient as one hand-written Numba loop)
import peers  # noqa: E402  (the workloads, their data and the peer implementations)
import report  # noqa: E402  (checks, formatting, the markdown tables)
import scaling  # noqa: E402  (the scaling table)
import zs_impls  # noqa: E402  (zygote_sym's implementations)
from load import Busy, OtherLoad  # noqa: E402
from report import fmt_err, fmt_ratio, fmt_time, markdown, ratio, rel_error  # noqa: E402

WORKLOADS = ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
DESCRIPTION = {
    "B1": "x*y*sin(z) + exp(x*y)/(1 + z**2), gradient at one point (3 scalars)",
    "B2": "sin(x)*exp(-y**2) + log1p(x**2*y**2), gradient field over 10**6 points",
    "B3": "sum((a*exp(-b*t) + c - y)**2), gradient in (a, b, c), 10**5 points",
    "B4": "Rosenbrock sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2), n = 10**4",
    "B5": "logistic loss sum(log1p(exp(-y*(X @ w)))), X 10**4 x 100",
    "B6": "x <- sin(x)*x + cos(x) iterated 20 times, derivative at one point",
    "B7": "2-layer MLP, mean squared error over 10**4 x 64 data, parameters in a dict "
          "(W1 64x32, b1, W2 32x1, b2; tanh hidden layer)",
}
SYSTEMS = ["numpy-f-only", "numpy", "zygote_sym", "zygote_sym-numpy", "zygote_sym-fused",
           "hand_fused", "jax", "torch", "autograd", "casadi", "sympy"]
WRONG = report.WRONG
NOTES: list = []      # remarks printed under the table (fallbacks, failures)


# ------------------------------------------------------------------ warm-ups
# One-time library start-up (JAX's backend, torch's dispatcher, SymPy's first
# printer...) is paid here, outside the timings, on functions unrelated to the
# workloads, so it is not charged to whichever workload happens to run first.
def _warm_jax():
    import jax
    import jax.numpy as jnp
    jax.jit(jax.grad(lambda v: jnp.sum(jnp.tanh(v)**2)))(jnp.linspace(0, 1, 7)).block_until_ready()


def _warm_torch():
    import torch
    v = torch.linspace(0, 1, 7, dtype=torch.float64, requires_grad=True)
    torch.autograd.grad(torch.sum(torch.tanh(v)**2), v)


def _warm_autograd():
    import autograd
    import autograd.numpy as anp
    autograd.grad(lambda v: anp.sum(anp.tanh(v)**2))(np.linspace(0, 1, 7))


def _warm_casadi():
    import casadi as ca
    v = ca.SX.sym("v", 2)
    ca.Function("w", [v], [ca.gradient(ca.tanh(v[0])*v[1], v)])(np.array([0.1, 0.2]))


def _warm_sympy():
    import sympy as sp
    a = sp.Symbol("a")
    sp.lambdify(a, sp.diff(sp.tanh(a)**2, a), "numpy")(np.linspace(0, 1, 7))
    sp.lambdify(a, sp.diff(sp.tanh(a)**2, a), "numexpr")(np.linspace(0, 1, 7))


def _fresh_sympy_cache():
    try:
        from sympy.core.cache import clear_cache
        clear_cache()
    except Exception:
        pass


_KERNEL_CACHES: list = []  # [parent directory] of the fresh on-disk kernel caches, when run.py owns them


def _fresh_zygote_sym():
    """SymPy's cache cleared and, unless the user set ZYGOTE_SYM_CACHE_DIR, a
    new empty on-disk cache of fused kernels: every first call of the fused
    backend includes Numba's compile, not a load of an earlier build's."""
    _fresh_sympy_cache()
    if _KERNEL_CACHES:
        os.environ["ZYGOTE_SYM_CACHE_DIR"] = tempfile.mkdtemp(dir=_KERNEL_CACHES[0])


# (impls, warm-up, state reset before each first call)
MAKERS = {
    "zygote_sym": (zs_impls.impls, zs_impls.warmup, _fresh_zygote_sym),
    "zygote_sym-numpy": (lambda: zs_impls.impls("numpy"), zs_impls.warmup, _fresh_zygote_sym),
    "zygote_sym-fused": (lambda: zs_impls.impls("fused"), zs_impls.warmup, _fresh_zygote_sym),
    "hand_fused": (hand_fused.impls, hand_fused.warm, None),
    "jax": (peers.jax_impls, _warm_jax, None),
    "torch": (peers.torch_impls, _warm_torch, None),
    "autograd": (peers.autograd_impls, _warm_autograd, None),
    "casadi": (peers.casadi_impls, _warm_casadi, None),
    "sympy": (peers.sympy_impls, _warm_sympy, _fresh_sympy_cache),
}


def row_name(system, key):
    """(workload, system label, how to pick the gradient out of the result)."""
    pick = None
    if key == "B2np":
        return "B2", "sympy[numpy]", pick
    if key == "B2sum":
        return "B2", "zygote_sym[np.sum]", pick
    if key in ("B3args", "B5args"):
        return key[:2], f"{system}[args]", lambda g: g[0]   # drop d/dt, d/dy, d/dA...
    if key in ("B3wrt", "B5wrt"):
        return key[:2], f"{system}[args,wrt=0]", lambda g: g[0]
    if key == "B7" and system.startswith("zygote_sym"):
        return key, system, lambda g: g[0]                  # the dict of wrt=0
    return key, system, pick


# ------------------------------------------------------------------ allocator
def tune_malloc():
    """Keep glibc from returning freed memory to the OS after every call.

    With glibc's defaults a NumPy temporary of 10**5 float64 (800 kB) comes
    from mmap or a freshly grown heap top and is given back when freed, so
    every call page-faults its temporaries in again: on the benchmark VM,
    np.exp of 10**5 elements took 0.9 ms that way against 0.12 ms with the heap
    kept (358 vs 0.8 minor faults per call).  Which behaviour a process gets
    depends on its allocation history (importing CasADi alone flips it), so
    the ratios would depend on import order.  run.py pins it: freed memory
    stays in the heap (NumPy-based systems only; JAX and PyTorch have their
    own allocators).  --malloc-default keeps glibc's defaults."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        ok = (libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
              and libc.mallopt(M_TOP_PAD, 64 << 20))
    except (OSError, AttributeError):
        ok = False
    return ("glibc mallopt: mmap threshold 32 MB, trim threshold 1 GB, top pad 64 MB "
            "(freed memory stays in the heap)") if ok else "default (mallopt unavailable)"


# ------------------------------------------------------------------ timing
def timeit(fn, min_time, max_reps, min_reps):
    """median seconds per call of fn() after one warm call"""
    fn()
    times = []
    t_end = time.perf_counter() + min_time
    while (time.perf_counter() < t_end or len(times) < min_reps) and len(times) < max_reps:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def first_call(make, reset=None, reps=3):
    """The first call, `reps` times from scratch: (median seconds, every
    time, median CPU seconds of the process (all its threads: less
    disturbed by other processes than the wall clock), the last build's
    callable, its first result).

    One timing of build + call is one sample of a noisy quantity (three quiet
    runs once gave B2's first call ÷ JAX as 0.99×, 1.42× and 1.53×), so each
    row builds `reps` fresh objects and reports the median.  Before each
    build, all alike: background work an earlier row left (zygote_sym's fused
    compiles) is waited for, so it cannot compete for the cores; `reset`
    clears the system's caches (SymPy's cache; a fresh, empty on-disk kernel
    cache); a full garbage collection runs outside the timed region."""
    times, cpu, fn, out = [], [], None, None
    for _ in range(max(1, reps)):
        fn = out = None     # the previous build is freed before the next one
        zs_impls.quiesce()
        zs_impls.forget()   # the previous build's objects: no fused compile for them
        if reset:
            reset()
        gc.collect()
        f0 = _minor_faults()
        c0, t0 = time.process_time(), time.perf_counter()
        fn = make()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        FAULTS.append(_minor_faults() - f0)
    return statistics.median(times), times, statistics.median(cpu), fn, out


FAULTS: list = []  # minor page faults of each first-call build (diagnostic, console only)


def _minor_faults():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except ImportError:  # (not on Windows)
        return 0


# ------------------------------------------------------------------ main
def options(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="workloads, e.g. B1,B3 (default: all)")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all)")
    ap.add_argument("--busy", action="store_true",
                    help="also time every row again with a competing process on one core")
    ap.add_argument("--scaling", action="store_true",
                    help="also the scaling table (B2 at 10**4..10**7, B6 at depth 20..2000)")
    ap.add_argument("--json", default="", help="also write the rows, machine and tables here")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    ap.add_argument("--first-reps", type=int, default=3,
                    help="fresh builds per first-call figure, the median reported (default 3)")
    ap.add_argument("--malloc-default", action="store_true",
                    help="keep glibc's malloc defaults (see tune_malloc)")
    a = ap.parse_args(argv)
    a.only = [w.strip().upper() for w in a.only.split(",") if w.strip()] or WORKLOADS
    bad = [w for w in a.only if w not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {WORKLOADS}")
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in a.systems if s not in SYSTEMS]
    if bad:
        ap.error(f"unknown system(s) {bad}; choose from {SYSTEMS}")
    return a


def build(systems):
    """{system: {key: make}} for the systems that import, after their warm-up."""
    impls = {}
    for name in systems:
        if name not in MAKERS:
            continue
        make_impls, warm, _ = MAKERS[name]
        try:
            impls[name] = make_impls()
            warm()
        except Exception as e:
            impls.pop(name, None)
            NOTES.append(f"{name}: unavailable ({type(e).__name__}: {str(e)[:120]})")
            print(f"{name}: unavailable ({type(e).__name__}: {e})", flush=True)
    return impls


def main(argv=None):
    a = options(argv)
    # cold on-disk caches of fused kernels (a new one per build, _fresh_zygote_sym):
    # first calls include Numba's compile; a cache dir set by the user is kept
    if "ZYGOTE_SYM_CACHE_DIR" not in os.environ:
        _KERNEL_CACHES.append(tempfile.mkdtemp(prefix="zs-bench-"))
        atexit.register(shutil.rmtree, _KERNEL_CACHES[0], True)
        os.environ["ZYGOTE_SYM_CACHE_DIR"] = tempfile.mkdtemp(dir=_KERNEL_CACHES[0])
    malloc = "glibc defaults (--malloc-default)" if a.malloc_default else tune_malloc()
    tm = dict(min_time=0.1, max_reps=200, min_reps=3) if a.quick else \
        dict(min_time=0.5, max_reps=2000, min_reps=5)
    busy_tm = dict(min_time=0.1 if a.quick else 0.3, max_reps=1000, min_reps=3)

    mach = report.machine()
    mach["malloc"] = malloc
    print("# machine")
    for k, v in mach.items():
        print(f"  {k}: {v}")
    print(flush=True)

    np_grad, np_f = peers.numpy_impls(), peers.numpy_f_only()
    ref = {w: np_grad[w]() for w in a.only}
    impls = build(a.systems)
    if "array sizes" in zs_impls.STARTUP:
        NOTES.append(f"zygote_sym's one-time start-up at large arrays (its code generator's cost "
                     f"model times NumPy against numexpr once per process and array size): "
                     f"{fmt_time(zs_impls.STARTUP['array sizes'])}, paid in the warm-up, not "
                     "charged to any row (as JAX's backend start-up is not)")
    rows = []

    def record(w, system, first, steady, err=None, errmsg="", note="", fn=None, backend=None,
               first_all=(), first_cpu=None):
        row = dict(workload=w, system=system, first_s=first, steady_s=steady, rel_err=err,
                   err_msg=errmsg, note=note, backend=backend, fn=fn, first_all_s=list(first_all),
                   first_cpu_s=first_cpu,
                   load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        rows.append(row)
        e = "" if err is None else f"   rel.err {err:.1e}" + (f" ({errmsg})" if errmsg else "")
        flag = "   WRONG" if (err is not None and err > WRONG) else ""
        each = f" ({', '.join(fmt_time(t) for t in first_all)})" if len(first_all) > 1 else ""
        each += f" cpu {fmt_time(first_cpu)}" if first_cpu is not None else ""
        each += f" faults {FAULTS[-len(first_all):]}" if FAULTS and first_all else ""
        print(f"{w:4s} {system:24s} first {fmt_time(first):>10s}{each}   steady "
              f"{fmt_time(steady):>10s}{e}{flag}{'   [' + backend + ']' if backend else ''}"
              f"{'   ' + note if note else ''}", flush=True)
        return row

    def run_one(w, system, make, pick=None, reset=None, note=""):
        try:
            first, first_all, first_cpu, fn, out = first_call(make, reset, a.first_reps)
            backend = None
            if system.startswith("zygote_sym"):
                zs_impls.settle()  # "auto": the steady time is the one a long loop ends on
            err, msg = rel_error(pick(out) if pick else out, ref[w])
            steady = timeit(fn, **tm)
            if system.startswith("zygote_sym"):
                backend = zs_impls.backend()  # after the race: the kernel that stays
            return record(w, system, first, steady, err, msg, note, fn, backend, first_all,
                          first_cpu)
        except Exception as e:
            text = f"{type(e).__name__}: {str(e).splitlines()[0][:150] if str(e) else ''}"
            rows.append(dict(workload=w, system=system, first_s=None, steady_s=None,
                             rel_err=None, err_msg="", note="FAILED " + text))
            print(f"{w:4s} {system:24s} FAILED {text}", flush=True)
            return None

    load, per_workload, busy_load = OtherLoad(), {}, {}
    for w in a.only:
        print(f"# {w}: {DESCRIPTION[w]}", flush=True)
        w_start = OtherLoad.sample()
        if "numpy-f-only" in a.systems and w in np_f:
            record(w, "numpy-f-only", float("nan"), timeit(np_f[w], **tm),
                   note="f alone, no gradient", fn=np_f[w])
        if "numpy" in a.systems:
            run_one(w, "numpy", lambda fn=np_grad[w]: fn)
        for name, table in impls.items():
            reset = MAKERS[name][2]
            for key in [k for k in table if k[:2] == w]:
                wl, label, pick = row_name(name, key)
                if key == "B2sum":
                    continue          # only run as the fallback of B2 below
                r = run_one(wl, label, table[key], pick, reset)
                if name == "zygote_sym" and key == "B2" and (r is None or (r["rel_err"] or 0) > WRONG):
                    why = "it failed" if r is None else "its gradient field was wrong"
                    NOTES.append(f"B2 zygote_sym: batched evaluation of the scalar function ({why}) "
                                 "is not available, so B2 is judged on np.sum(f(x, y)) over the "
                                 "arrays, labelled zygote_sym[np.sum]")
                    run_one(wl, "zygote_sym[np.sum]", table["B2sum"], None, reset,
                            note="fallback: np.sum over arrays")
        per_workload[w] = load.cores(w_start)
        print(f"(other processes used {per_workload[w]:.2f} cores during {w})", flush=True)
        if a.busy:
            with Busy():
                b_start = OtherLoad.sample()
                for r in rows:
                    if r["workload"] == w and r.get("fn") is not None:
                        r["busy_s"] = timeit(r["fn"], **busy_tm)
                        print(f"{w:4s} {r['system']:24s} busy   {fmt_time(r['busy_s']):>10s}   "
                              f"({fmt_ratio(ratio(r['busy_s'], r['steady_s']))} quiet)", flush=True)
                busy_load[w] = load.cores(b_start)
            print(f"(during the busy run other processes used {busy_load[w]:.2f} cores)",
                  flush=True)
        print(flush=True)
    for r in rows:
        r.pop("fn", None)

    by = {(r["workload"], r["system"]): r for r in rows}
    for r in rows:
        j, n = by.get((r["workload"], "jax")), by.get((r["workload"], "numpy"))
        r["steady_vs_jax"] = ratio(r["steady_s"], j and j["steady_s"])
        r["first_vs_jax"] = ratio(r["first_s"], j and j["first_s"])
        r["steady_vs_numpy"] = ratio(r["steady_s"], n and n["steady_s"])
        r["first_vs_numpy"] = ratio(r["first_s"], n and n["first_s"])

    header = ["Workload", "System", "Backend", "First call", "Steady / call", "First ÷ JAX",
              "Steady ÷ JAX", "Steady ÷ NumPy", "Max rel. err"]
    table = []
    for r in rows:
        if r["note"].startswith("FAILED"):
            table.append([r["workload"], r["system"], "", "FAILED: " + r["note"].split()[1].rstrip(":"),
                          "", "", "", "", ""])
            NOTES.append(f"{r['workload']} {r['system']}: {r['note']}")
            continue
        table.append([r["workload"], r["system"], r["backend"] or "", fmt_time(r["first_s"]),
                      fmt_time(r["steady_s"]), fmt_ratio(r["first_vs_jax"]),
                      fmt_ratio(r["steady_vs_jax"]), fmt_ratio(r["steady_vs_numpy"]),
                      fmt_err(r["rel_err"], r["err_msg"])])
    out = {"results": markdown(header, table), "targets": report.target_table(by, a.only)}
    print("## Results\n")
    print(out["results"])
    print("\nFirst call: build (jit / trace / compile / lambdify) + one run, timed from a fresh "
          f"compiled object, median of {a.first_reps} builds; steady: median per call after a warm call (for zygote_sym's default "
          "compile, after its fused kernel was swapped in and raced; Backend: the kernel that "
          "stayed).  Max rel. err: max|g - g_numpy| / max|g_numpy| against the hand-written "
          f"NumPy gradient (flagged **wrong** above {WRONG:g}).")
    print("\n## Targets: zygote_sym's default compile, same run\n")
    print(out["targets"])
    if a.busy:
        out["busy"] = report.busy_table(rows)
        print("\n## Busy machine: one competing process spinning on one core\n")
        print(out["busy"])
        mach["other processes during the busy runs"] = (
            ", ".join(f"{w} {c:.2f}" for w, c in busy_load.items())
            + " cores (the competitor is about 1.00)")
    if a.scaling:
        print("\n## Scaling (each cell in a fresh process)\n", flush=True)
        srows = scaling.run([s for s in scaling.SYSTEMS if s in a.systems or s == "numpy"], 90)
        out["scaling"] = scaling.table(srows)
        print()
        print(out["scaling"])
    if hasattr(os, "getloadavg"):
        mach["load average (end)"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    mach["other processes during the quiet runs"] = (
        ", ".join(f"{w} {c:.2f}" for w, c in per_workload.items()) + " cores; near 0 = quiet")
    print("\n## Machine\n")
    for k, v in mach.items():
        print(f"- {k}: {v}")
    if NOTES:
        print("\n## Notes\n")
        for n in NOTES:
            print(f"- {n}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(clean(dict(machine=mach, rows=rows, tables=out, notes=NOTES,
                                 options=dict(only=a.only, systems=a.systems, quick=a.quick,
                                              busy=a.busy, scaling=a.scaling))),
                      fh, indent=1, default=str)
        print(f"\nwrote {a.json}")


def clean(o):
    """JSON without NaN or infinity (None instead)."""
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    return o


if __name__ == "__main__":
    main()
