"""An interrupted `make autograde` leaves the gradebook as it was, or with whole submissions.

On the quick course graded once (every student right), the class is regraded with other
answers, and interrupted:

- with Ctrl-C (SIGINT) while a submission is half recorded into the staged copy of the
  gradebook (``coursetools.autograde.staged``, while the kernels run): the run ends with
  KeyboardInterrupt and the gradebook and autograded/ are as they were;
- the same when the gradebook is recorded after the kernels (not SQLite, or written by
  someone else during the run): that submission is finished, the next ones keep their
  previous grading;
- with Ctrl-C to `python -m coursetools autograde` while the kernels run: exit 130, and
  the gradebook, grades.csv and autograded/ are as they were.

A gradebook written by someone else during the run keeps what they wrote.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import quick_course as qc

from coursetools.autograde import autograde, record, staged

pytestmark = pytest.mark.slow

STUDENTS = ("ana", "ben", "cal", "dan")
SLOW = "import time\ntime.sleep(30)\n"  # the class takes a minute or more on 2 jobs


def gradebook_rows(course):
    """{student: {grade_id: (auto_score, manual_score)}} and {student: flagged}."""
    from nbgrader.api import Gradebook

    grades, flagged = {}, {}
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for student in gb.students:
            for sub in student.submissions:
                for notebook in sub.notebooks:
                    grades[student.id] = {g.name: (g.auto_score, g.manual_score)
                                          for g in notebook.grades}
                    flagged[student.id] = notebook.flagged
    return grades, flagged


@pytest.fixture
def graded_once(standin_template, tmp_path):
    """The quick course, every student right and graded: (folder, gradebook rows)."""
    course = qc.copy_course(standin_template, tmp_path / "course")
    for student in STUDENTS:
        qc.submit(course, student, qc.submission(course))
    autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    rows = gradebook_rows(course)
    assert all(sum(a for a, _ in g.values()) == qc.MAX_SCORE for g in rows[0].values())
    return course, rows


def _interrupt_the_second_recording(monkeypatch):
    """Ctrl-C once the second student's old autograder scores are cleared, before the new
    ones are saved; returns the students whose recording began."""
    original = record._recording_autograde
    seen = []

    def interrupting(*args):
        class Interrupting(original(*args)):
            def init_assignment(self, assignment_id, student_id):
                super().init_assignment(assignment_id, student_id)  # old scores cleared
                seen.append(student_id)
                if len(seen) == 2:
                    os.kill(os.getpid(), signal.SIGINT)  # before the new ones are saved
                    time.sleep(0.2)

        return Interrupting

    monkeypatch.setattr(record, "_recording_autograde", interrupting)
    return seen


def _autograde_with_ctrl_c(course):
    # as at a terminal, even when pytest runs where SIGINT is ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_the_stage_records_leaves_the_gradebook_as_it_was(graded_once,
                                                                      monkeypatch):
    course, before = graded_once
    for student in STUDENTS:  # a wrong sigmoid this time: 3 of 5 points
        qc.submit(course, student, qc.submission(course, sigmoid=qc.WRONG_SIGMOID))
    autograded = qc.snapshot(course / "autograded")
    seen = _interrupt_the_second_recording(monkeypatch)
    _autograde_with_ctrl_c(course)
    assert len(seen) >= 2, seen
    assert gradebook_rows(course) == before
    assert qc.snapshot(course / "autograded") == autograded


def test_ctrl_c_while_a_submission_is_recorded_finishes_it_and_keeps_the_rest(
        graded_once, monkeypatch):
    """Recording after the kernels, into the real gradebook (a PostgreSQL one, or one that
    someone else wrote during the run): Ctrl-C takes effect between two submissions."""
    course, (before, _) = graded_once
    for student in STUDENTS:  # a wrong sigmoid this time: 3 of 5 points
        qc.submit(course, student, qc.submission(course, sigmoid=qc.WRONG_SIGMOID))
    monkeypatch.setattr(staged.StagedRecording, "start", lambda *args: None)
    seen = _interrupt_the_second_recording(monkeypatch)
    _autograde_with_ctrl_c(course)
    assert seen == list(STUDENTS[:2]), "the students after the interruption were begun"
    after, flagged = gradebook_rows(course)
    for student in STUDENTS[:2]:  # recorded again, whole
        assert all(a is not None for a, _ in after[student].values()), after[student]
        assert sum(a for a, _ in after[student].values()) == 3.0, after[student]
    for student in STUDENTS[2:]:  # as the first grading left them
        assert after[student] == before[student]
        assert (course / "autograded" / student / qc.ASSIGNMENT / f"{qc.NOTEBOOK}.ipynb"
                ).is_file()
    assert not any(flagged.values())


def _as_at_a_terminal():
    """Ctrl-C's default, even when pytest runs where SIGINT is ignored (a background job):
    a Python started with SIGINT ignored keeps ignoring it, as the engine does on purpose."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sandboxed_processes():
    """Live processes running as a sandbox uid (a kernel, or anything it started); a zombie
    that this container's init has not reaped yet has ended."""
    from coursetools.sandbox.command import UID_BASE

    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) >= UID_BASE and fields["State"].split()[0] not in "ZX":
            found.append(status.parent.name)
    return found


