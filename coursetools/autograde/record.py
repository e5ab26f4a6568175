"""Phase 2 of autograding, in the main process, once: the results into the real gradebook.

- ``record``: nbgrader ``Autograde`` runs once in the real course with only its recording
  preprocessors (phase 1 already sanitized, restored and executed each notebook against a
  copy of this gradebook) and ``submitted_directory`` pointed at a scratch folder holding
  each student's executed notebooks and ``timestamp.txt``, so nbgrader's own
  ``SaveAutoGrades`` and ``AssignLatePenalties`` write the gradebook. Before that, the
  previous ``autograded/`` output and autograder scores of the students being graded are
  removed (a clean regrade; manual scores, extra credit and comments stay). A submission
  that could not be executed is recorded as nbgrader records a missing notebook: every
  autograded cell 0 (flagged for manual grading when the tool, not the submission, failed),
  with an empty ``autograded/`` folder so that formgrader does not offer to autograde it.
  Formgrader's "flagged" mark is the report's: set for flagged submissions and for those
  that timed out, crashed or could not be graded (``flag_in_gradebook``).
- ``verify``: the gradebook's score of every test equals what nbgrader computes from the
  graded notebook (``nbgrader.utils.determine_grade``).
- ``read_back``, ``export_csv``: the scores and tests of each result, and ``grades.csv``.
"""

import warnings
from pathlib import Path

from coursetools.autograde.intake import read_timestamp
from coursetools.autograde.jobs import TestResult
from coursetools.files import copy_regular_tree, safe_remove


def record(course, assignment, results, scratch, log_path):
    """Write the phase-1 ``results`` (SubmissionResult) into the course's gradebook."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's chatter about nbgrader's sessions
        _record(course, assignment, results, scratch, log_path)


def _record(course, assignment, results, scratch, log_path):
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

    inbox = Path(scratch) / "record"
    inbox.mkdir(parents=True)
    for sub in results:
        safe_remove(course.path("autograded", sub.student), assignment)
        if sub.executed:
            copy_regular_tree(sub.executed, inbox / sub.student / assignment)
    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in results:
            try:
                found = gb.find_submission(assignment, sub.student)
            except MissingEntry:
                continue
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = None
        gb.db.commit()

    if any(sub.executed for sub in results):
        config = course.derive(**{
            "CourseDirectory.submitted_directory": str(inbox),
            "Autograde.create_student": True,
            # Phase 1 ran nbgrader's whole Autograde on these notebooks against a copy of
            # this gradebook: sanitized, test cells restored, executed, outputs limited. Only
            # the recording steps are left; running the others again cost a third of this.
            "Autograde.sanitize_preprocessors": [],
            "Autograde.autograde_preprocessors": [SaveAutoGrades, AssignLatePenalties,
                                                  CheckCellMetadata],
        })
        # when nbgrader fails on one, verify() says who is missing
        course.convert(Autograde, assignment, config=config, log=log_path, check=False)

    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in results:
            if sub.executed:
                continue
            gb.update_or_create_student(sub.student)
            timestamp = read_timestamp(course.path("submitted", sub.student, assignment))
            extra = {"timestamp": timestamp} if timestamp else {}
            found = gb.update_or_create_submission(assignment, sub.student, **extra)
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = sub.status == "error"
            # formgrader calls a submission autograded when its autograded/ folder exists
            course.path("autograded", sub.student, assignment).mkdir(parents=True, exist_ok=True)
        gb.db.commit()
    flag_in_gradebook(course, assignment, results)


def flag_in_gradebook(course, assignment, results):
    """Formgrader's "flagged" of each result's notebooks: the report's flags, and every
    submission that did not grade cleanly (timed out, crashed, invalid, the tool's error).
    Set again on every regrade, so it says what the latest report says."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in results:
            try:
                found = gb.find_submission(assignment, sub.student)
            except MissingEntry:
                continue
            for notebook in found.notebooks:
                notebook.flagged = bool(sub.flags) or sub.status != "graded"
        gb.db.commit()


def verify(course, assignment, results):
    """Mark as "error" any submission whose gradebook scores differ from its graded notebook."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import determine_grade, is_grade

    with Gradebook(course.db_url) as gb:
        for sub in results:
            if not sub.executed:
                continue
            problems = []
            for name in sub.notebooks:
                path = course.path("autograded", sub.student, assignment) / f"{name}.ipynb"
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
                        got = gb.find_grade(grade_id, name, assignment, sub.student).auto_score
                    except MissingEntry:
                        got = "missing"
                    if got != expected:
                        problems.append(f"{grade_id}: gradebook {got}, notebook {expected}")
            if problems:
                sub.fail("recording failed: " + "; ".join(problems))
                flag_in_gradebook(course, assignment, [sub])


def read_back(course, assignment, results, order):
    """Fill ``score`` and ``tests`` of each result from the gradebook; return the max score.

    ``order``: the (notebook, grade_id) of the graded cells in notebook order."""
    from nbgrader.api import Gradebook, MissingEntry

    rank = {key: i for i, key in enumerate(order)}
    with Gradebook(course.db_url) as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for sub in results:
            sub.max_score = max_score
            sub.score, sub.tests = None, []
            try:
                found = gb.find_submission(assignment, sub.student)
            except MissingEntry:
                continue
            if sub.status != "error":
                sub.score = float(found.score)
            tests = []
            for notebook in found.notebooks:
                for grade in notebook.grades:
                    score, top = float(grade.score), float(grade.max_score)
                    tests.append(TestResult(notebook.name, grade.name, score, top,
                                            top > 0 and score >= top))
            tests.sort(key=lambda t: rank.get((t.notebook, t.grade_id), len(rank)))
            sub.tests = tests
    return max_score


def export_csv(course):
    """``<course>/grades.csv`` for every assignment and student (nbgrader's CSV export)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    target = course.root / "grades.csv"
    with Gradebook(course.db_url) as gb:
        CsvExportPlugin(to=str(target)).export(gb)
    return target
