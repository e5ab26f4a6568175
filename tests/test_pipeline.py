"""End to end: the example class through the sandboxed autograder, the report and feedback.

One grading run of the whole class (module-scoped fixture): it executes the real
notebook, TensorFlow included, once per submission.
"""

import html
import re

import nbformat
import pytest
from quick_course import file_hashes

from coursetools import example_class
from coursetools.course import REPOSITORY as COURSE_ROOT
from coursetools.course import Course

RELEASE, SOURCE = "release", "source"

pytestmark = pytest.mark.slow

ASSIGNMENT = example_class.ASSIGNMENT

# student: (status, score) -- the exact outcome of grading the example class. The notebook
# has 24 points of autograded tests and 7 of written answers graded by hand (pending: 0 here).
EXPECTED = {
    "ada": ("graded", 24.0),  # complete and correct
    "blake": ("graded", 0.0),  # blank
    "chen": ("graded", 6.0),  # add_bias, sigmoid, log_loss: 2 points each
    "dara": ("graded", 16.0),  # exp(x): loses sigmoid, sigmoid_der and feed_forward (2+2+4)
    "eli": ("graded", 14.0),  # mean instead of sum: loses backprop and training (8+2)
    "fynn": ("graded", 22.0),  # edited test restored by nbgrader; deleted test_training: 0
    "gus": ("invalid_notebook", 0.0),  # graded as a missing notebook
    "hana": ("timeout", 24.0),  # the looping cell is interrupted; the tests all pass
    "ivan": ("kernel_died", 2.0),  # only test_add_bias ran before the kernel died
}


@pytest.fixture(scope="module", params=["local-sqlite", "dask-postgresql"])
def graded(request):
    """The example class graded once per session (tests/conftest.py), twice: by the local
    engine into SQLite, and on a Dask cluster (a worker killed mid-batch) into PostgreSQL.
    These tests only read."""
    if request.param == "local-sqlite":
        root, results, before = request.getfixturevalue("graded_example_class")
    else:
        root, results, before, _ = request.getfixturevalue(
            "graded_example_class_on_a_cluster")
    return Course(root), results, before


def _by_student(results):
    return {s["student"]: s for s in results["submissions"]}


def test_every_student_gets_the_expected_score_and_status(graded):
    _, results, _ = graded
    subs = _by_student(results)
    assert sorted(subs) == sorted(EXPECTED)
    got = {name: (s["status"], s["score"]) for name, s in subs.items()}
    assert got == EXPECTED
    assert results["max_score"] == 31.0


def test_failures_say_why(graded):
    _, results, _ = graded
    for sub in results["submissions"]:
        if sub["status"] != "graded":
            assert sub["reason"], sub["student"]


def test_tampering_is_flagged(graded):
    subs = _by_student(graded[1])
    assert any("test_add_bias" in flag for flag in subs["fynn"]["flags"])
    assert any("test_training" in flag for flag in subs["fynn"]["flags"])
    assert not subs["ada"]["flags"]


def test_grades_and_report_exist(graded):
    course, results, _ = graded
    grades = (course / "grades.csv").read_text()
    for sub in results["submissions"]:
        if sub["status"] == "graded":
            assert sub["student"] in grades
    page = (course / "reports" / ASSIGNMENT / "index.html").read_text()
    for sub in results["submissions"]:
        if sub["status"] != "graded":
            assert sub["student"] in page and html.escape(sub["reason"]) in page


def _hidden_lines():
    """Lines of hidden tests that appear nowhere else in the source or release notebooks."""
    hidden, elsewhere = set(), []
    for path in sorted((COURSE_ROOT / SOURCE / ASSIGNMENT).glob("*.ipynb")):
        release = COURSE_ROOT / RELEASE / ASSIGNMENT / path.name
        elsewhere.append(release.read_text())
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.split("\n"):
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif inside:
                    hidden.add(line.strip())
                else:
                    elsewhere.append(line)
    text = "\n".join(elsewhere)
    return sorted(line for line in hidden if len(line) >= 12 and line not in text)


def test_feedback_for_every_graded_student_without_hidden_tests(graded):
    course, results, _ = graded
    hidden = _hidden_lines()
    assert hidden, "the assignment has no distinctive hidden-test line to look for"
    with_feedback = {p.parent.parent.name
                     for p in (course / "feedback").glob(f"*/{ASSIGNMENT}/*.html")}
    # every autograded notebook: the graded ones, and the timed-out and crashed ones too
    assert with_feedback == set(EXPECTED) - {"gus"}
    for sub in results["submissions"]:
        if sub["student"] not in with_feedback:
            continue
        for page in sorted((course / "feedback" / sub["student"] / ASSIGNMENT).glob("*.html")):
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            leaked = [line for line in hidden if line in text]
            assert not leaked, f"{page.name} of {sub['student']} shows hidden tests: {leaked}"
            points = f"{round(sub['score'], 2)} / {round(sub['max_score'], 2)}"
            assert points in text, f"{page.name} of {sub['student']} lacks {points}"


def test_the_graded_notebook_skips_explore(graded):
    """Explore is not graded: in the grader (NBGRADER_EXECUTION=autograde reaches the
    sandboxed kernel) each of its cells printed one line and drew nothing."""
    from nnscratch.explore import NOT_WHILE_GRADING

    course, _, _ = graded
    nb = nbformat.read(course / "autograded" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    cells = {c.get("id"): c for c in nb.cells}
    for cell_id in ("explore_logreg", "explore_capacity", "explore_learning_rate",
                    "playground"):
        outputs = cells[cell_id].outputs
        assert [o.get("text") for o in outputs] == [
            NOT_WHILE_GRADING.format(verb="grades") + "\n"], (cell_id, outputs)


def test_the_gradebook_holds_every_score(graded):
    """What the report says is what nbgrader's gradebook (SQLite or PostgreSQL) holds."""
    from nbgrader.api import Gradebook, MissingEntry

    course, results, _ = graded
    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in results["submissions"]:
            try:
                found = gb.find_submission(ASSIGNMENT, sub["student"])
            except MissingEntry:
                found = None
            assert found is not None, f"{sub['student']} is not in {course.db_url}"
            assert found.score == EXPECTED[sub["student"]][1], sub["student"]


def test_submitted_is_unchanged(graded):
    course, _, before = graded
    assert file_hashes(course / "submitted") == before
