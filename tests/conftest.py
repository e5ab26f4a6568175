"""Fixtures shared by several test modules."""

import pytest
from quick_course import file_hashes


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
    before = file_hashes(course.path("submitted"))
    results = demo.grade_and_feedback(course)
    return course.root, results, before


@pytest.fixture(scope="session")
def graded_example_class_on_a_cluster(tmp_path_factory):
    """The example class as ``graded_example_class``, but graded on a real Dask cluster
    (``dask scheduler`` and two ``dask worker`` processes, one of them killed while it
    grades) with the gradebook on a real PostgreSQL server: ``(course folder, results,
    {file: sha256} of submitted/ before grading, the killed worker's name)``."""
    from nbgrader.converters import GenerateAssignment
    from postgres_server import PostgresServer
    from worker_killer import KillWhenBusy

    from coursetools import example_class
    from coursetools.autograde import autograde
    from coursetools.autograde.cluster_bench import LocalProcesses
    from coursetools.commands import demo, feedback
    from coursetools.course import Course

    try:
        server = PostgresServer().start()
    except RuntimeError as error:
        pytest.fail(str(error))  # never skip: make test installs PostgreSQL
    running = None
    try:
        running = LocalProcesses(tmp_path_factory.mktemp("example-dask"))
        folder = tmp_path_factory.mktemp("example-class-cluster") / "course"
        demo.make_course(folder)
        (folder / "gradebook.db").unlink()
        with open(folder / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {server.create_database('cls')!r}\n")
        course = Course(folder)
        course.convert(GenerateAssignment, example_class.ASSIGNMENT)
        example_class.write_class(course, example_class.ASSIGNMENT)
        before = file_hashes(course.path("submitted"))
        killer = KillWhenBusy(running, after=3.0)
        results = autograde(course, example_class.ASSIGNMENT, scheduler=running.address)
        assert killer.join() and killer.is_dead(), "no worker was killed while it graded"
        feedback.generate(course, example_class.ASSIGNMENT)
        yield course.root, results, before, killer.killed
    finally:
        if running is not None:
            running.close()
        server.stop()
