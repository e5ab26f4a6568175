"""The autograding engine: execute in parallel, record serially, on nbgrader's own gradebook.

    results = autograde(Path("."), "nn_from_scratch", jobs=4)      # what make autograde runs

SQLite has one writer, and a notebook with TensorFlow takes seconds to run, so the work is
split in two (the design; every step is nbgrader's own code, driven through its Python API):

phase 0, main process (``coursetools.gradebook.prepare``), while the workers start
    ``release/<assignment>/`` must be what ``source/`` generates now; the real gradebook gets
    the assignment's cells (hidden tests included) when it lacks them. A copy of it is the
    template for phase 1. The sandbox is probed (``coursetools.sandbox.probe``).
phase 1, a pool of ``jobs`` worker processes (``coursetools.worker``)
    Each worker is long-lived, forked ready from a fork server that imported nbgrader once
    (``WORKER_IMPORTS``), and grades one submission at a time: a scratch course with a
    private copy of the gradebook and of the submission,
    ``nbgrader autograde`` through ``nbgrader.converters.Autograde`` with the kernel in the
    sandbox (``coursetools.execute`` / ``coursetools.sandbox``). One kernel per job, at most;
    each job has its own sandbox uid and scratch folders. Hostile or broken submissions end
    as a status in their result, never as an exception. A worker process that dies (killed
    from outside, out of memory) breaks the pool: what it held is graded again once in a
    new pool. Nothing is written to the real course in this phase.
phase 2, main process, once (``coursetools.gradebook.record``)
    nbgrader ``Autograde`` over the executed notebooks with execution off, in the real
    course: ``SaveAutoGrades`` writes the real gradebook, ``autograded/`` gets the graded
    notebooks. The scores are checked against the notebooks (``verify``), read back with
    ``nbgrader.api.Gradebook``, exported to ``grades.csv`` and written, with timings and
    flags, to ``reports/<assignment>/results.json``; then the class report
    (``coursetools.report.write_report``) when that module is present. Why not one nbgrader
    run with a sandboxed kernel in the real course: nbgrader grades one notebook at a time,
    and parallel nbgrader processes on one SQLite gradebook would contend for its lock.

Nothing under ``submitted/`` is modified, moved or deleted. Logs: ``reports/<assignment>/logs/``
(one per student, nbgrader's and the kernel's own output; ``_prepare.log``, ``_record.log``).

results.json::

    {"assignment": str, "started": iso8601, "seconds": float, "jobs": int,
     "sandbox": "bwrap" | "none", "max_score": float, "limits": {name: value},
     "timings": {"prepare": s, "execute": s, "record": s},
     "submissions": [{"student": str,
                      "status": "graded" | "invalid_notebook" | "kernel_died" | "timeout"
                                | "error",
                      "reason": str (a sentence, "" when fine), "flags": [str],
                      "score": float | null (null: the tool failed), "max_score": float,
                      "seconds": float, "peak_rss_mib": float (its kernel's sandbox),
                      "grader_rss_mib": float (the grading worker's own peak so far),
                      "tests": [{"notebook": str, "grade_id": str, "points": float,
                                 "max_points": float, "passed": bool}]}]}
"""

import contextlib
import datetime
import importlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import nbformat

from coursetools import gradebook
from coursetools import sandbox as sandboxing
from coursetools.gradebook import GradingError
from coursetools.limits import NAMES, resolve
from coursetools.worker import grade_submission, init_worker

__all__ = ["GradingError", "autograde", "submissions"]
REPORTS = "reports"


def submissions(course, assignment, config=None):
    """{student: folder} of ``submitted/<student>/<assignment>/`` (hidden names skipped)."""
    config = gradebook.load_config(course) if config is None else config
    base = gradebook.course_dir(course, config, "submitted")
    if not base.is_dir():
        return {}
    found = {}
    for student in sorted(os.listdir(base)):
        folder = base / student / assignment
        if not student.startswith(".") and folder.is_dir() and not folder.is_symlink():
            found[student] = folder
    return found


def _released(course, assignment, config):
    folder = gradebook.course_dir(course, config, "release") / assignment
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.ipynb"))}


