"""`make bench`: how fast and how big autograding is, against stock nbgrader, in one run.

On N copies of the same reference submission (the example class's complete and correct
notebook), measured in the same run on this machine:

- stock nbgrader: ``nbgrader autograde <assignment>`` in a scratch course (sequential,
  no sandbox), wall time;
- the course's engine (``coursetools.grading.autograde``: sandboxed, default jobs), wall
  time, and the speed-up over stock nbgrader;
- bare execution of the solution notebook with nbclient (kernel start included), the
  faster of two runs (the first also warms the file cache, which would flatter the engine);
- the engine's time per submission (a second engine run with jobs=1, divided by N) and
  its ratio to bare execution: the overhead of grading one notebook (``--no-serial``: the
  mean of the per-submission seconds of the parallel run instead);
- the peak memory of one grading kernel: the kernel-tracked high-water mark (VmHWM in
  /proc/<pid>/status) of each ipykernel process and its descendants, sampled every 0.1 s
  during the jobs=1 engine run (and the bare run); the largest such sum.

    python -m coursetools.bench [--n 8] [--jobs N] [--no-serial]

A script that prints figures beside their targets, not a test with a time limit.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from coursetools import example_class
from coursetools.demo import (
    DemoError,
    call_with_one_line_errors,
    ensure_release,
    make_course,
    scratch_lock,
)
from coursetools.paths import COURSE_ROOT, SOLUTIONS, nbgrader_env

SCRATCH = COURSE_ROOT / ".scratch" / "bench"
TARGET_SPEEDUP = 1.8
TARGET_OVERHEAD = 1.25
TARGET_PEAK = 1024**3  # 1 GiB


class _Ticker:
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


class KernelMemory(_Ticker):
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
            if "ipykernel" not in self._cmdline(pid):
                continue
            if parents.get(pid) in parents and "ipykernel" in self._cmdline(parents[pid]):
                continue  # counted with its parent kernel
            tree, todo = 0, [pid]
            while todo:
                p = todo.pop()
                tree += hwm.get(p, 0)
                todo.extend(children.get(p, []))
            self.kernels.add(pid)
            self.peak = max(self.peak, tree)


class _Progress(_Ticker):
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


def reference_class(course, assignment, n, root):
    """``n`` copies of the complete and correct submission in ``course/submitted``."""
    reference = example_class.STUDENTS[0]
    copies = [example_class.Student(f"ref{i:02d}", reference.story, reference.make,
                                    reference.timestamp) for i in range(1, n + 1)]
    return example_class.write_class(course, assignment, root, copies)


def time_stock(course, assignment, n):
    nbgrader = shutil.which("nbgrader", path=nbgrader_env()["PATH"]) or "nbgrader"
    with _Progress(course, assignment, n, "stock nbgrader"):
        start = time.monotonic()
        done = subprocess.run([nbgrader, "autograde", assignment], cwd=course,
                              env=nbgrader_env(), capture_output=True, text=True)
        seconds = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError("stock nbgrader autograde failed:\n" + done.stderr[-2000:])
    return seconds


def time_engine(course, assignment, jobs):
    from coursetools import grading

    start = time.monotonic()
    results = grading.autograde(Path(course), assignment, jobs=jobs)
    seconds = time.monotonic() - start
    scores = {s["score"] for s in results["submissions"]}
    bad = [s["student"] for s in results["submissions"] if s["status"] != "graded"]
    if bad or len(scores) != 1:
        raise RuntimeError(f"the engine graded copies of one notebook differently: {bad} "
                           f"{sorted(scores, key=str)}")
    return seconds, results


def time_bare(root, assignment):
    """Execute the solution notebook once with nbclient in a temporary copy of its folder."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    folder = Path(root) / SOLUTIONS / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise DemoError(f"no solution notebook in {folder}: run `make release`")
    total = 0.0
    env = nbgrader_env()
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory(prefix="nn-bench-bare-") as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True)
            for path in notebooks:
                nb = nbformat.read(Path(tmp) / path.name, as_version=4)
                client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                        resources={"metadata": {"path": tmp}})
                start = time.monotonic()
                try:
                    client.execute(stderr=subprocess.DEVNULL)  # the kernel's start-up noise
                except CellExecutionError as exc:
                    raise RuntimeError(f"the solution notebook {path.name} fails: "
                                       f"{exc.ename}: {exc.evalue}") from None
                total += time.monotonic() - start
    finally:
        os.environ.clear()
        os.environ.update(old)
    return total


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


