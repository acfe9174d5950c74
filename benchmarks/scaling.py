"""How cost grows with size: B2 (the gradient field) at 10**4 ... 10**7
points and B6 (the nest) at depth 20, 200, 2000, for zygote_sym, JAX, the
hand-fused Numba loop and hand-written NumPy.

    python benchmarks/scaling.py [--systems zygote_sym,jax] [--timeout 90]

Each (system, workload, size) runs in a child process of its own: its first
call is a fresh process's (after the library's one-time start-up on an
unrelated function, as in run.py, zygote_sym's cost-model timing at the
cell's array size included), a crash is one failed cell (JAX's
compile of the depth-2000 nest overflows the stack on some machines) and a
case taking longer than --timeout seconds is reported as such.  zygote_sym's
default compile ("auto") reports its steady time twice: on the kernel that
serves at once (the NumPy backend), and after `wait_fused()` swapped in the
fused kernel (with the compile's wall time), each with the backend that ran.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hand_fused  # noqa: E402
from report import fmt_time, markdown  # noqa: E402

SIZES = {"B2": [10**4, 10**5, 10**6, 10**7], "B6": [20, 200, 2000]}
SYSTEMS = ["numpy", "zygote_sym", "hand_fused", "jax"]


def data(w, n):
    if w == "B2":
        rng = np.random.default_rng(0)
        return rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    return (0.3,)


def make_numpy(w, n):
    if w == "B2":
        def g2(x, y):
            ey = np.exp(-y**2)
            q = 1 + x**2*y**2
            return np.cos(x)*ey + 2*x*y**2/q, -2*y*np.sin(x)*ey + 2*x**2*y/q
        return g2

    def g6(x):
        d = 1.0
        for _ in range(n):
            c = math.cos(x)
            d *= c*x
            x = math.sin(x)*x + c
        return d
    return g6


def make_zygote_sym(w, n):
    import zygote_sym as zs
    zs.compile(lambda a, b: a*np.cos(b)).gradient(0.1, 0.2)  # start-up, not charged
    if w == "B2":  # the cost model's once-per-process timing at this size, not charged
        import zs_impls  # (as in run.py: zs_impls.startup_at_sizes)
        zs_impls.startup_at_sizes((n,))

    def f2(x, y):
        return np.sin(x)*np.exp(-y**2) + np.log1p(x**2*y**2)

    def f6(x):
        for _ in range(n):
            x = np.sin(x)*x + np.cos(x)
        return x

    def build():
        c = zs.compile(f2 if w == "B2" else f6)
        build.compiled = c
        return c.gradient
    return build


def make_hand_fused(w, n):
    import numba
    jit = numba.njit(error_model="numpy", cache=False)
    numba.njit(lambda v: v + 1.0)(1.0)  # numba's start-up, not charged
    if w == "B2":
        return jit(hand_fused.b2_gradient)
    g6 = jit(hand_fused.b6_derivative)
    return lambda x: g6(x, n)


def make_jax(w, n):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    jax.jit(jax.grad(lambda v: jnp.sum(jnp.tanh(v)**2)))(jnp.ones(3)).block_until_ready()

    def f6(x):
        for _ in range(n):
            x = jnp.sin(x)*x + jnp.cos(x)
        return x

    def build():
        if w == "B2":
            g = jax.jit(jax.vmap(jax.grad(lambda x, y: jnp.sin(x)*jnp.exp(-y**2)
                                          + jnp.log1p(x**2*y**2), argnums=(0, 1))))
        else:
            g = jax.jit(jax.grad(f6))
        return lambda *a: jax.tree_util.tree_map(lambda v: v.block_until_ready(), g(*a))
    return build


def steady(fn, args, budget=0.3):
    fn(*args)
    times, end = [], time.perf_counter() + budget
    while len(times) < 3 or (time.perf_counter() < end and len(times) < 500):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def case(system, w, n, wait):
    """One cell, in this process: {first_s, steady_s, backend, ...}, printed
    as a JSON line after each phase (a cell cut short keeps what it has);
    zygote_sym's fused compile is waited for at most `wait` seconds."""
    args = data(w, n)
    if system == "jax":
        import jax.numpy as jnp
        args = tuple(jnp.asarray(a) for a in args)
    made = globals()["make_" + system](w, n)
    builds = system in ("zygote_sym", "jax")   # the build is part of the first call
    t0 = time.perf_counter()
    fn = made() if builds else made
    fn(*args)
    out = dict(first_s=time.perf_counter() - t0)
    out["steady_s"] = steady(fn, args)
    out["backend"] = made.compiled.backend if system == "zygote_sym" else system
    print(json.dumps(out), flush=True)
    if system == "zygote_sym":
        t0 = time.perf_counter()
        if made.compiled.wait_fused(wait) != "fused":
            out["fused_wait_s"] = time.perf_counter() - t0
            out["backend_after_wait"] = "none swapped in"
            return out
        out["fused_wait_s"] = time.perf_counter() - t0
        for _ in range(13):  # "auto" races the two kernels on the next calls, keeps one
            fn(*args)
        out["steady_after_wait_s"] = steady(fn, args)
        out["backend_after_wait"] = made.compiled.backend
    return out


