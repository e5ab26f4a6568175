"""Phase 1 of autograding: one submission, executed in a scratch course by nbgrader's Autograde.

``grade_submission(job)`` runs in a worker process of the pool (``coursetools.grading``),
one submission at a time, one kernel at a time. It never raises: whatever the submission
does, it returns a dict (``student``, ``status``, ``reason``, ``flags``, ``executed`` ...).

1. copy the submission into ``<scratch>/sNNNN/course/submitted/<student>/<assignment>/``:
   regular files and folders only (symbolic links, fifos and devices are dropped: nbgrader,
   running outside the sandbox, would otherwise copy whatever they point at), without
   files that shadow the course package (``nnscratch.py``, ``nnscratch/``), reading with
   ``O_NOATIME`` where allowed (nothing under ``submitted/`` changes, not even a time stamp);
2. check each notebook (size, JSON, nbformat 3 or 4 -- 3 is upgraded in memory by nbformat,
   as nbgrader does): an unreadable one is left out, so nbgrader gives it 0 like a missing
   notebook, and the submission is ``invalid_notebook``;
3. tamper scan (``coursetools.tamper``) against the released notebook;
4. ``nbgrader autograde`` through its Python API in that scratch course, with a private copy
   of the gradebook, the course's ``source/``, the sanitizing fixes of
   ``coursetools.sanitize`` and ``coursetools.execute.SandboxedExecute`` (the sandboxed
   kernel); the graded notebook lands in the scratch ``autograded/`` folder, which phase 2
   records into the real gradebook.
"""

import json
import os
import shutil
import stat
import time
import traceback
from pathlib import Path

import nbformat

from coursetools.gradebook import close_logger, file_logger, read_timestamp

try:
    import resource
except ImportError:  # not on Windows
    resource = None

SHADOWING = {"nnscratch", "nnscratch.py", "sitecustomize.py", "usercustomize.py"}
_SLOT = None
_LOG_TAIL = 20_000


def init_worker(slots):
    """Pool initializer: take this worker's job slot (its sandbox uid and folders)."""
    global _SLOT
    _SLOT = slots.get()
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's session chatter, not ours to fix
    # warm the imports before the first submission arrives
    import nbgrader.converters  # noqa: F401

    from coursetools import execute, sanitize, tamper  # noqa: F401

    tamper.scan({"cells": [{"cell_type": "code", "source": "!true"}]})


