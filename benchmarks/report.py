"""What run.py prints: the gradient check, the machine, times and ratios,
and the markdown tables of docs/performance.md (results, the targets, the
busy-machine run)."""
import math
import os
import platform

import numpy as np

WRONG = 1e-6          # relative error above which a gradient is flagged wrong

# ------------------------------------------------------------------ checking
def flat(r):
    """any system's gradient (tuples, lists, torch tensors, CasADi DMs, jax
    arrays, floats) as one flat float64 vector, in argument order"""
    if isinstance(r, dict):                       # a pytree of parameters: sorted keys
        return flat([r[k] for k in sorted(r)])
    if isinstance(r, (tuple, list)):
        parts = [flat(v) for v in r]
        return np.concatenate(parts) if parts else np.zeros(0)
    if hasattr(r, "detach"):                      # torch
        r = r.detach().cpu().numpy()
    elif type(r).__module__.startswith("casadi"):
        r = r.full()
    return np.asarray(r, dtype=np.float64).ravel()


def rel_error(got, ref):
    """max|g - r| / max|r| (infinity-norm relative error), or max|g - r| when the
    reference is all zeros (B6: see README); inf on a shape mismatch"""
    g, r = flat(got), flat(ref)
    if g.shape != r.shape:
        return float("inf"), f"shape {g.shape} != reference {r.shape}"
    if not r.size:
        return 0.0, ""
    scale = np.max(np.abs(r))
    return float(np.max(np.abs(g - r)) / (scale or 1.0)), ""


# ------------------------------------------------------------------ machine
def machine():
    info = {}
    model = flags = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and model is None:
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and flags is None:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info["cpu"] = model or platform.processor() or platform.machine()
    if flags is not None:
        simd = [f for f in ("avx512f", "avx2", "fma") if f in flags]
        info["simd"] = " ".join(simd) or "none of avx512f/avx2/fma"
    info["cores"] = os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        info["usable cores"] = len(os.sched_getaffinity(0))
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    info["numpy"] = np.__version__
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:
        pass
    try:
        import numexpr as ne
        info["numexpr"] = ne.__version__
        info["numexpr threads"] = ne.get_num_threads() if hasattr(ne, "get_num_threads") else ne.nthreads
        info["numexpr VML"] = (f"yes ({ne.get_vml_version()})" if ne.use_vml else "no")
    except ImportError:
        info["numexpr"] = "not installed"
    for mod in ("sympy", "numba", "jax", "torch", "autograd", "casadi"):
        try:
            __import__(mod)
            from importlib import metadata
            info[mod] = metadata.version(mod)
        except Exception:
            info[mod] = "not importable"
    try:
        import subprocess
        import zygote_sym
        where = os.path.dirname(os.path.dirname(os.path.abspath(zygote_sym.__file__)))
        git = lambda *a: subprocess.run(["git", "-C", where, *a], capture_output=True,
                                        text=True).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD")
        if commit and os.path.exists(os.path.join(where, ".git")):
            dirty = git("status", "--porcelain", "--", "zygote_sym")
            info["zygote_sym"] = f"commit {commit}" + (
                " + uncommitted changes" if dirty else "")
        else:
            info["zygote_sym"] = "not a git checkout"
        print(f"  (zygote_sym imported from {where})")
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["BLAS threads"] = ", ".join(f"{i['internal_api']} {i['num_threads']}"
                                         for i in threadpool_info() if i["user_api"] == "blas")
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):
        info["load average (start)"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return info


# ------------------------------------------------------------------ formatting
def fmt_time(s):
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    if s < 1e-3:
        return f"{s*1e6:.1f} µs"
    if s < 1:
        return f"{s*1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r):
    if r is None or math.isnan(r) or math.isinf(r):
        return "-"
    return f"{r:.3g}×" if r < 100 else f"{r:,.0f}×"


def fmt_err(e, msg=""):
    if e is None:
        return "-"
    if msg:
        return f"**wrong** ({msg})"
    s = "0" if e == 0 else f"{e:.1e}"
    return f"**{s} wrong**" if e > WRONG else s


def markdown(header, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-"*(w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return float("nan")
    return a/b


# ------------------------------------------------------------------ targets
# The goals zygote_sym's default compile ("zygote_sym" row) is judged on:
#          steady ÷ JAX, steady ÷ hand-fused Numba loop, first call ÷ JAX
TARGETS = {
    "B1": (0.1, 3.0, 0.1),
    "B2": (0.7, 1.3, 1.0),
    "B3": (0.6, 1.3, 0.2),
    "B4": (0.25, 2.0, 0.2),
    "B5": (0.7, 1.3, 0.2),
    "B6": (0.25, 3.0, 0.2),
}


def _judged(got, goal):
    if goal is None:
        return fmt_ratio(got)
    if got is None or math.isnan(got):
        return f"- (≤ {goal:g}×)"
    return f"{fmt_ratio(got)} (≤ {goal:g}×, {'met' if got <= goal else '**not met**'})"


def target_table(by, workloads):
    """The targets table as markdown, from one run's rows {(workload, system): row};
    each cell is the measured ratio, its goal and met / not met.  Also lists
    the backend the default compile ended on."""
    rows = []
    for w in workloads:
        z, j, h = (by.get((w, s)) for s in ("zygote_sym", "jax", "hand_fused"))
        if z is None:
            continue
        goals = TARGETS.get(w, (None, None, None))
        wrong = z["rel_err"] is not None and z["rel_err"] > WRONG
        rows.append([w, z.get("backend") or "-",
                     _judged(ratio(z["steady_s"], j and j["steady_s"]), goals[0]),
                     _judged(ratio(z["steady_s"], h and h["steady_s"]), goals[1]),
                     _judged(ratio(z["first_s"], j and j["first_s"]), goals[2])
                     + (" **gradient wrong**" if wrong else "")])
    return markdown(["Workload", "Backend (steady)", "Steady ÷ JAX", "Steady ÷ hand fused",
                     "First call ÷ JAX"], rows)


def busy_table(rows):
    """Quiet against busy steady times, per row measured both ways, with the
    slowdown and how it compares with JAX's on the same workload."""
    jax = {r["workload"]: r for r in rows if r["system"] == "jax"}
    out = []
    for r in rows:
        if r.get("busy_s") is None:
            continue
        slow = ratio(r["busy_s"], r["steady_s"])
        j = jax.get(r["workload"])
        jslow = ratio(j and j.get("busy_s"), j and j["steady_s"])
        verdict = "-" if r["system"] == "jax" or math.isnan(jslow) else (
            "no worse than JAX" if slow <= jslow * 1.1 else "**worse than JAX**")
        out.append([r["workload"], r["system"], fmt_time(r["steady_s"]), fmt_time(r["busy_s"]),
                    fmt_ratio(slow), verdict])
    return markdown(["Workload", "System", "Steady, quiet", "Steady, busy", "Busy ÷ quiet",
                     "Slowdown"], out)
