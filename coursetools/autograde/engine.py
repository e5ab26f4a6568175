"""``autograde()``: the three phases of grading one assignment (see ``coursetools.autograde``)."""

import contextlib
import datetime
import importlib
import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from coursetools.autograde import cluster, record, staged, warm_start
from coursetools.autograde import pool as workers
from coursetools.autograde.jobs import Job, Run
from coursetools.autograde.prepare import prepare
from coursetools.course import Course, CourseError
from coursetools.judging.cases import judges_dir
from coursetools.judging.secret import course_key
from coursetools.sandbox import command as sandbox_command
from coursetools.sandbox.limits import NAMES, resolve


def _order(released):
    """(notebook, grade_id) of every graded cell, in notebook order."""
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


def _progress_bar(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", desc="grading", dynamic_ncols=True)


def autograde(course, assignment, jobs=None, sandbox=True, limits=None, progress=True,
              scratch=None, report=True, scheduler=None):
    """Grade every submission of ``assignment`` in ``course`` (a Course or its folder); return
    the results (the dict written to ``results.json``).

    ``jobs``: parallel kernels (default: the cores it may use). ``sandbox=False`` runs
    kernels without isolation (trusted submissions only). ``limits``: overrides of
    ``coursetools.sandbox.limits.GradingLimits`` (``{"cell_timeout": 5}``). Raises
    CourseError (one line) when the course cannot be graded; a submission's failure is in
    its result. ``scheduler``: a Dask scheduler to grade on instead of the local pool
    (``"local"``: the local pool whatever is configured; see ``autograde.cluster``).
    """
    started_at = datetime.datetime.now(datetime.UTC)
    start = time.monotonic()
    course = Course.of(course)
    jobs = max(1, int(jobs or len(workers.usable_cores())))
    try:
        effective = resolve(course.config, limits)
    except ValueError as exc:
        raise CourseError(str(exc)) from None
    limit_values = {name: getattr(effective, name) for name in NAMES}
    address = cluster.scheduler_address(course.config, scheduler)
    # a cluster is checked (scheduler, workers, their sandbox) before anything is written
    backend = cluster.connect(course.config, address, sandbox) if address else None
    jobs = backend.jobs if backend else jobs
    reports = course.reports(assignment)
    root = _scratch_root(scratch)
    timings = {}
    hidden = sorted({str(root), str(course.root)} | (
        {str(course.sqlite_path().parent)} if course.sqlite_path() else set()))
    warm = warm_start.settings(course.config, sorted(course.path(
        "source", assignment=assignment).glob("*.ipynb"))) if sandbox else None
    found = course.submissions(assignment)  # ({} for an unknown assignment: checked below)
    threads = workers.kernel_threads(jobs, len(found) or 1)
    # the local workers start their kernel templates while this process prepares the run
    warm_up = None if backend or not warm else {
        "imports": warm[0], "import_env": dict(warm[1]), "limits": limit_values,
        "scratch": str(root), "threads": threads, "hidden": hidden}
    try:
        # Start-up costs overlap: the sandbox probe (a sandboxed Python) and this process
        # loading nbgrader run in threads from the first moment, while the workers start
        # (start_pool waits seconds for the fork server, which loads nbgrader once for all of
        # them, before the workers can start their kernel templates). Nothing is written
        # before the sandbox is known to work and there is something to grade.
        _slot_dirs(root, jobs)
        with contextlib.ExitStack() as stack:
            stack.enter_context(workers.spawnable_main())  # also for a pool started again
            with ThreadPoolExecutor(max_workers=2) as starting:
                probed = starting.submit(sandbox_command.probe, sandbox_command.sandbox_uid(0)
                                         ) if sandbox and not backend else None
                imported = starting.submit(importlib.import_module, "nbgrader.converters")
                pool = stack.enter_context(backend or workers.start_pool(jobs, warm_up, threads))
            imported.result()
            reason = probed.result() if probed is not None else None
            course.check_assignment(assignment)
            if not found:
                raise CourseError(f"nothing submitted for {assignment}: no folder "
                                  f"{course.path('submitted')}/*/{assignment}/")
            if reason:
                raise CourseError(f"{reason}; pass --unsandboxed to grade without a "
                                  "sandbox (trusted submissions only)")
            logs = reports / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            template = prepare(course, assignment, root, logs / "_prepare.log")
            released = course.released_notebooks(assignment)
            timings["prepare"] = time.monotonic() - start
            if report:  # the class report's imports load while the kernels run
                threading.Thread(target=_warm_report, daemon=True).start()
            run = Run(assignment=assignment, config=course.config,
                      source_dir=str(course.path("source")), scratch=str(root),
                      gradebook=str(template), logs=str(logs), sandbox=bool(sandbox),
                      limits=limit_values, hidden=tuple(hidden),
                      threads=threads, released=released,
                      secret=course_key(course).hex(), judges=str(judges_dir(course)),
                      warm=warm)
            # phase 2 begins with the first graded submission, into a copy of the gradebook
            staging = stack.enter_context(_staged(course, assignment, root, logs))
            results = _execute(pool, run, found, jobs, progress,
                               staging.add if staging else None)
            pool.shutdown(wait=False)  # the workers exit while phase 2 records
            timings["execute"] = time.monotonic() - start - timings["prepare"]
            mark = time.monotonic()
            try:
                if not (staging and staging.finish(results)):
                    record.record(course, assignment, results, root, logs / "_record.log")
            except KeyboardInterrupt:
                record.export_csv(course)  # grades.csv says what the gradebook now holds
                raise
            record.verify(course, assignment, results)
            max_score = record.read_back(course, assignment, results, _order(released))
            record.export_csv(course)
            timings["record"] = time.monotonic() - mark
    finally:
        _keep_template_logs(root, reports / "logs")
        shutil.rmtree(root, ignore_errors=True)
    out = {
        "assignment": assignment, "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - start, 3), "jobs": jobs,
        "sandbox": "bwrap" if sandbox else "none", "max_score": max_score,
        "timings": {name: round(value, 3) for name, value in timings.items()},
        "limits": limit_values,
        "kernels": _kernel_starts(results),
        "submissions": [sub.public() for sub in results],
    }
    if backend:  # where phase 1 ran, and what travelled (coursetools.autograde.cluster)
        out["cluster"] = {"scheduler": address, "workers": backend.jobs, **backend.stats}
    (reports / "results.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if report:
        from coursetools.report import write_report

        out["report"] = str(write_report(course, assignment, out))
    return out


@contextlib.contextmanager
def _staged(course, assignment, root, logs):
    """Recording while the kernels run (``coursetools.autograde.staged``), or None when the
    gradebook cannot be staged; abandoned when the run does not get to the end."""
    staging = staged.StagedRecording.start(course, assignment, root, logs / "_record.log")
    try:
        yield staging
    finally:
        if staging is not None:
            staging.abandon()


def _execute(pool, run, found, jobs, progress, on_result=None):
    """Phase 1: every submission in the pool; the results in student order.
    ``on_result(result)``: each result as it comes."""
    todo = [Job(run, i, student, str(folder))
            for i, (student, folder) in enumerate(sorted(found.items()))]
    bar = _progress_bar(len(todo), progress)

    def advance(job, result):
        if on_result is not None:
            on_result(result)
        if bar is not None:
            bar.set_postfix_str(f"{job.student}: {result.status}", refresh=False)
            bar.update()

    try:
        results = pool.grade_all(todo, advance) if isinstance(pool, cluster.DaskPool) else \
            workers.grade_all(pool, todo, jobs, advance)
    finally:
        if bar is not None:
            bar.close()
    return [results[student] for student in sorted(results)]


def _keep_template_logs(root, logs):
    """The kernel templates' own output (logs/_template_k<slot>.log): why one failed."""
    for log in root.glob("k*/template.log"):
        if log.stat().st_size:
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, logs / f"_template_{log.parent.name}.log")


def _kernel_starts(results):
    """How the run's kernels started: {"warm": n, "cold": n, "cold_reason": the first
    reason a kernel that was to start warm started cold, or ""}."""
    started = [r for r in results if r.kernel_start]
    return {"warm": sum(r.kernel_start == "warm" for r in started),
            "cold": sum(r.kernel_start == "cold" for r in started),
            "cold_reason": next((r.cold_reason for r in results if r.cold_reason), "")}


def _warm_report():
    import matplotlib.pyplot  # noqa: F401 - what write_report() spends most of its time on

    import coursetools.report  # noqa: F401
