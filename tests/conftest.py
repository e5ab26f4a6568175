"""Fixtures shared by several test modules."""

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