def _row(label, value, target="", ok=None):
    verdict = "" if ok is None else ("OK" if ok else "MISSED")
    return f"  {label:<64} {value:>12}   {target:<10} {verdict}"


def run(n=8, jobs=None, serial=True, root=COURSE_ROOT, assignment=example_class.ASSIGNMENT):
    root = Path(root)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"bench: {assignment}, N={n} copies of the complete and correct submission", flush=True)
    print(f"machine: {machine()}", flush=True)
    load_before = os.getloadavg()[0]

    print("bare execution of the solution notebook (nbclient), twice...", flush=True)
    with KernelMemory() as bare_memory:
        bare = min(time_bare(root, assignment) for _ in range(2))

    stock_course = make_course(SCRATCH / "stock", root)
    reference_class(stock_course, assignment, n, root)
    stock = time_stock(stock_course, assignment, n)

    print("the course's engine (sandboxed, parallel)...", flush=True)
    engine_course = make_course(SCRATCH / "engine", root)
    reference_class(engine_course, assignment, n, root)
    engine, results = time_engine(engine_course, assignment, jobs)
    serial_seconds, memory, serial_results = None, bare_memory, results
    if serial:
        print("the course's engine with jobs=1 (per-submission time, kernel memory)...",
              flush=True)
        serial_course = make_course(SCRATCH / "serial", root)
        reference_class(serial_course, assignment, n, root)
        with KernelMemory() as memory:
            serial_seconds, serial_results = time_engine(serial_course, assignment, 1)

    print()
    print(f"bench results ({assignment}, N={n}; {machine()})")
    print(f"  load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}: "
          "other work on the machine slows the parallel run most")
    print(_row("stock nbgrader autograde, sequential, no sandbox", f"{stock:.1f} s"))
    print(_row(f"engine, sandbox {results['sandbox']}, jobs {results['jobs']}", f"{engine:.1f} s"))
    print(_row("speed-up (stock / engine)", f"{stock / engine:.2f}x",
               f">= {TARGET_SPEEDUP}x", stock / engine >= TARGET_SPEEDUP))
    print(_row("bare nbclient run of the solution notebook (best of 2)", f"{bare:.1f} s"))
    if serial_seconds is not None:
        per, how = serial_seconds / n, f"jobs=1: {serial_seconds:.1f} s / {n}"
    else:
        per = sum(s["seconds"] for s in results["submissions"]) / n
        how = f"mean of per-submission seconds, jobs {results['jobs']}"
    print(_row(f"engine per submission ({how})", f"{per:.1f} s"))
    print(_row("  ratio to bare execution", f"{per / bare:.2f}x",
               f"<= {TARGET_OVERHEAD}x", per / bare <= TARGET_OVERHEAD))
    where = "jobs=1 engine run" if memory is not bare_memory else "bare execution"
    print(_row(f"peak memory of one grading kernel ({where})",
               f"{memory.peak / 1024**2:.0f} MiB", "<= 1 GiB", memory.peak <= TARGET_PEAK))
    print("  (VmHWM of each ipykernel process + its descendants, from /proc every 0.1 s; "
          f"{len(memory.kernels)} kernel(s) seen)")
    engine_peaks = [s.get("peak_rss_mib") for s in serial_results["submissions"]
                    if s.get("peak_rss_mib") is not None]
    if engine_peaks:
        print(_row("  the engine's own figure (max peak_rss_mib in results)",
                   f"{max(engine_peaks):.0f} MiB"))
    print(f"  bare execution: {bare_memory.peak / 1024**2:.0f} MiB; "
          f"scratch courses in {SCRATCH.relative_to(COURSE_ROOT)}/")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="number of submissions (default 8)")
    parser.add_argument("--jobs", type=int, help="engine jobs (default: the engine's default)")
    parser.add_argument("--no-serial", dest="serial", action="store_false",
                        help="skip the jobs=1 engine run (per-submission time from results)")
    parser.add_argument("--from", dest="root", type=Path, default=COURSE_ROOT,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    def bench():
        with scratch_lock(SCRATCH, "make bench"):
            if args.root == COURSE_ROOT:
                ensure_release()
            return run(args.n, args.jobs, args.serial, args.root)

    ok, status = call_with_one_line_errors(bench)
    return status if ok else 1


if __name__ == "__main__":
    sys.exit(main())
