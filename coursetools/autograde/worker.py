"""Phase 1 of autograding: one submission, executed in a scratch course by nbgrader's Autograde.

``grade_submission(job)`` runs in a worker process of the pool (``coursetools.autograde.pool``),
one submission at a time, one kernel at a time. It never raises: whatever the submission
does, it returns a :class:`~coursetools.autograde.jobs.SubmissionResult`.

1. copy the submission into ``<scratch>/sNNNN/course/submitted/<student>/<assignment>/``
   (``coursetools.autograde.intake``: regular files only, nothing that shadows the course);
2. check each notebook: an unreadable one is left out, so nbgrader gives it 0 like a
   missing notebook, and the submission is ``invalid_notebook``;
3. tamper scan (``coursetools.autograde.tamper``) against the released notebook;
4. ``nbgrader autograde`` through its Python API in that scratch course, with a private copy
   of the gradebook, the course's ``source/``, the sanitizing fixes and the sandboxed kernel
   of ``coursetools.preprocessors``; the graded notebook lands in the scratch
   ``autograded/`` folder, which phase 2 records into the real gradebook.
"""

import contextlib
import copy
import os
import shutil
import time
import traceback
from pathlib import Path

import nbformat
from traitlets.config import Config

from coursetools.autograde import intake, tamper
from coursetools.autograde.jobs import SubmissionResult
from coursetools.course import Course, close_logger, file_logger
from coursetools.sandbox.command import sandbox_uid
from coursetools.sandbox.limits import nbgrader_config

try:
    import resource
except ImportError:  # not on Windows
    resource = None

_LOG_TAIL = 20_000
# This worker process's job slot (its sandbox uid and folders), taken once by init_worker.
_slot = 0


class TemplateLost(Exception):
    """The kernel died because its template did (``SandboxedKernelManager.template_lost``)."""


def init_worker(slots, warm_up=None, cores=None):
    """Pool initializer: take this worker's job slot, and warm what every submission needs
    (``warm_up``: the run's kernel template, started in the background). ``cores``: each
    slot's cores (``pool.slot_cores``), which the worker and all it starts keep."""
    global _slot
    _slot = slots.get()
    if cores:
        # TensorFlow hands every step of a Keras fit from thread to thread; a thread woken
        # on the core where the other slot's kernel computes waits for it (the notebook's
        # fit took 2.6 s instead of 1.8 s with two kernels side by side). On a core of its
        # own a kernel only waits for its own worker, whose steps come between its cells.
        with contextlib.suppress(OSError):  # (a cpuset changed since): unpinned, as before
            os.sched_setaffinity(0, cores[_slot])
    if warm_up:
        _start_template(warm_up)
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's session chatter, not ours to fix
    import nbgrader.converters  # noqa: F401

    import coursetools.preprocessors  # noqa: F401

    tamper.scan({"cells": [{"cell_type": "code", "source": "!true"}]})


def _start_template(spec):
    """Start this slot's kernel template, with the settings its kernels will ask for
    (``SandboxedKernelManager._fork_warm``), so that the first kernel finds it ready."""
    import threading

    from coursetools.sandbox.limits import GradingLimits
    from coursetools.sandbox.zygote import slot_template

    slot_dir = Path(spec["scratch"]) / f"k{_slot}"
    template = slot_template(
        imports=list(spec["imports"]), import_env=spec["import_env"],
        limits=GradingLimits(**spec["limits"]), work_root=slot_dir / "work",
        ipc_root=slot_dir / "ipc", uid=sandbox_uid(_slot, True), threads=spec["threads"],
        hidden_extra=list(spec["hidden"]), env=dict(os.environ, NBGRADER_EXECUTION="autograde"))
    def start_and_stay():
        template.ensure_started()
        # the template's sandbox dies with the thread that started it (bubblewrap's
        # --die-with-parent is the parent *thread's* death signal): this one never ends
        threading.Event().wait()

    threading.Thread(target=start_and_stay, daemon=True).start()


