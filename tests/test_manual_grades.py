"""Grading by hand around the engine's gradebook, on the quick course plus a written answer.

- every submission, an invalid notebook too, is "autograded" for formgrader (never "needs
  autograding"), and formgrader's "flagged" is the report's;
- `python -m coursetools export` puts formgrader's manual points into grades.csv and its
  comments into the feedback, and names what is still to grade by hand;
- a regrade (`make autograde` again) keeps manual points and comments;
- `make formgrade`'s command line and environment: instructor configuration, localhost only,
  the token never on the command line; a port in use is refused in one line.

The browser half (the same on the real assignment, clicked in formgrader) is
tests/browser/test_formgrader.py.
"""

import html
import socket
from argparse import Namespace

import pytest
import quick_course as qc

from coursetools.autograde import autograde
from coursetools.cli import main
from coursetools.commands import export, formgrade
from coursetools.course import Course, CourseError
from coursetools.report.formgrader_links import formgrader_links

pytestmark = pytest.mark.slow

RECAP, RECAP_POINTS = "recap", 2.0
MAX = qc.MAX_SCORE + RECAP_POINTS
COMMENT = "Right idea; say why the gradient is summed over samples."


def _course(root):
    nb = qc.source_notebook()
    nb.cells.append(qc.written_answer(RECAP, "Why sum the gradient?", RECAP_POINTS,
                                      solution="Because."))
    nb.cells[-1].id = "recap-answer"
    return qc.generate_course(root, qc.ASSIGNMENT, f"{qc.NOTEBOOK}.ipynb", nb, qc.JUDGE)


def _answered(nb):
    """``nb`` with its written answer filled in (an unanswered one nbgrader scores 0 itself)."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == RECAP:
            cell.source = "Each sample adds its own share of the loss."
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ada correct, tam with an edited test cell (flagged), gus invalid JSON; graded once."""
    course = _course(tmp_path_factory.mktemp("manual") / "course")
    qc.submit(course, "ada", _answered(qc.submission(course)))
    tampered = _answered(qc.submission(course))
    for cell in tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_relu":
            cell.source = "pass  # edited by the student"
    qc.submit(course, "tam", tampered)
    qc.submit(course, "gus", raw="{ not json")
    results = autograde(course, qc.ASSIGNMENT, jobs=2, progress=False)
    return Course(course), {s["student"]: s for s in results["submissions"]}


def _api(course):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=course.config)
    return NbGraderAPI(coursedir, Authenticator(config=course.config), config=course.config)


def _grades_csv(course):
    import csv

    with open(course / "grades.csv", newline="") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def _grade_by_hand(course, student, points, comment):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        grade = gb.find_grade(RECAP, qc.NOTEBOOK, qc.ASSIGNMENT, student)
        grade.manual_score = points
        grade.needs_manual_grade = False  # what formgrader's save does
        gb.find_comment(RECAP, qc.NOTEBOOK, qc.ASSIGNMENT, student).manual_comment = comment
        gb.db.commit()