def _order(released):
    order = []
    for name, text in released.items():
        for cell in nbformat.reads(text, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                order.append((name, meta["grade_id"]))
    return order


def _scratch_root(scratch):
    root = Path(tempfile.mkdtemp(prefix="nnag-", dir=scratch))
    os.chmod(root, 0o711)  # sandbox users walk through to their own folders, nothing else
    return root


def _slot_dirs(root, jobs):
    for slot in range(jobs):
        for name in ("work", "ipc"):
            folder = root / f"k{slot}" / name
            folder.mkdir(parents=True)
            os.chmod(folder, 0o711)
        os.chmod(root / f"k{slot}", 0o711)


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", desc="grading", dynamic_ncols=True)


def autograde(course, assignment, jobs=None, sandbox=True, limits=None, progress=True,
              scratch=None, report=True):
    """Grade every submission of ``assignment`` in ``course``; return the results dict.

    ``jobs``: parallel kernels (default: the number of cores). ``sandbox=False`` runs
    kernels without isolation (trusted submissions only). ``limits``: overrides of
    ``coursetools.limits.GradingLimits`` (``{"cell_timeout": 5}``). Raises ``GradingError``
    (one line) when the course cannot be graded; a submission's failure is in its result.
    """
    started_at = datetime.datetime.now(datetime.UTC)
    start = time.monotonic()
    course = Path(course).resolve()
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    config = gradebook.load_config(course)
    try:
        effective = resolve(config, limits)
    except ValueError as exc:
        raise GradingError(str(exc)) from None
    source = gradebook.course_dir(course, config, "source") / assignment
    if not source.is_dir():
        raise GradingError(f"unknown assignment {assignment!r}: no folder {source}")
    found = submissions(course, assignment, config)
    if not found:
        raise GradingError(f"nothing submitted for {assignment}: no folder "
                           f"{gradebook.course_dir(course, config, 'submitted')}/*/{assignment}/")
    reports = course / REPORTS / assignment
    logs = reports / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    root = _scratch_root(scratch)
    timings = {}
    try:
        # Three start-up costs of about a second each overlap: the sandbox probe (a sandboxed
        # Python), this process loading nbgrader for prepare(), and the workers' start (the
        # fork server loads nbgrader once for all of them). Nothing is written before the
        # sandbox is known to work.
        with _spawnable_main(), contextlib.ExitStack() as stack:
            with ThreadPoolExecutor(max_workers=2) as starting:
                probed = starting.submit(sandboxing.probe, sandbox_uid()) if sandbox else None
                loading = starting.submit(importlib.import_module, "nbgrader.converters")
                pool = stack.enter_context(_pool(min(jobs, len(found))))
                loading.result()
                reason = probed.result() if probed is not None else None
            if reason:
                raise GradingError(f"{reason}; pass --unsandboxed to grade without a "
                                   "sandbox (trusted submissions only)")
            gradebook.prepare(course, assignment, config, root, logs / "_prepare.log")
            released = _released(course, assignment, config)
            template = gradebook.copy_database(gradebook.database(course, config)[1],
                                               root / "gradebook.db")
            _slot_dirs(root, jobs)
            timings["prepare"] = time.monotonic() - start
            if report:  # the class report's imports load while the kernels run
                threading.Thread(target=_warm_report, daemon=True).start()
            results = _phase1(pool, course, assignment, config, found, released, template,
                              root, logs, jobs, sandbox, effective, progress)
            pool.shutdown(wait=False)  # the workers exit while phase 2 records
            timings["execute"] = time.monotonic() - start - timings["prepare"]
            mark = time.monotonic()
            gradebook.record(course, assignment, config, results,
                             gradebook.course_dir(course, config, "submitted"), root,
                             logs / "_record.log")
            gradebook.verify(course, assignment, config, results)
            max_score = gradebook.read_back(course, assignment, config, results,
                                            _order(released))
            gradebook.export_csv(course, config)
            timings["record"] = time.monotonic() - mark
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = {
        "assignment": assignment, "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - start, 3), "jobs": jobs,
        "sandbox": "bwrap" if sandbox else "none", "max_score": max_score,
        "timings": {name: round(value, 3) for name, value in timings.items()},
        "limits": {name: getattr(effective, name) for name in NAMES},
        "submissions": [_public(sub) for sub in results],
    }
    (reports / "results.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if report:
        out_path = _write_report(course, assignment, out)
        if out_path is not None:
            out["report"] = str(out_path)
    return out


def sandbox_uid():
    """The sandbox uid of job slot 0 when the grader is root (None otherwise)."""
    return sandboxing.UID_BASE if sandboxing.is_root() else None


def kernel_threads(jobs, submissions):
    """BLAS/TensorFlow threads of each grading kernel: its share of the cores among the
    kernels that run at once (kernels whose pools are each the size of the machine fight
    over its cores)."""
    running = max(1, min(jobs, submissions))
    return max(1, (os.cpu_count() or 1) // running)


def _public(sub):
    keys = ("student", "status", "reason", "flags", "score", "max_score", "seconds", "tests")
    out = {key: sub.get(key) for key in keys}
    out["seconds"] = round(float(sub.get("seconds") or 0.0), 3)
    out["peak_rss_mib"] = round(sub.get("peak_rss", 0) / 1024**2, 1)
    out["grader_rss_mib"] = round(sub.get("grader_peak_rss", 0) / 1024**2, 1)
    return out


@contextlib.contextmanager
def _spawnable_main():
    """Workers are spawned, and spawning re-imports the caller's ``__main__`` from its file:
    when there is none (``python - < script``, ``<stdin>``), let them skip it."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or os.path.isfile(path) or \
            getattr(getattr(main, "__spec__", None), "name", None):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


# What the workers import before their first submission. A fork server (Linux, macOS) imports
# it once and forks every worker from there, instead of each spawned worker paying about two
# seconds of CPU for nbgrader (its package imports its Jupyter server extensions) while the
# kernels need the cores. The fork server holds no threads or sockets, so forking it is safe.
# coursetools first: its package spares jsonschema's slow optional import (see its __init__).
WORKER_IMPORTS = ["coursetools.worker", "coursetools.execute", "coursetools.sanitize",
                  "coursetools.tamper", "nbgrader.converters"]


def _context():
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_IMPORTS)
    return context


def _pool(workers):
    """The worker processes of phase 1, each with its own job slot (sandbox uid, folders)."""
    context = _context()
    slots = context.Queue()
    for slot in range(workers):
        slots.put(slot)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=init_worker, initargs=(slots,))
    for _ in range(workers):
        pool.submit(int)  # start every worker now: they import nbgrader meanwhile
    return pool


def _phase1(pool, course, assignment, config, found, released, template, root, logs, jobs,
            use_sandbox, limits, progress):
    hidden = sorted({str(root), str(course), str(gradebook.database(course, config)[1].parent)})
    common = {
        "course": str(course), "assignment": assignment, "scratch": str(root),
        "gradebook": str(template), "logs": str(logs), "sandbox": bool(use_sandbox),
        "limits": {name: getattr(limits, name) for name in NAMES}, "hidden": hidden,
        "threads": kernel_threads(jobs, len(found)),
        "source_dir": str(gradebook.course_dir(course, config, "source")),
        "notebooks": sorted(released), "released": released,
        "max_file_bytes": limits.max_file_bytes, "max_notebook_bytes": limits.max_notebook_bytes,
    }
    tasks = [dict(common, index=i, student=student, submission=str(folder))
             for i, (student, folder) in enumerate(sorted(found.items()))]
    results = {}
    bar = _progress(len(tasks), progress)
    pending, pools = tasks, [pool]
    try:
        for attempt in (1, 2):
            broken = _run(pools[-1], pending, results, bar)
            if not broken:
                break
            # A worker process died (killed from outside, out of memory, or it could not
            # start): the whole pool is gone. Grade what it held once more, in a new pool.
            if attempt == 2:
                if not results:
                    raise GradingError(
                        "the grading workers died before grading anything (a script calling "
                        "autograde() needs `if __name__ == \"__main__\":`)")
                for task in broken:
                    results[task["student"]] = _failed(
                        task, "the grading worker died twice while grading this submission")
            else:
                pools.append(_pool(min(jobs, len(tasks))))
                pending = broken
    finally:
        for extra in pools[1:]:
            extra.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return [results[student] for student in sorted(results)]


def _failed(task, reason):
    return {"student": task["student"], "status": "error", "flags": [], "reason": reason,
            "notebooks": [], "executed": None, "seconds": 0.0, "peak_rss": 0}


def _run(pool, tasks, results, bar):
    """Grade ``tasks`` in ``pool`` into ``results``; return the tasks a broken pool lost."""
    broken = []
    try:
        futures = {pool.submit(grade_submission, task): task for task in tasks}
    except BrokenProcessPool:
        return list(tasks)
    for future in as_completed(futures):
        task = futures[future]
        try:
            result = future.result()
        except BrokenProcessPool:
            broken.append(task)
            continue
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is this submission's
            result = _failed(task, f"the grading worker failed: {type(exc).__name__}: {exc}")
        results[task["student"]] = result
        if bar is not None:
            bar.set_postfix_str(f"{task['student']}: {result['status']}", refresh=False)
            bar.update()
    return broken


def _warm_report():
    try:
        import matplotlib.pyplot  # noqa: F401 - what write_report() spends most of its time on

        from coursetools import report  # noqa: F401
    except ImportError:
        pass


def _write_report(course, assignment, results):
    try:
        from coursetools import report  # the class report (another module's job)
    except ImportError:
        return None
    return report.write_report(course, assignment, results)
