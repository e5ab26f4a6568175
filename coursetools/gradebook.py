"""The course side of autograding: configuration, the assignment in the gradebook, and phase 2.

Everything here runs in the main process, one step at a time, because SQLite has one writer:

- ``prepare(...)``: generate the assignment from ``source/`` in a scratch course (nbgrader
  ``GenerateAssignment``) against a copy of the gradebook; a ``release/`` that differs from
  what that produces is stale (the students got something else) and grading stops. When the
  real gradebook does not hold exactly these cells (hidden tests included, which
  ``OverwriteCells`` restores into tampered test cells), generate again against it.
- ``record(...)``: phase 2. nbgrader ``Autograde`` runs once in the real course with only
  its recording preprocessors (phase 1 already sanitized, restored and executed each
  notebook against a copy of this gradebook) and ``submitted_directory`` pointed at a
  scratch folder holding each student's executed notebooks and ``timestamp.txt``, so
  nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties`` write the gradebook.
  Before that, the previous ``autograded/`` output and autograder scores of the students
  being graded are removed (a clean regrade; manual scores, extra credit and comments
  stay). A submission that could not be executed is recorded as nbgrader records a missing
  notebook: every autograded cell 0 (flagged for manual grading when the tool, not the
  submission, failed).
- ``verify(...)``: the gradebook's score of every test equals what nbgrader computes from the
  graded notebook (``nbgrader.utils.determine_grade``).
- ``read_back(...)``, ``export_csv(...)``: the results and ``grades.csv`` (nbgrader export).
"""

import copy
import filecmp
import logging
import os
import shutil
import sqlite3
import warnings
from pathlib import Path

from traitlets.config import Config


class GradingError(Exception):
    """The tool cannot grade (misuse or an unusable course); the message is one line."""


def load_config(course):
    """The course's nbgrader_config.py as a traitlets Config (empty when there is none)."""
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(course) / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    try:
        return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    except Exception as exc:  # noqa: BLE001 - a broken config file is the user's to fix
        raise GradingError(f"{path} cannot be loaded: {exc}".splitlines()[0]) from None


def _setting(config, name, default):
    section = config["CourseDirectory"] if "CourseDirectory" in config else {}
    return section[name] if name in section else default


def course_dir(course, config, name):
    """Absolute path of one of nbgrader's course folders (source, release, submitted ...)."""
    value = _setting(config, f"{name}_directory", name)
    return Path(value) if os.path.isabs(value) else Path(course) / value


def database(course, config):
    """(db_url, sqlite file) of the course's gradebook."""
    url = _setting(config, "db_url", f"sqlite:///{Path(course) / 'gradebook.db'}")
    if not url.startswith("sqlite:///"):
        raise GradingError(f"the gradebook must be SQLite (got {url.split(':')[0]})")
    return url, Path(url[len("sqlite:///"):])


