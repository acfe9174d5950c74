"""Machine load for the benchmarks: what other processes used while we ran
(`OtherLoad`), and a competing process to run beside a workload (`Busy`).

A user's machine is rarely idle.  `Busy()` starts one process that spins in
pure Python on one core (pinned to the last core this process may use, so it
always takes the same core) until it is stopped: a kernel whose threads wait
for each other by spinning (OpenBLAS's pool, OpenMP) then fights it for that
core, which a quiet run never shows.
"""
import os
import subprocess
import sys
import time

SPIN = "while True: pass"


class Busy:
    """`with Busy():` one pure-Python spin loop in another process, on one core."""

    def __init__(self):
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SPIN])
        if hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(self.proc.pid, {max(os.sched_getaffinity(0))})
            except OSError:
                pass
        time.sleep(0.2)  # let it start spinning before anything is timed
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


class OtherLoad:
    """CPU time other processes used while we ran, in cores (from /proc/stat
    minus this process's own CPU time): a run where this is not near 0 was
    not on a quiet machine and its ratios are suspect.  (Under `Busy`, the
    competitor counts: about 1.0 is expected.)"""

    def __init__(self):
        self.start = self.sample()

    @staticmethod
    def sample():
        try:
            with open("/proc/stat") as fh:
                v = [int(x) for x in fh.readline().split()[1:]]
            busy = (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")   # minus idle, iowait
        except (OSError, ValueError, IndexError):
            return None
        t = os.times()
        return busy, t.user + t.system, time.perf_counter()

    def cores(self, since=None):
        a, b = since or self.start, self.sample()
        if a is None or b is None or b[2] <= a[2]:
            return float("nan")
        return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / (b[2] - a[2]))