def read_noatime(path):
    """The bytes of ``path``, read without updating its access time where allowed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def copy_submission(source, target, max_file_bytes, flags):
    """Copy regular files and folders of ``source`` into ``target``; note what was left out."""
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = os.path.relpath(dirpath, source)
        dest = os.path.normpath(os.path.join(target, rel))
        os.makedirs(dest, exist_ok=True)
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            shown = os.path.normpath(os.path.join(rel, name))
            st = os.lstat(path)
            if rel == "." and name in SHADOWING:
                flags.append(f"{shown} ignored: it would shadow the course's package")
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if name in dirnames:  # a link to a folder
                dirnames.remove(name)
            if not stat.S_ISREG(st.st_mode):
                kind = "symbolic link" if stat.S_ISLNK(st.st_mode) else "special file"
                flags.append(f"{shown} ignored: a {kind}")
                continue
            if st.st_size > max_file_bytes:
                flags.append(f"{shown} ignored: larger than {max_file_bytes // 1024**2} MiB")
                continue
            with open(os.path.join(dest, name), "wb") as fh:
                fh.write(read_noatime(path))


def check_notebook(path, max_bytes):
    """(notebook, nbformat major, None) when ``path`` can be graded, else (None, None, reason)."""
    size = path.stat().st_size
    if size > max_bytes:
        return None, None, f"{path.name} is larger than {max_bytes // 1024**2} MiB"
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, None, f"{path.name} is not a Jupyter notebook (no nbformat version)"
    major = data["nbformat"]
    if major not in (3, 4):
        return None, None, f"{path.name} has nbformat {major}, which cannot be read"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        return None, None, f"{path.name} cannot be read as a notebook ({exc})".splitlines()[0]
    if not isinstance(nb.get("cells"), list):
        return None, None, f"{path.name} has no list of cells"
    for cell in nb.cells:
        if (not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw")
                or not isinstance(cell.get("metadata", {}), dict)
                or not isinstance(cell.get("source", ""), str)):
            return None, None, f"{path.name} has a malformed cell"
    return nb, major, None


def _config(job, course_dir, slot_dir, uid):
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

    from coursetools.execute import SandboxedExecute
    from coursetools.gradebook import load_config
    from coursetools.limits import nbgrader_config, resolve
    from coursetools.sanitize import DeduplicateIds, RestoreCellMetadata

    cfg = load_config(job["course"])
    cfg.merge(nbgrader_config(resolve(overrides=job["limits"])))
    cfg.CourseDirectory.root = str(course_dir)
    cfg.CourseDirectory.source_directory = job["source_dir"]
    cfg.CourseDirectory.submitted_directory = "submitted"
    cfg.CourseDirectory.autograded_directory = "autograded"
    cfg.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    cfg.CourseDirectory.assignment_id = job["assignment"]
    cfg.CourseDirectory.student_id = job["student"]
    cfg.BaseConverter.force = True
    cfg.Autograde.create_student = True
    cfg.Autograde.sanitize_preprocessors = [
        ClearOutput, RestoreCellMetadata, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
        CheckCellMetadata]
    cfg.Autograde.autograde_preprocessors = [
        SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata]
    cfg.OverwriteCells.add_missing_cells = False
    cfg.SandboxedExecute.work_root = str(slot_dir / "work")
    cfg.SandboxedExecute.work_owner = -1 if uid is None else uid
    cfg.SandboxedKernelManager.mode = "bwrap" if job["sandbox"] else "none"
    cfg.SandboxedKernelManager.slot = _SLOT or 0
    cfg.SandboxedKernelManager.threads = job["threads"]
    cfg.SandboxedKernelManager.ipc_root = str(slot_dir / "ipc")
    cfg.SandboxedKernelManager.hidden_extra = job["hidden"]
    cfg.SandboxedKernelManager.log_path = str(course_dir.parent / "kernel.log")
    return cfg


def _status(runs):
    """(status, reason, flags) from the execution records of SandboxedExecute."""
    status, reasons, flags = "graded", [], []
    for run in runs:
        label = f"{run['notebook']}: " if len(runs) > 1 else ""
        if run["kind"] == "error":
            return "error", label + run["ended"], flags
        if run["kind"] in ("kernel_died", "timeout"):
            status = run["kind"] if status == "graded" else status
            later = f"; {run['cells_not_run']} later cell(s) not run, scored 0" \
                if run["cells_not_run"] else ""
            reasons.append(f"{label}{run['ended']}{later}")
        elif run["timeouts"]:
            status = "timeout" if status == "graded" else status
            cells = ", ".join(str(c) for c in run["timeouts"])
            reasons.append(f"{label}cell {cells} ran longer than the time limit and was "
                           "interrupted (scored 0)")
        for index in run["truncated_cells"]:
            flags.append(f"{label}cell {index}: output flood, truncated")
    return status, "; ".join(reasons), flags


def grade_submission(job):
    """Phase 1 for one submission (see the module docstring); returns the result dict."""
    started = time.monotonic()
    result = {"student": job["student"], "status": "graded", "reason": "", "flags": [],
              "notebooks": [], "executed": None, "peak_rss": 0, "seconds": 0.0}
    scratch = Path(job["scratch"]) / f"s{job['index']:04d}"
    log_path = Path(job["logs"]) / f"{job['student']}.log"
    logger = file_logger(f"coursetools.worker.{os.getpid()}", log_path,
                         "%(asctime)s [%(levelname)s] %(message)s")
    try:
        _grade(job, result, scratch, logger)
    except Exception as exc:  # noqa: BLE001 - a submission must never stop the batch
        logger.error(traceback.format_exc())
        result.update(status="error", reason=f"the autograder failed on this submission: "
                                             f"{type(exc).__name__}: {exc}".splitlines()[0])
    finally:
        kernel_log = scratch / "kernel.log"
        if kernel_log.exists():
            size = kernel_log.stat().st_size
            with open(kernel_log, "rb") as fh:
                fh.seek(max(0, size - _LOG_TAIL))
                tail = fh.read().decode("utf-8", "replace")
            logger.info("kernel output (last %d bytes):\n%s", _LOG_TAIL, tail)
        close_logger(logger)
    result["seconds"] = time.monotonic() - started
    if resource is not None:  # this worker's own peak so far: the grader stays small
        result["grader_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _grade(job, result, scratch, logger):
    from nbgrader.converters import Autograde, NbGraderException
    from nbgrader.coursedir import CourseDirectory

    from coursetools import execute, sanitize, tamper
    from coursetools.sandbox import UID_BASE, is_root

    course_dir = scratch / "course"
    submitted = course_dir / "submitted" / job["student"] / job["assignment"]
    shutil.rmtree(scratch, ignore_errors=True)  # a retry after a worker died starts afresh
    submitted.mkdir(parents=True)
    os.chmod(scratch, 0o700)
    flags = result["flags"]
    copy_submission(job["submission"], submitted, job["max_file_bytes"], flags)
    stamp = submitted / "timestamp.txt"
    if stamp.exists() and read_timestamp(submitted) is None:
        stamp.unlink()  # nbgrader would stop on it; no time stamp means "on time"
        flags.append("timestamp.txt unreadable: ignored")

    invalid = {}
    for path in sorted(submitted.glob("*.ipynb")):
        nb, major, problem = check_notebook(path, job["max_notebook_bytes"])
        if problem:
            invalid[path.stem] = problem
            path.unlink()  # nbgrader then treats it as a missing notebook: 0 points
            continue
        if path.stem not in job["notebooks"]:
            flags.append(f"{path.name}: not a notebook of this assignment, not graded")
            continue
        if major == 3:
            flags.append(f"{path.name}: nbformat 3 notebook, upgraded to nbformat 4")
        result["notebooks"].append(path.stem)
        released = job["released"].get(path.stem)
        if released:
            released_nb = nbformat.reads(released, as_version=4)
            locked = [c.metadata.nbgrader["grade_id"] for c in released_nb.cells
                      if c.metadata.get("nbgrader", {}).get("locked")]
            flags.extend(tamper.structure(nb, released_nb))
            flags.extend(tamper.scan(nb, locked_ids=locked))
    for name in job["notebooks"]:
        if name not in result["notebooks"] and name not in invalid:
            flags.append(f"{name}.ipynb missing: its tests score 0")
    reasons = []
    if invalid:
        result["status"] = "invalid_notebook"
        reasons.append("; ".join(invalid.values()) + ": graded as a missing notebook (0 points)")
    if not result["notebooks"]:
        result.update(status="invalid_notebook",
                      reason=reasons[0] if reasons else
                      "no notebook of this assignment in the submission")
        return

    (course_dir / "gradebook.db").write_bytes(Path(job["gradebook"]).read_bytes())
    slot_dir = Path(job["scratch"]) / f"k{_SLOT or 0}"
    uid = UID_BASE + (_SLOT or 0) if is_root() and job["sandbox"] else None
    cfg = _config(job, course_dir, slot_dir, uid)
    del execute.RUNS[:], sanitize.FINDINGS[:]
    coursedir = CourseDirectory(config=cfg)
    converter = Autograde(coursedir=coursedir, config=cfg, log=logger)
    try:
        converter.start()
    except NbGraderException:
        pass  # the graded notebooks' presence says what worked
    flags.extend(f for f in sanitize.FINDINGS if f not in flags)
    for run in execute.RUNS:
        logger.info("executed %s.ipynb in %.2f s (kernel peak %.0f MiB)%s", run["notebook"],
                    run["seconds"], run["peak_rss"] / 1024**2,
                    f": {run['ended']}" if run["ended"] else "")
    status, reason, more_flags = _status(execute.RUNS)
    flags.extend(more_flags)
    result["peak_rss"] = max([r["peak_rss"] for r in execute.RUNS] + [0])
    executed = course_dir / "autograded" / job["student"] / job["assignment"]
    missing = [n for n in result["notebooks"] if not (executed / f"{n}.ipynb").is_file()]
    if status == "error" or missing:
        result.update(status="error", reason=reason or (
            f"nbgrader could not grade {', '.join(m + '.ipynb' for m in missing)} "
            f"(see reports/{job['assignment']}/logs/{job['student']}.log)"))
        return
    result["executed"] = str(executed)
    if status != "graded":
        result["status"] = status
    result["reason"] = "; ".join(reasons + ([reason] if reason else []))