def _preprocessors(converter, slot_dir, uid):
    """The Autograde pipeline of one submission, as instances whose records we read after."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    from coursetools.preprocessors import (
        DeduplicateIds,
        InjectHiddenCases,
        JudgeHiddenCases,
        RestoreCellMetadata,
        SandboxedExecute,
    )

    parent = converter  # its exporter exists only once start() runs
    restore, dedupe = RestoreCellMetadata(parent=parent), DeduplicateIds(parent=parent)
    execute = SandboxedExecute(parent=parent, work_root=str(slot_dir / "work"),
                               work_owner=-1 if uid is None else uid)
    judge = JudgeHiddenCases(parent=parent)
    converter.sanitize_preprocessors = [
        ClearOutput, restore, dedupe, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
    # the hidden inputs go in after OverwriteCells restored the test cells, and the verdicts
    # are written before SaveAutoGrades scores them
    inject = InjectHiddenCases(parent=parent)
    converter.autograde_preprocessors = [
        inject, execute, judge, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    return {"execute": execute, "sanitize": (restore, dedupe), "judge": judge,
            "inject": inject}


def _config(job, course_dir, slot_dir):
    run = job.run
    config = nbgrader_config(run.limits)
    config.merge(Config({
        "CourseDirectory": {
            "root": str(course_dir), "source_directory": run.source_dir,
            "submitted_directory": "submitted", "autograded_directory": "autograded",
            "db_url": f"sqlite:///{course_dir / 'gradebook.db'}"},
        "Autograde": {"create_student": True},
        # the course's secret and judge modules stay outside the scratch course
        "InjectHiddenCases": {"secret": run.secret, "judges_directory": run.judges},
        # nbgrader 0.9.6 fails on re-inserting a deleted test cell whose neighbour is gone
        # too: a deleted test scores 0, as in stock nbgrader
        "OverwriteCells": {"add_missing_cells": False},
        "SandboxedKernelManager": {
            "mode": "bwrap" if run.sandbox else "none", "slot": _slot,
            "threads": run.threads, "ipc_root": str(slot_dir / "ipc"),
            "hidden_extra": list(run.hidden), "log_path": str(course_dir.parent / "kernel.log"),
            "warm_imports": list(run.warm[0]) if run.warm else None,
            "warm_import_env": dict(run.warm[1]) if run.warm else {}},
    }))
    merged = copy.deepcopy(run.config)  # the course's nbgrader_config.py, read once
    merged.merge(config)
    return Course(course_dir, config=merged)


def _status(runs):
    """(status, reason, flags) from the ExecutionRecords of SandboxedExecute."""
    status, reasons, flags = "graded", [], []
    for run in runs:
        label = f"{run.notebook}: " if len(runs) > 1 else ""
        if run.kind == "error":
            return "error", label + run.ended, flags
        if run.kind in ("kernel_died", "timeout"):
            status = run.kind if status == "graded" else status
            later = f"; {run.cells_not_run} later cell(s) not run, scored 0" \
                if run.cells_not_run else ""
            reasons.append(f"{label}{run.ended}{later}")
        elif run.timeouts:
            status = "timeout" if status == "graded" else status
            cells = ", ".join(run.cell(index) for index in run.timeouts)
            reasons.append(f"{label}{cells} ran longer than the time limit and was "
                           "interrupted (scored 0)")
        for index in run.truncated_cells:
            flags.append(f"{label}{run.cell(index)}: output flood, truncated")
    return status, "; ".join(reasons), flags


def grade_submission(job):
    """Phase 1 for one submission (see the module docstring)."""
    started = time.monotonic()
    result = SubmissionResult(job.student)
    scratch = Path(job.run.scratch) / f"s{job.index:04d}"
    logger = file_logger(f"coursetools.worker.{os.getpid()}",
                         Path(job.run.logs) / f"{job.student}.log",
                         "%(asctime)s [%(levelname)s] %(message)s")
    try:
        try:
            _grade(job, result, scratch, logger)
        except TemplateLost:  # not the notebook's doing: once more, with a new template
            logger.warning("the kernel template died while the kernel ran: graded again")
            result = SubmissionResult(job.student)
            try:
                _grade(job, result, scratch, logger)
            except TemplateLost:
                result.fail("the kernel template died twice while grading this submission")
    except Exception as exc:  # noqa: BLE001 - a submission must never stop the batch
        logger.error(traceback.format_exc())
        result.fail(f"the autograder failed on this submission: {type(exc).__name__}: "
                    f"{exc}".splitlines()[0])
    finally:
        kernel_log = scratch / "kernel.log"
        if kernel_log.exists():
            size = kernel_log.stat().st_size
            with open(kernel_log, "rb") as fh:
                fh.seek(max(0, size - _LOG_TAIL))
                tail = fh.read().decode("utf-8", "replace")
            logger.info("kernel output (last %d bytes):\n%s", _LOG_TAIL, tail)
        close_logger(logger)
    result.seconds = time.monotonic() - started
    if resource is not None:  # this worker's own peak so far: the grader stays small
        result.grader_peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _intake(job, result, submitted):
    """Copy and check the submission; its findings go to ``result``. Returns the reasons
    the submission is (partly) invalid."""
    run, flags = job.run, result.flags
    intake.copy_submission(job.submission, submitted, run.limits["max_file_bytes"], flags)
    stamp = submitted / "timestamp.txt"
    if stamp.exists() and intake.read_timestamp(submitted) is None:
        stamp.unlink()  # nbgrader would stop on it; no time stamp means "on time"
        flags.append("timestamp.txt unreadable: ignored")
    invalid = {}
    for path in sorted(submitted.glob("*.ipynb")):
        nb, major, problem = intake.check_notebook(path, run.limits["max_notebook_bytes"])
        if problem:
            invalid[path.stem] = problem
            path.unlink()  # nbgrader then treats it as a missing notebook: 0 points
            continue
        if path.stem not in run.released:
            flags.append(f"{path.name}: not a notebook of this assignment, not graded")
            continue
        if major == 3:
            flags.append(f"{path.name}: nbformat 3 notebook, upgraded to nbformat 4")
        result.notebooks.append(path.stem)
        released = nbformat.reads(run.released[path.stem], as_version=4)
        locked = [c.metadata.nbgrader["grade_id"] for c in released.cells
                  if c.metadata.get("nbgrader", {}).get("locked")]
        flags.extend(tamper.structure(nb, released))
        flags.extend(tamper.scan(nb, locked_ids=locked))
    for name in run.released:
        if name not in result.notebooks and name not in invalid:
            flags.append(f"{name}.ipynb missing: its tests score 0")
    return list(invalid.values())


def _grade(job, result, scratch, logger):
    from nbgrader.converters import Autograde

    course_dir = scratch / "course"
    submitted = course_dir / "submitted" / job.student / job.run.assignment
    shutil.rmtree(scratch, ignore_errors=True)  # a retry after a worker died starts afresh
    submitted.mkdir(parents=True)
    os.chmod(scratch, 0o700)
    invalid = _intake(job, result, submitted)
    reasons = []
    if invalid:
        result.status = "invalid_notebook"
        reasons.append("; ".join(invalid) + ": graded as a missing notebook (0 points)")
    if not result.notebooks:
        result.status = "invalid_notebook"
        result.reason = reasons[0] if reasons else \
            "no notebook of this assignment in the submission"
        return

    (course_dir / "gradebook.db").write_bytes(Path(job.run.gradebook).read_bytes())
    slot_dir = Path(job.run.scratch) / f"k{_slot}"
    uid = sandbox_uid(_slot, job.run.sandbox)
    course = _config(job, course_dir, slot_dir)
    stages = {}
    course.convert(Autograde, job.run.assignment, job.student, log=logger, check=False,
                   before_start=lambda c: stages.update(_preprocessors(c, slot_dir, uid)))
    for stage in stages["sanitize"]:
        result.flags.extend(f for f in stage.findings if f not in result.flags)
    result.judged = list(stages["judge"].verdicts)
    result.judge_seconds = stages["inject"].seconds + stages["judge"].seconds
    result.flags.extend(f"{v.message} (looks forged)" for v in result.judged if v.suspicious)
    runs = stages["execute"].runs
    for run in runs:
        logger.info("executed %s.ipynb in %.2f s (kernel peak %.0f MiB)%s", run.notebook,
                    run.seconds, run.peak_rss / 1024**2, f": {run.ended}" if run.ended else "")
    status, reason, more_flags = _status(runs)
    result.flags.extend(more_flags)
    if any(r.kind == "template_lost" for r in runs):
        raise TemplateLost()
    result.peak_rss = max([r.peak_rss for r in runs] + [0])
    result.peak_pss = max([r.peak_pss for r in runs] + [0])
    result.kernel_start = "warm" if runs and all(r.warm for r in runs) else "cold"
    result.cold_reason = next((r.cold_reason for r in runs if r.cold_reason), "")
    template = sum(r.template_seconds for r in runs)
    result.timing = {"template": template, "startup": sum(r.startup for r in runs) - template,
                     "imports": sum(r.import_seconds for r in runs),
                     "cells": sum(r.cell_seconds for r in runs)}
    executed = course_dir / "autograded" / job.student / job.run.assignment
    missing = [n for n in result.notebooks if not (executed / f"{n}.ipynb").is_file()]
    if status == "error" or missing:
        result.fail(reason or (
            f"nbgrader could not grade {', '.join(m + '.ipynb' for m in missing)} "
            f"(see reports/{job.run.assignment}/logs/{job.student}.log)"))
        return
    result.executed = str(executed)
    if status != "graded":
        result.status = status
    result.reason = "; ".join(reasons + ([reason] if reason else []))