def copy_database(source, target):
    """A consistent copy of an SQLite file, read without writing to it (or an empty file)."""
    target = Path(target)
    if target.exists():
        target.unlink()
    if not Path(source).is_file():
        return target
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def file_logger(name, path, fmt="[%(levelname)s] %(message)s"):
    """The logger ``name``, writing to the file ``path`` only (never to the console) until
    ``close_logger``: nbgrader's chatter goes to the logs of reports/, not to the terminal."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
    return logger


def close_logger(logger):
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def _convert(converter, cfg, log_path):
    """Run the nbgrader converter class ``converter`` with ``cfg``, logging to ``log_path``;
    False when nbgrader reported a failure."""
    from nbgrader.converters import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    logger = file_logger(f"coursetools.gradebook.{log_path}", log_path)
    try:
        converter(coursedir=CourseDirectory(config=cfg), config=cfg, log=logger).start()
    except NbGraderException:
        return False
    finally:
        close_logger(logger)
    return True


def _generate(course, assignment, config, root, db_path, log_path):
    from nbgrader.converters import GenerateAssignment

    cfg = copy.deepcopy(config)
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.source_directory = str(course_dir(course, config, "source"))
    cfg.CourseDirectory.release_directory = "release"
    cfg.CourseDirectory.db_url = f"sqlite:///{db_path}"
    cfg.CourseDirectory.assignment_id = assignment
    cfg.BaseConverter.force = True
    if not _convert(GenerateAssignment, cfg, log_path):
        raise GradingError(f"nbgrader generate_assignment failed for {assignment} "
                           f"(see {log_path})")
    return Path(root) / "release" / assignment


def _files(folder):
    skip = {".ipynb_checkpoints", "__pycache__"}
    return {p.relative_to(folder) for p in folder.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(folder).parts)}


def _signature(db_url, assignment):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            return None
        return sorted(
            (nb.name, nb.kernelspec,
             sorted((c.name, c.cell_type, c.locked, c.source, c.checksum)
                    for c in nb.source_cells),
             sorted((c.name, c.cell_type, float(c.max_score)) for c in nb.grade_cells),
             sorted(c.name for c in nb.solution_cells),
             sorted((c.name, float(c.max_score)) for c in nb.task_cells))
            for nb in found.notebooks)


def prepare(course, assignment, config, scratch, log_path):
    """Check release/ against source/ and make sure the gradebook holds the assignment."""
    course, scratch = Path(course), Path(scratch)
    released = course_dir(course, config, "release") / assignment
    if not any(released.glob("*.ipynb")):
        raise GradingError(f"{released} has no notebook: run `make release` first")
    db_url, db_path = database(course, config)
    gen = scratch / "generate"
    gen.mkdir(parents=True)
    copy_database(db_path, gen / "gradebook.db")
    fresh = _generate(course, assignment, config, gen, gen / "gradebook.db", log_path)
    new, old = _files(fresh), _files(released)
    for name in sorted(new ^ old) + sorted(
            n for n in new & old if not filecmp.cmp(fresh / n, released / n, shallow=False)):
        raise GradingError(f"{released}/ is out of date with source/{assignment}/ ({name}): "
                           "run `make release` and hand out the new version first")
    if _signature(db_url, assignment) != _signature(f"sqlite:///{gen / 'gradebook.db'}",
                                                    assignment):
        # into the real gradebook (created here in a fresh clone, which has none); the
        # release/ this writes goes to a scratch root, which nbgrader needs to exist
        real = scratch / "generate-real"
        real.mkdir(parents=True)
        _generate(course, assignment, config, real, db_path, log_path)
    return db_url


def read_timestamp(folder):
    from nbgrader.utils import parse_utc

    from coursetools.worker import read_noatime

    path = Path(folder) / "timestamp.txt"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        text = read_noatime(path).decode("utf-8", errors="replace")
        return parse_utc(text.strip()[:100])
    except (ValueError, OverflowError):
        return None


def _safe_remove(base, student, assignment):
    """Remove ``base/student/assignment`` (a previous grading's output); never follow a link."""
    parent = Path(base) / student
    if parent.is_symlink():
        parent.unlink()
        return
    folder = parent / assignment
    if folder.is_symlink():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)


