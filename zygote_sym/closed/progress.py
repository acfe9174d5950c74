"""Progress of a long `derive`: a tqdm bar (tqdm.auto: the notebook widget
in Jupyter, text on a terminal) that appears only once `derive` has run
AFTER seconds, so quick calls (and test runs) print nothing.  tqdm is a
dependency; where it is missing nothing is shown.
"""
import time
from typing import Optional

AFTER = 1.5  # seconds before a bar appears (the issue: "longer than a second or two")


class Progress:
    """Stages of work (`stage(name, total)`, then `update()` per item); the
    bar is made lazily, at the first update after AFTER seconds."""

    def __init__(self, after: Optional[float] = None) -> None:
        self.after = AFTER if after is None else after
        self.start = time.perf_counter()
        self.bar, self.name, self.total, self.done = None, "", 0, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False

    def stage(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        if self.bar is not None:  # a fresh bar per stage (a reset one shows stale rates)
            self.bar.close()
            self.bar = _bar(name, total, 0)

    def update(self, k: int = 1) -> None:
        self.done += k
        if self.bar is not None:
            self.bar.update(k)
        elif time.perf_counter() - self.start > self.after:
            self.bar = _bar(self.name, self.total, self.done)


class _Silent:
    """What stands for the bar without tqdm."""

    def update(self, k):
        pass

    def close(self):
        pass


def _bar(name, total, done):
    try:
        from tqdm.auto import tqdm  # optional dependency
    except ImportError:
        return _Silent()

    class Bar(tqdm):  # no monitor thread: it would outlive derive (and look like user threads
        monitor_interval = 0  # to the random-draw watch); the subclass leaves tqdm's own alone

    return Bar(total=total, initial=done, desc=f"derive: {name}", leave=False)
