"""Feedback shows every test's result and points but not the source of hidden tests."""

import html
import re

import pytest
from quick_course import (
    ASSIGNMENT,
    CORRECT,
    HIDDEN_CANARY,
    NOTEBOOK,
    WRONG_HIDDEN,
    make_course,
    submission,
    submit,
)

from coursetools import cli
from coursetools.course import Course
from coursetools.preprocessors import hide_hidden_tests as feedback

pytestmark = pytest.mark.slow


def _text(path):
    """What a reader sees: the page without tags (syntax highlighting splits code into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("course"), exercises=("sigmoid",))
    submit(root, "alice", submission(root, sigmoid=CORRECT))
    submit(root, "bob", submission(root, sigmoid=WRONG_HIDDEN))
    Course(root).nbgrader("autograde", ASSIGNMENT, "--force")
    return root


def _feedback(root, student):
    return root / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"


def test_strip_keeps_the_rest():
    pre = feedback.HideHiddenTests()
    source, found = pre.hide_blocks("a = 1\n    ### BEGIN HIDDEN TESTS\n    secret()\n"
                              "    ### END HIDDEN TESTS\nb = 2")
    assert found
    assert source == f"a = 1\n    {feedback.HIDDEN_NOTE}\nb = 2"
    assert pre.hide_blocks("x = 1") == ("x = 1", False)


def test_feedback_hides_hidden_tests(course):
    assert cli.main(["feedback", "--course", str(course), "--assignment", ASSIGNMENT]) == 0
    for student, score in (("alice", "2.0 / 2.0"), ("bob", "0.0 / 2.0")):
        page = _feedback(course, student)
        assert page.is_file(), student
        text = _text(page)
        assert HIDDEN_CANARY not in text, f"{student}'s feedback shows a hidden test"
        assert "hidden tests: their result and points are shown" in text
        assert score in text, f"{student}'s feedback lacks the points"
        assert "sigmoid(0) should be 0.5" in text  # the visible test is shown
    # bob failed the hidden test: he sees that it failed, not the lines of the traceback
    assert "AssertionError" in _text(_feedback(course, "bob"))
    assert feedback.TRACEBACK_NOTE in _text(_feedback(course, "bob"))


def test_show_hidden_tests_restores_nbgrader(course):
    argv = ["feedback", "--course", str(course), "--assignment", ASSIGNMENT, "--student",
            "alice"]
    assert cli.main([*argv, "--show-hidden-tests"]) == 0
    assert HIDDEN_CANARY in _text(_feedback(course, "alice"))
    assert cli.main(argv) == 0
    assert HIDDEN_CANARY not in _text(_feedback(course, "alice"))


def test_plain_nbgrader_uses_the_course_default(course):
    Course(course).nbgrader("generate_feedback", ASSIGNMENT, "--force")
    for student in ("alice", "bob"):
        assert HIDDEN_CANARY not in _text(_feedback(course, student))


def test_nothing_autograded_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("")
    assert cli.main(["feedback", "--course", str(tmp_path), "--assignment", ASSIGNMENT]) == 1
    assert "run `make autograde` first" in capsys.readouterr().err