def test_ctrl_c_while_the_kernels_run_leaves_the_gradebook_as_it_was(graded_once):
    course, before = graded_once
    for student in STUDENTS:
        qc.submit(course, student, qc.insert_after(
            qc.submission(course, sigmoid=qc.WRONG_SIGMOID), "sigmoid", SLOW))
    autograded = qc.snapshot(course / "autograded")
    grades_csv = (course / "grades.csv").read_text()
    logs = course / "reports" / qc.ASSIGNMENT / "logs"
    shutil.rmtree(logs)  # the first grading's: a new one says a submission has begun
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    run = subprocess.Popen([sys.executable, "-m", "coursetools", "autograde", "--course",
                            str(course), "--assignment", qc.ASSIGNMENT, "--jobs", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           preexec_fn=_as_at_a_terminal)
    deadline = time.monotonic() + 120
    while not any(logs.glob("ana*.log")) and time.monotonic() < deadline:
        time.sleep(0.2)  # a worker has begun a submission: the kernels are running
    assert any(logs.glob("ana*.log")), "no submission was begun"
    time.sleep(3)
    run.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    out, err = run.communicate(timeout=300)
    print(f"\nCtrl-C to exit: {time.monotonic() - interrupted:.1f} s")
    # it stopped at once: the submissions not yet begun never were, and no kernel is left
    begun = sorted(p.stem for p in logs.glob("*.log") if not p.stem.startswith("_"))
    assert len(begun) <= 2 and "dan" not in begun, begun
    assert _sandboxed_processes() == []
    assert run.returncode == 130, (out, err)
    assert "interrupted" in err
    assert gradebook_rows(course) == before
    assert qc.snapshot(course / "autograded") == autograded
    assert (course / "grades.csv").read_text() == grades_csv


def test_nbgrader_stopping_midway_fails_the_rest_instead_of_passing_their_old_grades(
        graded_once, monkeypatch):
    """nbgrader ends its whole pass at a database error (say, SQLite locked by formgrader):
    the students after it keep their previous grading, which this run must not report."""
    import sqlalchemy.exc

    course, (before, _) = graded_once
    for student in STUDENTS:
        qc.submit(course, student, qc.submission(course, sigmoid=qc.WRONG_SIGMOID))
    original = record._recording_autograde

    def failing(*args):
        class Failing(original(*args)):
            def init_assignment(self, assignment_id, student_id):
                if student_id == STUDENTS[1]:
                    raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("locked"))
                super().init_assignment(assignment_id, student_id)

        return Failing

    monkeypatch.setattr(record, "_recording_autograde", failing)
    results = autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    subs = {s["student"]: s for s in results["submissions"]}
    after, _ = gradebook_rows(course)
    assert subs["ben"]["status"] == "error", subs["ben"]
    # nbgrader's pass stopped at ben: those of his pass after him are errors too (the staged
    # recording records the class in several passes, as the submissions come)
    for student in STUDENTS:
        if subs[student]["status"] == "error":
            assert "nbgrader stopped before recording it" in subs[student]["reason"]
            assert after[student] == before[student]
        else:
            assert (subs[student]["status"], subs[student]["score"]) == ("graded", 3.0)
            assert sum(a for a, _ in after[student].values()) == 3.0


