"""Every verb on a course with two assignments: release, collect, autograde, feedback, report,
export (`make formgrade` is a server: tests/browser/test_formgrader.py runs it).

A scratch course holds the quick course's ``standin`` and a second assignment ``second``
(one exercise, another notebook name, a judge of its own); nothing names either of them
but their folders.
"""

import zipfile

import nbformat
import pytest
import quick_course as sc

from coursetools import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = sc.make_course(tmp_path_factory.mktemp("two") / "course")
    second = sc.source_notebook(("sigmoid",))
    sc.generate_course(root, "second", "logistic.ipynb", second, sc.JUDGE)
    return root


def _cli(*args):
    return cli.main([args[0], "--course", str(args[1]), *map(str, args[2:])])


def test_the_whole_flow_on_two_assignments(course, tmp_path, capsys):
    assert _cli("release", course) == 0
    for assignment, notebook in (("standin", "standin"), ("second", "logistic")):
        assert (course / "release" / assignment / f"{notebook}.ipynb").is_file()
        assert (course / "solutions" / assignment / f"{notebook}.ipynb").is_file()
    assert _cli("release", course, "--check") == 0

    # collect: the file-name pattern comes from each assignment's released notebooks
    released = nbformat.read(course / "release" / "second" / "logistic.ipynb", as_version=4)
    for cell in released.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid":
            cell.source = sc.SIGMOID
    download = tmp_path / "lms.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("ada_logistic.ipynb", nbformat.writes(released))
    assert _cli("collect", course, download) == 1  # two assignments: which one?
    assert "say which assignment" in capsys.readouterr().err
    assert _cli("collect", course, download, "--assignment", "second") == 0
    assert (course / "submitted" / "ada" / "second" / "logistic.ipynb").is_file()
    sc.submit(course, "bo", sc.submission(course))  # standin, by hand

    # autograde without --assignment: each assignment with submissions, in turn
    assert _cli("autograde", course, "--quiet", "--jobs", "2") == 0
    out = capsys.readouterr().out
    assert "standin: 1 submissions" in out and "second: 1 submissions" in out
    grades = (course / "grades.csv").read_text()
    assert "second" in grades and "standin" in grades

    assert _cli("feedback", course) == 0
    assert (course / "feedback" / "ada" / "second" / "logistic.html").is_file()
    assert (course / "feedback" / "bo" / "standin" / "standin.html").is_file()

    assert _cli("report", course) == 0
    for assignment in ("standin", "second"):
        assert (course / "reports" / assignment / "index.html").is_file()
    assert _cli("report", course, "--assignment", "nope") == 1

    # export: grades.csv and the feedback of every assignment, and who waits for a grader
    (course / "grades.csv").unlink()
    assert _cli("export", course) == 0
    grades = (course / "grades.csv").read_text()
    assert "second" in grades and "standin" in grades
    assert (course / "feedback" / "ada" / "second" / "logistic.html").is_file()
    assert (course / "feedback" / "bo" / "standin" / "standin.html").is_file()
    assert _cli("export", course, "--assignment", "nope") == 1
