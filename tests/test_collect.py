"""`make collect`: an LMS ZIP download into submitted/ with nbgrader zip_collect."""

import zipfile

import nbformat
import pytest
from quick_course import ASSIGNMENT, NOTEBOOK, copy_course, make_course, submission

from coursetools import cli
from coursetools.commands import collect

pytestmark = pytest.mark.slow  # runs nbgrader


@pytest.fixture(scope="module")
def one_exercise(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("collect") / "course", exercises=("sigmoid",))


@pytest.fixture
def course(one_exercise, tmp_path):
    return copy_course(one_exercise, tmp_path / "course")


def _zip(path, names, course):
    text = nbformat.writes(submission(course))
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, text if name.endswith(".ipynb") else "notes")
    return path


def _run(course, *argv):
    return cli.main(["collect", "--course", str(course), *map(str, argv)])


def test_collects_matching_files(course, tmp_path, capsys):
    download = _zip(tmp_path / "canvas.zip", [
        f"alice_{NOTEBOOK}.ipynb",
        f"submissions/bob_{NOTEBOOK}_2024-05-01_attempt2.ipynb",
        "carol nn from scratch.ipynb",  # not the pattern: reported, skipped
        "readme.txt",
    ], course)
    assert _run(course, download) == 0
    out, err = capsys.readouterr()
    assert "collected 2 submission(s)" in out and "alice, bob" in out
    assert "carol nn from scratch.ipynb" in err and collect.REGEX_SETTING in err
    for student in ("alice", "bob"):
        got = course / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        assert nbformat.read(got, as_version=4).cells == submission(course).cells
    assert not (course / "submitted" / "carol").exists()

    # a second download for the same students is refused unless --force
    assert _run(course, download) == 1
    assert "already submitted: alice, bob" in capsys.readouterr().err
    assert _run(course, download, "--force") == 0


def test_no_file_matches(course, tmp_path, capsys):
    download = _zip(tmp_path / "moodle.zip", ["Alice Smith_123_assignsubmission_file_hw.ipynb"],
                    course)
    assert _run(course, download) == 1
    err = capsys.readouterr().err
    assert "Alice Smith_123_assignsubmission_file_hw.ipynb" in err
    assert collect.REGEX_SETTING in err and "nbgrader_config.py" in err
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p, c: p, "no such file"),
    (lambda p, c: (p.write_text("not a zip"), p)[1], "not a ZIP archive"),
    (lambda p, c: _zip(p, ["readme.txt"], c), "no .ipynb file"),
    (lambda p, c: _zip(p, [f"../alice_{NOTEBOOK}.ipynb"], c), "unsafe path"),
])
def test_bad_downloads(course, tmp_path, capsys, make, message):
    assert _run(course, make(tmp_path / "download.zip", course)) == 1
    assert message in capsys.readouterr().err


def test_missing_argument(course, capsys):
    assert _run(course) == 1
    assert "make collect ZIP=" in capsys.readouterr().err