def run(systems, timeout):
    """Every cell in a child process: [row]."""
    rows = []
    for w, sizes in SIZES.items():
        for n in sizes:
            for system in systems:
                cmd = [sys.executable, os.path.abspath(__file__), "--case", f"{system}:{w}:{n}"]
                row = dict(workload=w, size=n, system=system)
                cmd.append(f"--wait={timeout / 2:g}")
                try:
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                    stdout = p.stdout
                    if p.returncode:
                        tail = p.stderr.strip().splitlines()
                        row["failed"] = (f"crashed (signal {-p.returncode})" if p.returncode < 0
                                         else (tail or [f"exit status {p.returncode}"])[-1][:100])
                except subprocess.TimeoutExpired as e:
                    stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or ""
                    row["failed"] = f"over {timeout:g} s"
                lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
                if lines:  # what the cell measured before it ended
                    row.update(json.loads(lines[-1]))
                    if row.get("failed", "").startswith("over"):
                        row["backend_after_wait"] = f"cut at {timeout:g} s"
                        row.pop("failed")
                rows.append(row)
                print(f"  {w} {n:>8} {system:11s} " + (row.get("failed") or
                      f"first {fmt_time(row['first_s'])}, steady {fmt_time(row['steady_s'])} "
                      f"({row['backend']})" + ("" if "backend_after_wait" not in row else
                                              f"; after the swap: "
                                              f"{fmt_time(row.get('steady_after_wait_s'))} "
                                              f"({row['backend_after_wait']})")), flush=True)
    return rows


def table(rows):
    out = []
    for r in rows:
        size = f"10**{round(math.log10(r['size']))}" if r["workload"] == "B2" else \
            f"depth {r['size']}"
        if "failed" in r:
            out.append([r["workload"], size, r["system"], r["failed"], "", "", ""])
            continue
        after = "-"
        if "steady_after_wait_s" in r:
            after = (f"{fmt_time(r['steady_after_wait_s'])} ({r['backend_after_wait']}, "
                     f"compiled in {fmt_time(r['fused_wait_s'])})")
        elif "backend_after_wait" in r:
            after = r["backend_after_wait"] + (f" after {fmt_time(r['fused_wait_s'])}"
                                               if r.get("fused_wait_s") else "")
        out.append([r["workload"], size, r["system"], fmt_time(r["first_s"]),
                    fmt_time(r["steady_s"]), r["backend"], after])
    return markdown(["Workload", "Size", "System", "First call", "Steady", "Backend",
                     "Steady after the fused swap"], out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds per cell")
    ap.add_argument("--case", default="", help=argparse.SUPPRESS)  # system:workload:size
    ap.add_argument("--wait", type=float, default=45.0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case:
        system, w, n = a.case.split(":")
        print(json.dumps(case(system, w, int(n), a.wait)))
        return
    rows = run([s for s in a.systems.split(",") if s], a.timeout)
    print("\n## Scaling\n")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
