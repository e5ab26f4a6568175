"""Fixtures shared by several test modules."""

import pytest


@pytest.fixture(scope="session")
def standin_template(tmp_path_factory):
    """The autograder's stand-in course (tests/standin_course.py), built once per session.

    Copy it (``standin_course.copy_course``) before changing anything in it."""
    import standin_course

    return standin_course.make_course(tmp_path_factory.mktemp("standin") / "course")


@pytest.fixture(scope="session")
def tcp_listener():
    """A TCP listener on every interface; ``.connections`` counts what reached it."""
    import standin_course

    listener = standin_course.Listener()
    yield listener
    listener.close()
