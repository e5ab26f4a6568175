"""The watchdog of a running sandbox: resident memory of all its processes, and wall clock."""

import os
import sys
import threading
import time

# Reading a kernel's proportional set size walks its whole memory map (about 10 ms of the
# grader's CPU for a kernel with TensorFlow, holding the kernel's memory-map lock while it
# does): it is read when the resident size has grown by PSS_GROWTH since the last reading,
# or PSS_EVERY seconds after it, not at every look at the resident size (a cheap counter).
PSS_EVERY, PSS_GROWTH = 2.0, 16 * 1024**2


def children(pid):
    """The processes whose parent is ``pid`` (Linux /proc; none elsewhere)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
        except OSError:
            pass
    return found


def tree_rss(pid):
    """Resident bytes of ``pid`` and all its descendants (Linux /proc; 0 elsewhere)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(children(p))
    return total


def tree_pss(pid):
    """Proportional set size of ``pid`` and its descendants: a page shared with other
    processes (a kernel template's) counts as its share (Linux /proc; 0 elsewhere)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def descendants(pid):
    """The processes under ``pid``: its children, theirs, and so on."""
    found, todo = [], [pid]
    while todo:
        below = children(todo.pop())
        found += below
        todo += below
    return found


class Watchdog(threading.Thread):
    """Kill the sandbox (``kill()``) past ``memory`` resident bytes or ``seconds`` of wall time."""

    def __init__(self, pid, kill, memory, seconds, interval=0.2, alive=None, pss=False):
        super().__init__(daemon=True, name=f"sandbox-watchdog-{pid}")
        self.pid, self.kill, self.memory, self.seconds = pid, kill, memory, seconds
        self.alive = alive or (lambda: True)
        self.interval, self.peak_rss, self.peak_pss = interval, 0, 0
        self.pss = pss and sys.platform.startswith("linux")  # reported, not a limit
        self._stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.seconds
        pss_due, pss_rss = 0.0, 0
        while not self._stop_event.is_set() and self.alive():
            rss = tree_rss(self.pid) if sys.platform.startswith("linux") else 0
            self.peak_rss = max(self.peak_rss, rss)
            if self.pss and (time.monotonic() >= pss_due or rss >= pss_rss + PSS_GROWTH):
                self.peak_pss = max(self.peak_pss, tree_pss(self.pid))
                pss_due, pss_rss = time.monotonic() + PSS_EVERY, rss
            if rss > self.memory:
                self.kill(f"the kernel's processes used more than "
                          f"{self.memory / 1024**3:g} GiB of memory", kind="kernel_died")
                return
            if time.monotonic() > deadline:
                self.kill(f"the notebook ran longer than {self.seconds} s", kind="timeout")
                return
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
