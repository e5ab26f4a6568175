"""Fixtures shared by several test modules."""

import hashlib

import pytest


@pytest.fixture(scope="session")
def standin_template(tmp_path_factory):
    """The quick course (tests/quick_course.py), built once per session.

    Copy it (``quick_course.copy_course``) before changing anything in it."""
    import quick_course

    return quick_course.make_course(tmp_path_factory.mktemp("standin") / "course")


@pytest.fixture(scope="session")
def tcp_listener():
    """A TCP listener on every interface; ``.connections`` counts what reached it."""
    import quick_course

    listener = quick_course.Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def graded_example_class(tmp_path_factory):
    """The example class in a scratch course, autograded once per session with its feedback
    (``make demo``'s steps): ``(course folder, results, {file: sha256} of submitted/ before
    grading)``. Copy the folder before changing anything in it (grading by hand changes the
    gradebook)."""
    from coursetools.commands import demo

    course = demo.prepare(tmp_path_factory.mktemp("example-class") / "course")
    submitted = course.path("submitted")
    before = {p.relative_to(submitted): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(submitted.rglob("*")) if p.is_file()}
    results = demo.grade_and_feedback(course)
    return course.root, results, before