def test_a_gradebook_written_during_the_run_keeps_what_was_written(graded_once, monkeypatch):
    """Formgrader (or anything else) writes the gradebook while the kernels run: the staged
    copy is not put in place, the run records into the real gradebook the usual way."""
    from nbgrader.api import Gradebook

    course, _ = graded_once
    for student in STUDENTS:
        qc.submit(course, student, qc.submission(course, sigmoid=qc.WRONG_SIGMOID))
    original = staged.StagedRecording.add

    def add_and_write(self, result):
        if result.student == STUDENTS[0]:
            with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
                gb.update_or_create_student("zoe", first_name="Zoe")
        return original(self, result)

    monkeypatch.setattr(staged.StagedRecording, "add", add_and_write)
    results = autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    after, _ = gradebook_rows(course)
    assert {s["student"]: s["score"] for s in results["submissions"]} == dict.fromkeys(
        STUDENTS, 3.0)
    assert all(sum(a for a, _ in after[s].values()) == 3.0 for s in STUDENTS)
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        assert gb.find_student("zoe").first_name == "Zoe"


def test_staged_and_usual_recording_write_the_same_gradebook(standin_template, tmp_path,
                                                             monkeypatch):
    answers = {"ana": {}, "ben": {"sigmoid": qc.WRONG_SIGMOID}, "cal": {"relu": None},
               "dan": {"sigmoid": qc.WRONG_HIDDEN, "relu": qc.WRONG_RELU}}
    written = []
    for way in ("staged", "usual"):
        course = qc.copy_course(standin_template, tmp_path / way)
        for student, answer in answers.items():
            qc.submit(course, student, qc.submission(course, **answer))
        if way == "usual":
            monkeypatch.setattr(staged.StagedRecording, "start", lambda *args: None)
        autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
        files = sorted(p.relative_to(course) for p in (course / "autograded").rglob("*"))
        written.append((gradebook_rows(course), files))
    assert written[0] == written[1]
    assert len({sum(a for a, _ in g.values()) for g in written[0][0][0].values()}) == 4


def test_a_result_that_never_came_through_is_recorded_too(graded_once, tmp_path):
    """A submission whose worker died twice gets its result only at the end of phase 1:
    the stage records it as the usual recording would (0 points, flagged)."""
    from coursetools.autograde.jobs import SubmissionResult
    from coursetools.course import Course

    course, (before, _) = graded_once
    (tmp_path / "scratch").mkdir()
    staging = staged.StagedRecording.start(Course(course), qc.ASSIGNMENT, tmp_path / "scratch",
                                           tmp_path / "record.log")
    lost = SubmissionResult("ben").fail("the grading worker died twice while grading it")
    assert staging.finish([lost])
    after, flagged = gradebook_rows(course)
    assert set(after["ben"].values()) == {(0.0, None)} and flagged["ben"]
    assert {s: after[s] for s in STUDENTS if s != "ben"} == {
        s: before[s] for s in STUDENTS if s != "ben"}


def test_recording_beside_the_kernels_leaves_the_working_directory_alone(graded_once,
                                                                         monkeypatch):
    """nbgrader's converters change the process's working directory while they run; the
    staged recording runs in a thread beside the main one, which must not see that."""
    course, _ = graded_once
    original = record._recording_autograde
    seen = []

    def watching(*args):
        class Watching(original(*args)):
            def init_assignment(self, assignment_id, student_id):
                seen.append(os.getcwd())
                super().init_assignment(assignment_id, student_id)

        return Watching

    monkeypatch.setattr(record, "_recording_autograde", watching)
    autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    assert seen and set(seen) == {os.getcwd()}
