"""Autograde speed and memory against stock nbgrader, measured in one run.

On N copies of the same reference submission (the example class's complete and correct
notebook), measured in the same run on this machine:

- stock nbgrader: ``nbgrader autograde <assignment>`` in a scratch course (sequential,
  no sandbox), wall time;
- the course's engine (``coursetools.autograde``: sandboxed, default jobs), wall
  time, and the speed-up over stock nbgrader;
- bare execution of the solution notebook with nbclient (kernel start included), the
  faster of two runs (the first also warms the file cache, which would flatter the engine);
- the engine's time per submission (a second engine run with jobs=1, divided by N) and
  its ratio to bare execution: the overhead of grading one notebook (``--no-serial``: the
  mean of the per-submission seconds of the parallel run instead);
- the peak memory of one grading kernel: the kernel-tracked high-water mark (VmHWM in
  /proc/<pid>/status) of each ipykernel process and its descendants, sampled every 0.1 s
  during the jobs=1 engine run (and the bare run); the largest such sum.

    python -m coursetools bench [--n 8] [--jobs N] [--no-serial] [--assignment ID]

A script that prints figures beside their targets, not a test with a time limit.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from coursetools import example_class
from coursetools.commands.demo import ensure_release, make_course, scratch_lock
from coursetools.course import REPOSITORY, CourseError, nbgrader_env
from coursetools.measure import DiskProgress, KernelMemory, machine

SCRATCH = REPOSITORY / ".scratch" / "bench"
TARGET_SPEEDUP = {8: 3.0, 24: 3.5}  # at least this many submissions: this speed-up
TARGET_OVERHEAD = 0.6
TARGET_PEAK = 1024**3  # 1 GiB


def target_speedup(n):
    return max([t for at, t in TARGET_SPEEDUP.items() if n >= at] or [min(
        TARGET_SPEEDUP.values())])


def reference_class(course, assignment, n, origin):
    """``n`` copies of the complete and correct submission in ``course``'s submitted/."""
    reference = example_class.STUDENTS[0]
    copies = [example_class.Student(f"ref{i:02d}", reference.story, reference.make,
                                    reference.timestamp) for i in range(1, n + 1)]
    return example_class.write_class(course, assignment, origin, copies)


def time_stock(course, assignment, n):
    with DiskProgress(course, assignment, n, "stock nbgrader"):
        start = time.monotonic()
        course.nbgrader("autograde", assignment)
        seconds = time.monotonic() - start
    return seconds


def time_engine(course, assignment, jobs):
    from coursetools.autograde import autograde

    start = time.monotonic()
    results = autograde(course, assignment, jobs=jobs)
    seconds = time.monotonic() - start
    scores = {s["score"] for s in results["submissions"]}
    bad = [s["student"] for s in results["submissions"] if s["status"] != "graded"]
    if bad or len(scores) != 1:
        raise CourseError(f"the engine graded copies of one notebook differently: {bad} "
                           f"{sorted(scores, key=str)}")
    return seconds, results


def time_bare(origin, assignment):
    """Execute the solution notebook once with nbclient in a temporary copy of its folder."""
    from nbclient.exceptions import CellExecutionError

    from coursetools.judging.cases import judges_dir
    from coursetools.judging.local import run_judged

    folder = origin.path("solution", ".", assignment)
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise CourseError(f"no solution notebook in {folder}: run `make release`")
    total = 0.0
    env = nbgrader_env()
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory(prefix="nn-bench-bare-") as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True)
            for path in notebooks:
                nb = nbformat.read(Path(tmp) / path.name, as_version=4)
                start = time.monotonic()
                try:  # its hidden tests need the grader's inputs, and are judged
                    run_judged(nb, tmp, judges_dir(origin), assignment, path.stem)
                except CellExecutionError as exc:
                    raise CourseError(f"the solution notebook {path.name} fails: "
                                      f"{exc.ename}: {exc.evalue}") from None
                total += time.monotonic() - start
    finally:
        os.environ.clear()
        os.environ.update(old)
    return total


def _row(label, value, target="", ok=None):
    verdict = "" if ok is None else ("OK" if ok else "MISSED")
    return f"  {label:<64} {value:>12}   {target:<10} {verdict}"


def breakdown(results, per):
    """Rows of where one submission's ``per`` seconds went, from ``results`` (of the jobs=1
    run when there is one): the means of the kernel's start-up (working copy, sandbox,
    kernel), the cells that only import, the other cells, the grader's judging, the
    submission's share of what recording took after the last kernel (an SQLite gradebook is
    recorded while the kernels run: ``coursetools.autograde.staged``), and the rest
    (nbgrader's own steps, the worker's copies of the course and the submission, the start
    of the run)."""
    subs = results["submissions"]
    n = len(subs) or 1

    def mean(key):
        return sum(s.get("timing", {}).get(key, 0.0) for s in subs) / n

    parts = [("kernel templates starting (their imports; once per job slot)",
              mean("template")),
             ("kernel start-up (working copy, sandbox, fork or ipykernel)", mean("startup")),
             ("cells that only import (numpy, matplotlib, TensorFlow...)", mean("imports")),
             ("the other cells (students' code, tests)", mean("cells")),
             ("judging of hidden tests", sum(s.get("judge_seconds", 0.0) for s in subs) / n),
             ("recording after the last kernel (its share)",
              results.get("timings", {}).get("record", 0) / n)]
    parts.append(("the rest (nbgrader's steps, copies, start of the run)",
                  per - sum(seconds for _, seconds in parts)))
    rows = [_row("  where it went, per submission:", "")]
    rows += [_row(f"    {label}", f"{seconds:.2f} s", f"{seconds / per:.0%}") for label, seconds
             in parts]
    return rows


