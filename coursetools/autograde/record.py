"""Phase 2 of autograding, in the main process: the results into the gradebook (the real one
after phase 1, or a staged copy while it runs: ``coursetools.autograde.staged``).

- ``record`` (``record_batch`` for some of the results): nbgrader ``Autograde`` runs once
  (once a batch) in the course with only its recording
  preprocessors (phase 1 already sanitized, restored and executed each notebook against a
  copy of this gradebook) and ``submitted_directory`` pointed at a scratch folder holding
  each student's executed notebooks and ``timestamp.txt``, so nbgrader's own
  ``SaveAutoGrades`` and ``AssignLatePenalties`` write the gradebook. It records one
  submission after another, each whole: its previous ``autograded/`` output and autograder
  scores go (a clean regrade; manual scores, extra credit and comments stay), formgrader's
  "flagged" mark is set to the report's (flagged, timed out, crashed, not graded), then
  nbgrader saves the new scores. A submission that could not be executed is recorded as
  nbgrader records a missing notebook: every autograded cell 0 (to grade by hand when the
  tool, not the submission, failed), with an empty ``autograded/`` folder so that
  formgrader does not offer to autograde it.
- Ctrl-C while recording into the real gradebook (``deferred_interrupt``) takes effect
  between two submissions: the gradebook holds the submissions recorded so far, whole, and
  the previous grading of the others, and the run ends with KeyboardInterrupt. (A staged
  recording is put in place whole or not at all.) Phase 1 writes only scratch copies,
  so an interruption there, or a lost scheduler, leaves the gradebook as it was. (A process
  killed outright can still stop between nbgrader's commits of one submission; grading
  again repairs it.)
- ``verify``: the gradebook's score of every test equals what nbgrader computes from the
  graded notebook (``nbgrader.utils.determine_grade``).
- ``read_back``, ``export_csv``: the scores and tests of each result, and ``grades.csv``.
"""

import contextlib
import signal
import sys
import threading
import warnings
from pathlib import Path

from coursetools.autograde.intake import read_timestamp
from coursetools.autograde.jobs import TestResult
from coursetools.files import copy_regular_tree, safe_remove


