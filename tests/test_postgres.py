"""The whole flow with the gradebook on a real PostgreSQL server (tests/postgres_server.py).

A quick course with a written answer, whose nbgrader_config.py sets
``c.CourseDirectory.db_url = "postgresql://..."``, on a fresh database: `make release`
rebuilds release/ without touching the server (its scratch course has a gradebook of its
own), autograde creates the
assignment there and records two students, a grader gives the written answer points and a
comment through nbgrader's API (what formgrader does), nbgrader's export writes grades.csv,
and the feedback carries the comment. No SQLite gradebook appears in the course. A database
that refuses the connection stops autograde with one line before anything is written.
"""

import csv
import shutil

import pytest
from postgres_server import PostgresServer
from quick_course import (
    ASSIGNMENT,
    CORRECT,
    JUDGE,
    NOTEBOOK,
    WRONG_SIGMOID,
    generate_course,
    new_source_notebook,
    source_notebook,
    submission,
    submit,
    written_answer,
)

from coursetools import cli
from coursetools.course import Course

pytestmark = pytest.mark.slow

COMMENT = "Well argued: the curve is symmetric about 0."


@pytest.fixture(scope="module")
def server():
    try:
        started = PostgresServer().start()
    except RuntimeError as error:
        pytest.fail(str(error))  # never skip: make test installs PostgreSQL
    yield started
    started.stop()


def course_on(root, db_url):
    """The one-exercise quick course plus a written answer, its gradebook at ``db_url``."""
    cells = source_notebook(("sigmoid",)).cells
    cells.append(written_answer("recap_sigmoid", "Why is sigmoid(0) one half?"))
    generate_course(root, ASSIGNMENT, f"{NOTEBOOK}.ipynb", new_source_notebook(cells), JUDGE)
    (root / "gradebook.db").unlink()  # generate_course's SQLite one: this course has none
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    return root


def answered(course, text):
    nb = submission(course, sigmoid=CORRECT)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == "recap_sigmoid")
    cell.source = text
    return nb


def test_the_flow_on_postgresql(server, tmp_path):
    from nbgrader.api import Gradebook

    url = server.create_database("flow")
    course = course_on(tmp_path / "course", url)
    # `make release` rebuilds release/ in a scratch course with a gradebook of its own
    shutil.rmtree(course / "release")
    assert cli.main(["release", "--course", str(course)]) == 0
    assert (course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").is_file()
    with Gradebook(url) as gb:
        assert gb.assignments == [], "make release wrote the course's gradebook"
    assert not (course / "gradebook.db").exists()
    submit(course, "alice", answered(course, "By symmetry: sigma(-z) = 1 - sigma(z)."))
    submit(course, "bob", submission(course, sigmoid=WRONG_SIGMOID))

    assert cli.main(["autograde", "--course", str(course), "--assignment", ASSIGNMENT]) == 0
    assert not (course / "gradebook.db").exists(), "a SQLite gradebook appeared"
    with Gradebook(url) as gb:
        assert {s.id for s in gb.students} == {"alice", "bob"}
        alice = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "alice")
        assert (alice.score, alice.max_score) == (2.0, 3.0)  # the written point waits
        assert gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "bob").score == 0.0
        # what formgrader does when the grader saves
        grade = gb.find_grade("recap_sigmoid", NOTEBOOK, ASSIGNMENT, "alice")
        grade.manual_score = 1.0
        comment = gb.find_comment("recap_sigmoid", NOTEBOOK, ASSIGNMENT, "alice")
        comment.manual_comment = COMMENT
        gb.db.commit()

    Course(course).nbgrader("export", f"--to={course / 'grades.csv'}")
    with open(course / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {"alice": 3.0, "bob": 0.0}

    assert cli.main(["feedback", "--course", str(course), "--assignment", ASSIGNMENT]) == 0
    page = course / "feedback" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html"
    assert COMMENT in page.read_text()


def test_a_refused_connection_is_one_line_before_anything_is_written(server, tmp_path, capsys):
    # a port nothing listens on: the database refuses the connection
    refused = server.url("flow").replace(f":{server.port}/", ":1/")
    course = course_on(tmp_path / "course", refused)
    submit(course, "alice", submission(course, sigmoid=CORRECT))
    assert cli.main(["autograde", "--course", str(course), "--assignment", ASSIGNMENT]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read the gradebook at "), err
    assert "Traceback" not in "\n".join(err)
    for written in ("autograded", "grades.csv", "gradebook.db", f"reports/{ASSIGNMENT}/index.html",
                    f"reports/{ASSIGNMENT}/results.json"):
        assert not (course / written).exists(), f"{written} was written"