def _manual(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        grade = gb.find_grade(RECAP, qc.NOTEBOOK, qc.ASSIGNMENT, student)
        comment = gb.find_comment(RECAP, qc.NOTEBOOK, qc.ASSIGNMENT, student)
        return grade.manual_score, comment.manual_comment


def test_formgrader_sees_every_submission_autograded_and_the_reports_flags(graded):
    course, subs = graded
    assert subs["gus"]["status"] == "invalid_notebook" and subs["tam"]["flags"]
    listed = {s["student"]: s for s in _api(course).get_submissions(qc.ASSIGNMENT)}
    assert sorted(listed) == ["ada", "gus", "tam"]
    assert [s for s, v in listed.items() if not v["autograded"]] == [], "needs autograding"
    flagged = {s for s, v in listed.items() if v["autograded"] and _flagged(course, s)}
    assert flagged == {"gus", "tam"}


def _flagged(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        found = gb.find_submission(qc.ASSIGNMENT, student)
        return any(nb.flagged for nb in found.notebooks)


def test_report_links_point_at_each_submissions_formgrader_page(graded):
    course, _ = graded
    links = formgrader_links(course, qc.ASSIGNMENT, ["ada", "gus", "tam", "nobody"],
                             "http://127.0.0.1:9999/")
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        ada = gb.find_submission_notebook(qc.NOTEBOOK, qc.ASSIGNMENT, "ada").id
    assert links["ada"] == f"http://127.0.0.1:9999/formgrader/submissions/{ada}/"
    assert links["gus"] == f"http://127.0.0.1:9999/formgrader/manage_students/gus/{qc.ASSIGNMENT}"
    assert "nobody" not in links


def test_the_report_links_flagged_submissions_and_only_those_to_formgrader(graded):
    course, _ = graded
    page = (course.reports(qc.ASSIGNMENT) / "index.html").read_text()
    links = formgrader_links(course, qc.ASSIGNMENT, ["ada", "gus", "tam"])
    for student in ("gus", "tam"):  # an invalid notebook, a tampered one
        assert f'<a href="{links[student]}">formgrader</a>' in page, student
    assert links["ada"] not in page  # graded cleanly: nothing to look at


def test_export_writes_manual_points_and_comments_and_says_what_is_left(graded, capsys):
    course, _ = graded
    before = _grades_csv(course)
    assert before["ada"] == qc.MAX_SCORE  # written answer not graded yet
    _grade_by_hand(course, "ada", 1.5, COMMENT)
    (course / "grades.csv").unlink()
    assert main(["export", "--course", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert _grades_csv(course)["ada"] == qc.MAX_SCORE + 1.5
    assert _grades_csv(course)["tam"] == before["tam"]
    page = (course / "feedback" / "ada" / qc.ASSIGNMENT / f"{qc.NOTEBOOK}.html").read_text()
    assert html.escape(COMMENT) in page
    assert "tam" in out.split("still have answers to grade by hand")[1]
    assert "ada" not in out.split("still have answers to grade by hand")[1]


def test_a_regrade_keeps_manual_points_and_comments(graded):
    course, _ = graded
    _grade_by_hand(course, "ada", 1.5, COMMENT)
    autograde(course, qc.ASSIGNMENT, jobs=2, progress=False, report=False)
    assert _manual(course, "ada") == (1.5, COMMENT)
    assert _grades_csv(course)["ada"] == qc.MAX_SCORE + 1.5  # the engine's own export
    # nbgrader asks for a second look at a manual grade after a regrade; export says so
    assert export.still_to_grade(course, qc.ASSIGNMENT) == (["tam"], ["ada"])


def test_export_without_a_gradebook_says_so(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(CourseError, match="make autograde"):
        export.run(Course(tmp_path), Namespace(assignment=None, show_hidden_tests=False))


def test_formgrade_command_is_the_instructors_on_localhost_with_a_hidden_token(tmp_path):
    course = Course(qc.COURSE_ROOT)
    line = formgrade.command(course, 8899)
    assert "--ServerApp.ip=127.0.0.1" in line and "--port=8899" in line
    assert f"--ServerApp.root_dir={course.root}" in line
    assert not any("token" in part.lower() for part in line)
    env = formgrade.environment("s3cret")
    assert env["JUPYTER_TOKEN"] == "s3cret"
    assert env["JUPYTER_CONFIG_PATH"] == str(formgrade.INSTRUCTOR_CONFIG)
    import json

    server = json.loads((formgrade.INSTRUCTOR_CONFIG / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["ip"] == "127.0.0.1"
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is True
    page = json.loads((formgrade.INSTRUCTOR_CONFIG / "labconfig" / "page_config.json").read_text())
    off = [name for name, disabled in page["disabledExtensions"].items() if disabled]
    assert not [name for name in off if "nbgrader" in name], off


def test_formgrade_refuses_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["formgrade", "--port", str(port)]) == 1
    assert f"port {port}" in capsys.readouterr().err