def measure(origin, assignment=example_class.ASSIGNMENT, n=8, jobs=None, serial=True):
    """Run every measurement and print the figures."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"bench: {assignment}, N={n} copies of the complete and correct submission", flush=True)
    print(f"machine: {machine()}", flush=True)
    load_before = os.getloadavg()[0]

    print("bare execution of the solution notebook (nbclient), twice...", flush=True)
    with KernelMemory() as bare_memory:
        bare = min(time_bare(origin, assignment) for _ in range(2))

    stock_course = make_course(SCRATCH / "stock", origin)
    reference_class(stock_course, assignment, n, origin)
    stock = time_stock(stock_course, assignment, n)

    print("the course's engine (sandboxed, parallel)...", flush=True)
    engine_course = make_course(SCRATCH / "engine", origin)
    reference_class(engine_course, assignment, n, origin)
    engine, results = time_engine(engine_course, assignment, jobs)
    serial_seconds, memory, serial_results = None, bare_memory, results
    if serial:
        print("the course's engine with jobs=1 (per-submission time, kernel memory)...",
              flush=True)
        serial_course = make_course(SCRATCH / "serial", origin)
        reference_class(serial_course, assignment, n, origin)
        with KernelMemory() as memory:
            serial_seconds, serial_results = time_engine(serial_course, assignment, 1)

    print()
    print(f"bench results ({assignment}, N={n}; {machine()})")
    print(f"  load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}: "
          "other work on the machine slows the parallel run most")
    print(_row("stock nbgrader autograde, sequential, no sandbox", f"{stock:.1f} s"))
    print(_row(f"engine, sandbox {results['sandbox']}, jobs {results['jobs']}", f"{engine:.1f} s"))
    speedup = target_speedup(n)
    print(_row("speed-up (stock / engine)", f"{stock / engine:.2f}x",
               f">= {speedup}x", stock / engine >= speedup))
    kernels = results.get("kernels", {})
    print(_row("  kernels started warm / cold", f"{kernels.get('warm', 0)} / "
               f"{kernels.get('cold', 0)}"))
    if kernels.get("cold_reason"):
        print(f"  (warm start unavailable: {kernels['cold_reason']})")
    print(_row("bare nbclient run of the solution notebook (best of 2)", f"{bare:.1f} s"))
    if serial_seconds is not None:
        per, how = serial_seconds / n, f"jobs=1: {serial_seconds:.1f} s / {n}"
    else:
        per = sum(s["seconds"] for s in results["submissions"]) / n
        how = f"mean of per-submission seconds, jobs {results['jobs']}"
    print(_row(f"engine per submission ({how})", f"{per:.1f} s"))
    judging = sum(s.get("judge_seconds", 0.0) for s in results["submissions"])
    busy = sum(s["seconds"] for s in results["submissions"])
    print(_row("  of which the grader's judging of hidden tests (parallel run)",
               f"{judging / n:.2f} s", "<= 5%", judging <= 0.05 * busy))
    print(_row("  ratio to bare execution", f"{per / bare:.2f}x",
               f"<= {TARGET_OVERHEAD}x", per / bare <= TARGET_OVERHEAD))
    for line in breakdown(serial_results, per):
        print(line)
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
    shared = [s.get("peak_pss_mib") or 0 for s in serial_results["submissions"]]
    if any(shared):
        print(_row("  proportional set size (pages shared with the template once)",
                   f"{max(shared):.0f} MiB", "<= 1 GiB", max(shared) * 1024**2 <= TARGET_PEAK))
    print(f"  bare execution: {bare_memory.peak / 1024**2:.0f} MiB; "
          f"scratch courses in {SCRATCH.relative_to(REPOSITORY)}/")
    return 0


def add_arguments(parser):
    parser.add_argument("--n", type=int, default=8, help="number of submissions (default 8)")
    parser.add_argument("--jobs", type=int, help="engine jobs (default: the engine's default)")
    parser.add_argument("--no-serial", dest="serial", action="store_false",
                        help="skip the jobs=1 engine run (per-submission time from results)")
    parser.add_argument("--assignment", default=example_class.ASSIGNMENT,
                        help=f"whose reference solution to grade (default "
                             f"{example_class.ASSIGNMENT})")


def run(course, args):
    if args.n < 1:
        raise CourseError("--n must be at least 1")
    assignment = course.check_assignment(args.assignment)
    with scratch_lock(SCRATCH, "make bench"):
        ensure_release(course)
        return measure(course, assignment, args.n, args.jobs, args.serial)
