"""Nothing a student does is lost: work/ is theirs, and an edited generated file is kept.

A git-tracked quick course stands for the repository: its release/ and solutions/ are the
generated, committed files. A student edits both their own copy (work/) and, against the
advice, release/; then the verbs that rebuild release/ run: `release` (the command line) and
demo's rebuild of a stale release/ (``demo.ensure_release``, the only part of `make demo`
that writes into the course; the example class is graded in a scratch course).
"""

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell
from quick_course import ASSIGNMENT, NOTEBOOK, make_course

from coursetools.backup import BACKUPS
from coursetools.commands import demo, release
from coursetools.course import Course
from nnscratch.workspace import WORK, ensure_work_copies, main

pytestmark = pytest.mark.slow

NAME = f"{ASSIGNMENT}/{NOTEBOOK}.ipynb"


def git(root, *args):
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("work-copy") / "course")
    release.build(Course(root))
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    return root


def add_answer(path, text):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_markdown_cell(text))
    nbformat.write(nb, path)


def has_answer(path, text):
    return any(cell.source == text for cell in nbformat.read(path, as_version=4).cells)


def backups_with(root, text):
    return [p for p in (root / BACKUPS).rglob("*.ipynb") if has_answer(p, text)]


def test_the_copy_is_made_once_and_never_replaced(course, capsys):
    assert ensure_work_copies(course) == [course / WORK / NAME]
    work = course / WORK / NAME
    assert work.read_bytes() == (course / "release" / NAME).read_bytes()
    add_answer(work, "answer in work")
    assert ensure_work_copies(course) == []
    assert main([str(course)]) == 0
    assert "nothing was changed" in capsys.readouterr().out
    assert has_answer(work, "answer in work")


def test_release_and_demo_keep_both_edits(course):
    assert has_answer(course / WORK / NAME, "answer in work")  # the test above made it
    add_answer(course / "release" / NAME, "answer in release")

    out = subprocess.run(
        [sys.executable, "-m", "coursetools", "release", "--course", str(course)],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    kept = backups_with(course, "answer in release")
    assert len(kept) == 1, out.stdout
    assert f"kept a copy in {kept[0].relative_to(course)}" in out.stdout
    assert not has_answer(course / "release" / NAME, "answer in release")  # rebuilt
    assert has_answer(course / WORK / NAME, "answer in work")

    add_answer(course / "release" / NAME, "second answer in release")
    demo.ensure_release(Course(course))
    assert len(backups_with(course, "second answer in release")) == 1
    assert has_answer(course / WORK / NAME, "answer in work")
    assert git(course, "status", "--porcelain", "--", "release", "solutions") == ""

    # a rebuild of files nobody edited keeps nothing more
    before = sorted((course / BACKUPS).rglob("*"))
    release.build(Course(course))
    assert sorted((course / BACKUPS).rglob("*")) == before
