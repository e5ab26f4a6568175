"""`make collect`: an LMS ZIP download into submitted/ with nbgrader zip_collect."""

import shutil
import zipfile

import nbformat
import pytest
from minicourse import ASSIGNMENT, CORRECT, NOTEBOOK, submission

from coursetools import cli
from coursetools.commands import collect
from coursetools.course import REPOSITORY as COURSE_ROOT

pytestmark = pytest.mark.slow  # runs nbgrader


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    (root / "release" / ASSIGNMENT).mkdir(parents=True)
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", root)
    nbformat.write(submission(CORRECT), root / "release" / ASSIGNMENT / NOTEBOOK)
    return root


def _zip(path, names):
    text = nbformat.writes(submission(CORRECT))
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, text if name.endswith(".ipynb") else "notes")
    return path


def _run(course, *argv):
    return cli.main(["collect", "--course", str(course), *map(str, argv)])


def test_collects_matching_files(course, tmp_path, capsys):
    download = _zip(tmp_path / "canvas.zip", [
        "alice_nn_from_scratch.ipynb",
        "submissions/bob_nn_from_scratch_2024-05-01_attempt2.ipynb",
        "carol nn from scratch.ipynb",  # not the pattern: reported, skipped
        "readme.txt",
    ])
    assert _run(course, download) == 0
    out, err = capsys.readouterr()
    assert "collected 2 submission(s)" in out and "alice, bob" in out
    assert "carol nn from scratch.ipynb" in err and collect.REGEX_SETTING in err
    for student in ("alice", "bob"):
        got = course / "submitted" / student / ASSIGNMENT / NOTEBOOK
        assert nbformat.read(got, as_version=4).cells == submission(CORRECT).cells
    assert not (course / "submitted" / "carol").exists()

    # a second download for the same students is refused unless --force
    assert _run(course, download) == 1
    assert "already submitted: alice, bob" in capsys.readouterr().err
    assert _run(course, download, "--force") == 0


def test_no_file_matches(course, tmp_path, capsys):
    download = _zip(tmp_path / "moodle.zip", ["Alice Smith_123_assignsubmission_file_hw.ipynb"])
    assert _run(course, download) == 1
    err = capsys.readouterr().err
    assert "Alice Smith_123_assignsubmission_file_hw.ipynb" in err
    assert collect.REGEX_SETTING in err and "nbgrader_config.py" in err
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no such file"),
    (lambda p: (p.write_text("not a zip"), p)[1], "not a ZIP archive"),
    (lambda p: _zip(p, ["readme.txt"]), "no .ipynb file"),
    (lambda p: _zip(p, ["../alice_nn_from_scratch.ipynb"]), "unsafe path"),
])
def test_bad_downloads(course, tmp_path, capsys, make, message):
    assert _run(course, make(tmp_path / "download.zip")) == 1
    assert message in capsys.readouterr().err


def test_missing_argument(course, capsys):
    assert _run(course) == 1
    assert "make collect ZIP=" in capsys.readouterr().err
