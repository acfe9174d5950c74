"""Compiled gradients on Dask beyond one machine's memory: a gradient field and a summed loss.

Both workloads generate their data chunk by chunk inside the Dask graph (`da.linspace` and
elementwise ops on it), so no process ever holds the whole array; the results are reduced
(sums of the fields, the parameter gradient of the loss) before they leave the workers.

- field: `sin(x)*exp(-y**2)` written for scalars, `zs.dask.gradient(c, x, y)` over
  `--points` points (value and both gradients per point), then summed;
- loss: `sum((a*exp(-b*t) - y)**2)` over `--points` rows, gradient in (a, b).

Each runs on a LocalCluster (one thread per worker, worker processes unless --threads) for
every worker count of `--workers`, `--repeat` times (the first run compiles the kernels on
every worker).  Printed per run: seconds, points per second, peak RSS of the driver and of
the largest worker (getrusage), and the load average (other work on the machine).

    python benchmarks/dask_scale.py                      # 10**8 points, 1 and 2 workers
    python benchmarks/dask_scale.py --points 1e9 --chunk 5e6
    python benchmarks/dask_scale.py --scheduler tcp://scheduler:8786   # a running cluster
"""
import argparse
import os
import resource
import time

import numpy as np
import dask
import dask.array as da
from dask.distributed import Client, LocalCluster

import zygote_sym as zs
from zygote_sym import dask as zd


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (KiB on Linux)


BACKEND = {"name": "numpy"}
COMPILED: dict = {}  # one compiled function per workload: workers compile it once


def compiled(name, f, **kw):
    if name not in COMPILED:
        COMPILED[name] = zs.compile(f, backend=BACKEND["name"], **kw)
    return COMPILED[name]


def field(n, chunk):
    c = compiled("field", lambda x, y: np.sin(x) * np.exp(-y ** 2))
    x = da.linspace(0.0, 10.0, n, chunks=chunk)
    y = da.linspace(-1.0, 1.0, n, chunks=chunk)
    val, (gx, gy) = zd.withgradient(c, x, y)
    return [val.sum(), gx.sum(), gy.sum()]


def loss(n, chunk):
    c = compiled("loss", lambda p, t, y: np.sum((p[0] * np.exp(-p[1] * t) - y) ** 2), wrt=0)
    t = da.linspace(0.0, 2.0, n, chunks=chunk)
    y = 2.0 * da.exp(-1.3 * t) + 0.01 * da.sin(1000.0 * t)
    val, (g, _, _) = zd.withgradient(c, np.array([1.5, 0.9]), t, y)
    return [val, g]


def run(client, name, build, n, chunk, repeat):
    for r in range(repeat):
        client.run(lambda: None)
        t0 = time.perf_counter()
        out = dask.compute(*build(n, chunk))
        dt = time.perf_counter() - t0
        workers = client.run(peak_rss_mb)
        print(f"  {name:5s} run {r + 1}: {dt:7.2f} s  {n / dt / 1e6:7.1f} M points/s  "
              f"peak RSS driver {peak_rss_mb():6.0f} MB, largest worker "
              f"{max(workers.values()):6.0f} MB  (load {os.getloadavg()[0]:.1f})  "
              f"result {np.concatenate([np.ravel(o) for o in out])[:3]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=float, default=1e8, help="points (rows) per workload")
    ap.add_argument("--chunk", type=float, default=4e6, help="points per block")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--only", choices=["field", "loss"], help="one workload")
    ap.add_argument("--threads", action="store_true", help="workers as threads, not processes")
    ap.add_argument("--backend", default="numpy", choices=["numpy", "auto", "fused"],
                    help="zs.compile backend (auto: the background Numba compile of the "
                    "fused tier lands inside the timed runs)")
    ap.add_argument("--scheduler", help="address of a running cluster (ignores --workers)")
    args = ap.parse_args()
    n, chunk = int(args.points), int(args.chunk)
    BACKEND["name"] = args.backend
    todo = [(k, b) for k, b in (("field", field), ("loss", loss)) if args.only in (None, k)]
    print(f"{n:.3g} points in blocks of {chunk:.3g}, backend {args.backend}, "
          f"{os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    if args.scheduler:
        with Client(args.scheduler) as client:
            print(f"cluster {args.scheduler}: {len(client.scheduler_info()['workers'])} workers")
            for name, build in todo:
                run(client, name, build, n, chunk, args.repeat)
        return
    for w in [int(v) for v in args.workers.split(",")]:
        t0 = time.perf_counter()
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=not args.threads,
                          host="127.0.0.1", dashboard_address=":0",
                          protocol="tcp") as cluster, Client(cluster) as client:
            print(f"{w} worker{'s' * (w > 1)} (started in {time.perf_counter() - t0:.1f} s)")
            for name, build in todo:
                run(client, name, build, n, chunk, args.repeat)


if __name__ == "__main__":
    main()