def record(course, assignment, results, scratch, log_path):
    """Write the phase-1 ``results`` (SubmissionResult) into the course's gradebook."""
    with warnings.catch_warnings(), deferred_interrupt() as interrupted:
        warnings.simplefilter("ignore")  # SQLAlchemy's chatter about nbgrader's sessions
        record_batch(course, assignment, results, scratch, log_path, interrupted)
    if interrupted.is_set():  # also a Ctrl-C in the last moment, before the handler went
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupt(message="Ctrl-C: stopping after the submission being recorded (the "
                               "gradebook keeps whole submissions only)..."):
    """An Event set by Ctrl-C (SIGINT) instead of KeyboardInterrupt, so that the submission
    being recorded is recorded whole (``message``: what the person who pressed it reads).
    Outside the main thread signals cannot be caught: the Event is never set there."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(
            signal.SIGINT) in (signal.SIG_IGN, None):
        yield interrupted  # (a run started with Ctrl-C ignored, nohup: it stays ignored)
        return

    def ask(signum, frame):
        if not interrupted.is_set():
            print(f"\n{message}", file=sys.stderr, flush=True)
        interrupted.set()

    previous = signal.signal(signal.SIGINT, ask)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def is_flagged(sub):
    """Formgrader's "flagged" of a result: the report's flags, and every submission that did
    not grade cleanly (timed out, crashed, invalid, the tool's error)."""
    return bool(sub.flags) or sub.status != "graded"


def record_batch(course, assignment, results, scratch, log_path, interrupted):
    """Record ``results`` into ``course``'s gradebook, one submission after another, each
    whole, until ``interrupted`` (an Event) is set; ``scratch``: a new folder to use."""
    inbox = Path(scratch) / "record"
    inbox.mkdir(parents=True)
    for sub in results:
        if sub.executed:
            copy_regular_tree(sub.executed, inbox / sub.student / assignment)
    for sub in results:
        if interrupted.is_set():
            return
        if not sub.executed:
            _record_unexecuted(course, assignment, sub)
    executed = {sub.student: sub for sub in results if sub.executed}
    if executed and not interrupted.is_set():
        from nbgrader.preprocessors import (
            AssignLatePenalties,
            CheckCellMetadata,
            SaveAutoGrades,
        )

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
        recorded = set()
        course.convert(_recording_autograde(course, executed, interrupted, recorded),
                       assignment, config=config, log=log_path, check=False)
        # nbgrader stops the whole pass at a database error: the students after it still
        # hold their previous grading, which must not pass for this run's
        for student, sub in executed.items():
            if student not in recorded and not interrupted.is_set():
                sub.fail("nbgrader stopped before recording it (see "
                         f"{Path(log_path).name}); the gradebook keeps its previous grading")


def _record_unexecuted(course, assignment, sub):
    """A submission that could not be executed, in one transaction, as nbgrader records a
    missing notebook: every autograded cell 0 (to grade by hand when the tool, not the
    submission, failed), and an empty ``autograded/`` folder: formgrader calls a submission
    autograded when that folder exists."""
    from nbgrader.api import Gradebook

    safe_remove(course.path("autograded", sub.student), assignment)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(sub.student)
        timestamp = read_timestamp(course.path("submitted", sub.student, assignment))
        extra = {"timestamp": timestamp} if timestamp else {}
        found = gb.update_or_create_submission(assignment, sub.student, **extra)
        for notebook in found.notebooks:
            notebook.flagged = is_flagged(sub)
            for grade in notebook.grades:
                grade.auto_score = 0.0
                grade.needs_manual_grade = sub.status == "error"
        gb.db.commit()
    course.path("autograded", sub.student, assignment).mkdir(parents=True, exist_ok=True)


def _recording_autograde(course, executed, interrupted, recorded):
    """nbgrader's Autograde, recording ``executed`` ({student: result}) one by one: before
    nbgrader saves a submission's scores, its previous output and autograder scores go (a
    clean regrade: a test the student deleted scores nothing, not its old points; manual
    scores, extra credit and comments stay) and its "flagged" mark is set. Once
    ``interrupted`` is set, the students not begun are skipped. The students whose notebooks
    nbgrader converted are added to ``recorded``."""
    from nbconvert.writers import FilesWriter
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import Autograde

    class RecordingAutograde(Autograde):
        def start(self):
            # nbgrader's start() changes the process's working directory to the course for
            # the pass: the staged recording runs in a thread beside the main one, and the
            # course's paths here are absolute. The rest is nbgrader's start() as it is.
            self.init_notebooks()
            self.writer = FilesWriter(parent=self, config=self.config)
            self.exporter = self.exporter_class(parent=self, config=self.config)
            for preprocessor in self.preprocessors:
                self.exporter.register_preprocessor(preprocessor)
            self.convert_notebooks()

        def init_destination(self, assignment_id, student_id):
            if interrupted.is_set():
                return False
            # nbgrader's --force would rmtree through a link put in autograded/
            safe_remove(course.path("autograded", student_id), assignment_id)
            return super().init_destination(assignment_id, student_id)

        def init_assignment(self, assignment_id, student_id):
            # before nbgrader's init: it scores a notebook the student did not hand in 0
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                try:
                    found = gb.find_submission(assignment_id, student_id)
                except MissingEntry:  # a first grading: nothing to clear
                    found = None
                for notebook in found.notebooks if found is not None else ():
                    for grade in notebook.grades:
                        grade.auto_score = None
                gb.db.commit()
            super().init_assignment(assignment_id, student_id)
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                for notebook in gb.find_submission(assignment_id, student_id).notebooks:
                    notebook.flagged = is_flagged(executed[student_id])
                gb.db.commit()

        def set_permissions(self, assignment_id, student_id):
            super().set_permissions(assignment_id, student_id)
            recorded.add(student_id)  # nbgrader's last step of a student, after saving

    return RecordingAutograde


def flag_in_gradebook(course, assignment, results):
    """Set formgrader's "flagged" of each result's notebooks (``is_flagged``) again."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in results:
            try:
                found = gb.find_submission(assignment, sub.student)
            except MissingEntry:
                continue
            for notebook in found.notebooks:
                notebook.flagged = is_flagged(sub)
        gb.db.commit()


def verify(course, assignment, results):
    """Mark as "error" any submission whose gradebook scores differ from its graded notebook."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import determine_grade, is_grade

    with Gradebook(course.db_url) as gb:
        for sub in results:
            if not sub.executed or sub.status == "error":
                continue  # (already failed: nbgrader stopped before recording it)
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
