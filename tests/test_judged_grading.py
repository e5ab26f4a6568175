"""Hidden tests are judged by the grader however the course is graded, and never by trust.

- stock ``nbgrader autograde`` (as formgrader's Autograde button runs it) goes through the
  course's nbgrader_config.py, so the same judge runs: a forged result earns nothing;
- nbgrader without the judge (a configuration that drops it): every hidden test fails
  closed, with a sentence that says why;
- a judge that trusted the kernel would let the hostile suite's forgeries through, so the
  suite's checks can fail.
"""

import nbformat
import pytest
import quick_course as sc
from test_hostile import FORGED_VALUES, GC_REFERENCES, WRONG_BUT_VISIBLE

from coursetools.autograde import autograde
from coursetools.course import Course

pytestmark = pytest.mark.slow

STUDENTS = {
    "honest": {},
    "forger": {"sigmoid": FORGED_VALUES},  # wrong sigmoid, every hidden result forged
    "visible_only": {"sigmoid": WRONG_BUT_VISIBLE},
}


def _class(template, target):
    course = sc.copy_course(template, target)
    for student, code in STUDENTS.items():
        sc.submit(course, student, sc.submission(course, **code))
    return course


def _scores(course):
    from nbgrader.api import Gradebook

    with Gradebook(Course(course).db_url) as gb:
        return {s: {g.name: g.score for nb in gb.find_submission(sc.ASSIGNMENT, s).notebooks
                    for g in nb.grades} for s in STUDENTS}


def _outputs(course, student):
    path = course / "autograded" / student / sc.ASSIGNMENT / f"{sc.NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.outputs for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def test_stock_nbgrader_runs_the_same_judge(standin_template, tmp_path):
    course = _class(standin_template, tmp_path / "course")
    Course(course).nbgrader("autograde", sc.ASSIGNMENT)
    scores = _scores(course)
    assert scores["honest"] == {"test_sigmoid": 2.0, "test_relu": 3.0}
    assert scores["forger"] == {"test_sigmoid": 0.0, "test_relu": 0.0}
    assert scores["visible_only"] == {"test_sigmoid": 0.0, "test_relu": 3.0}
    failed = _outputs(course, "forger")["test_sigmoid"][0]
    assert failed.output_type == "error" and "hidden test failed" in failed.evalue
    assert (course / "grading_secret.key").is_file()  # made on first use, beside the gradebook


def test_without_the_judge_every_hidden_test_fails_closed(standin_template, tmp_path):
    course = _class(standin_template, tmp_path / "course")
    with open(course / "nbgrader_config.py", "a") as config:  # nbgrader's own pipeline
        config.write("\nc.Autograde.autograde_preprocessors = [\n" + "".join(
            f"    'nbgrader.preprocessors.{name}',\n" for name in (
                "Execute", "IgnorePattern", "LimitOutput", "SaveAutoGrades",
                "AssignLatePenalties", "CheckCellMetadata")) + "]\n")
    Course(course).nbgrader("autograde", sc.ASSIGNMENT)
    assert all(points == 0.0 for student in _scores(course).values()
               for points in student.values())
    errors = [o for o in _outputs(course, "honest")["test_sigmoid"] if o.output_type == "error"]
    assert errors and "course's grader" in errors[0].evalue


def test_a_judge_that_trusted_the_kernel_would_be_fooled(standin_template, tmp_path):
    course = sc.copy_course(standin_template, tmp_path / "course")
    trusting = (course / "judges" / "standin.py").read_text().replace(
        "close(1 / (1 + np.exp(-x)), atol=1e-9)", "lambda result: None")
    (course / "judges" / "standin.py").write_text(trusting)
    for student, code in [("forger", FORGED_VALUES), ("gc", GC_REFERENCES)]:
        sc.submit(course, student, sc.submission(course, sigmoid=code))
    results = autograde(course, sc.ASSIGNMENT, jobs=2, progress=False, report=False)
    for sub in results["submissions"]:
        points = {t["grade_id"]: t["points"] for t in sub["tests"]}
        assert points["test_sigmoid"] == 2.0, sub  # what the hostile suite says cannot happen
