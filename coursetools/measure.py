"""What ``bench`` measures with: a sampler of grading kernels' memory, a progress bar that
counts graded notebooks on disk, and a one-line description of the machine."""

import os
import platform
import threading
from pathlib import Path


class Ticker:
    """``tick()`` every ``interval`` seconds in a thread, from ``with`` to its end (and once
    more at the end)."""

    def __init__(self, interval):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self):
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.tick()


class KernelMemory(Ticker):
    """Peak memory of the ipykernel processes this process started (and their descendants),
    sampled from /proc."""

    def __init__(self, interval=0.1):
        super().__init__(interval)
        self.peak, self.kernels = 0, set()

    @staticmethod
    def _status(pid):
        fields = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
        except OSError:
            pass
        return fields

    @staticmethod
    def _cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def _is_kernel(self, pid, parents):
        """An ipykernel started cold, or one forked from a kernel template: the template's
        great-grandchild (its first child and the kernel's init only wait for the kernel;
        bubblewrap, above the template, has the template's command line in its own)."""
        from coursetools.sandbox.zygote import MARKER

        def template_python(p):
            line = self._cmdline(p)
            return MARKER in line and os.path.basename(line.split(" ")[0]).startswith("python")

        line = self._cmdline(pid)
        if MARKER not in line:
            return "ipykernel" in line
        depth = 0  # template, first child, init, kernel: 1, 2, 3, 4
        while pid and template_python(pid):
            depth, pid = depth + 1, parents.get(pid, 0)
        return depth == 4

    def tick(self):
        parents, hwm = {}, {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                status = self._status(entry)
                if status:
                    parents[int(entry)] = int(status.get("PPid", "0"))
                    hwm[int(entry)] = int(status.get("VmHWM", "0 kB").split()[0]) * 1024
        children = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
        ours, todo = set(), [os.getpid()]  # only kernels this run started, not other users'
        while todo:
            p = todo.pop()
            ours.add(p)
            todo.extend(children.get(p, []))
        for pid in ours:
            if not self._is_kernel(pid, parents):
                continue
            if parents.get(pid) in parents and self._is_kernel(parents[pid], parents):
                continue  # counted with its parent kernel
            tree, todo = 0, [pid]
            while todo:
                p = todo.pop()
                tree += hwm.get(p, 0)
                todo.extend(children.get(p, []))
            self.kernels.add(pid)
            self.peak = max(self.peak, tree)


class DiskProgress(Ticker):
    """A progress bar that counts autograded submissions appearing on disk."""

    def __init__(self, course, assignment, total, desc):
        from tqdm import tqdm

        super().__init__(0.5)
        self.folder, self.assignment = Path(course) / "autograded", assignment
        self.bar = tqdm(total=total, desc=desc, unit="nb")

    def tick(self):
        if not self.folder.is_dir():
            return
        done = sum((p / self.assignment).is_dir() for p in self.folder.iterdir())
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.bar.close()


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError):
        mem = float("nan")
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}"