def record(course, assignment, config, results, submitted, scratch, log_path):
    """Phase 2: write the phase-1 results into the course's real gradebook (see above)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's chatter about nbgrader's sessions
        _record(course, assignment, config, results, submitted, scratch, log_path)


def _record(course, assignment, config, results, submitted, scratch, log_path):
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

    from coursetools.execute import copy_regular_tree

    course = Path(course)
    db_url, _ = database(course, config)
    course_id = _setting(config, "course_id", "")
    autograded = course_dir(course, config, "autograded")
    inbox = Path(scratch) / "record"
    inbox.mkdir(parents=True)
    for sub in results:
        _safe_remove(autograded, sub["student"], assignment)
        if sub.get("executed"):
            copy_regular_tree(sub["executed"], inbox / sub["student"] / assignment)
    with Gradebook(db_url, course_id) as gb:
        for sub in results:
            try:
                found = gb.find_submission(assignment, sub["student"])
            except MissingEntry:
                continue
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = None
        gb.db.commit()

    if any(sub.get("executed") for sub in results):
        cfg = copy.deepcopy(config)
        cfg.CourseDirectory.root = str(course)
        cfg.CourseDirectory.submitted_directory = str(inbox)
        cfg.CourseDirectory.assignment_id = assignment
        cfg.CourseDirectory.student_id = "*"
        cfg.BaseConverter.force = True
        cfg.Autograde.create_student = True
        # Phase 1 ran nbgrader's whole Autograde on these notebooks against a copy of this
        # gradebook: sanitized, test cells restored, executed, outputs limited. Only the
        # recording steps are left; running the others again cost a third of this pass.
        cfg.Autograde.sanitize_preprocessors = []
        cfg.Autograde.autograde_preprocessors = [SaveAutoGrades, AssignLatePenalties,
                                                 CheckCellMetadata]
        _convert(Autograde, cfg, log_path)  # when it fails, verify() tells who is missing

    with Gradebook(db_url, course_id) as gb:
        for sub in results:
            if sub.get("executed"):
                continue
            gb.update_or_create_student(sub["student"])
            timestamp = read_timestamp(Path(submitted) / sub["student"] / assignment)
            extra = {"timestamp": timestamp} if timestamp else {}
            found = gb.update_or_create_submission(assignment, sub["student"], **extra)
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = sub["status"] == "error"
        gb.db.commit()


def verify(course, assignment, config, results):
    """Mark as "error" any submission whose gradebook scores differ from its graded notebook."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import determine_grade, is_grade

    db_url, _ = database(course, config)
    autograded = course_dir(course, config, "autograded")
    with Gradebook(db_url) as gb:
        for sub in results:
            if not sub.get("executed"):
                continue
            problems = []
            for name in sub["notebooks"]:
                path = autograded / sub["student"] / assignment / f"{name}.ipynb"
                if not path.is_file():
                    problems.append(f"{path.name} was not recorded")
                    continue
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    if not is_grade(cell):
                        continue
                    grade_id = cell.metadata.nbgrader["grade_id"]
                    expected, _ = determine_grade(cell)
                    try:
                        got = gb.find_grade(grade_id, name, assignment, sub["student"]).auto_score
                    except MissingEntry:
                        got = "missing"
                    if got != expected:
                        problems.append(f"{grade_id}: gradebook {got}, notebook {expected}")
            if problems:
                sub["status"] = "error"
                sub["reason"] = "recording failed: " + "; ".join(problems)


def read_back(course, assignment, config, results, order):
    """Fill ``score`` and ``tests`` of each result from the gradebook; return the max score."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url, _ = database(course, config)
    with Gradebook(db_url) as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for sub in results:
            sub["max_score"] = max_score
            sub["score"], sub["tests"] = None, []
            try:
                found = gb.find_submission(assignment, sub["student"])
            except MissingEntry:
                continue
            if sub["status"] != "error":
                sub["score"] = float(found.score)
            rank = {key: i for i, key in enumerate(order)}
            tests = []
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    score, top = float(grade.score), float(grade.max_score)
                    tests.append({"notebook": notebook.name, "grade_id": grade.name,
                                  "points": score, "max_points": top,
                                  "passed": top > 0 and score >= top})
            tests.sort(key=lambda t: rank.get((t["notebook"], t["grade_id"]), len(rank)))
            sub["tests"] = tests
    return max_score


def export_csv(course, config):
    """``<course>/grades.csv`` for every assignment and student (nbgrader's CSV export)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    db_url, _ = database(course, config)
    target = Path(course) / "grades.csv"
    with Gradebook(db_url) as gb:
        CsvExportPlugin(to=str(target)).export(gb)
    return target
