"""Phase 0 of autograding, in the main process: is ``release/`` current, and does the gradebook
hold the assignment?

The assignment is generated from ``source/`` (nbgrader ``GenerateAssignment``) in a scratch
course against a copy of the gradebook: a ``release/`` that differs from what that produces
is stale (the students got something else) and grading stops. When the real gradebook does
not hold exactly these cells (hidden tests included, which ``OverwriteCells`` restores into
tampered test cells), the assignment is generated again against it. A copy of the gradebook
is then the template each job grades against.
"""

import filecmp
import sqlite3
from pathlib import Path

from coursetools.course import CourseError
from coursetools.files import relative_files

SERVER_SCHEMES = ("postgresql", "postgres", "mysql")  # SQLAlchemy URLs the engine copies


def copy_database(source, target):
    """A consistent copy of an SQLite file, read without writing to it (or an empty file)."""
    target = Path(target)
    if target.exists():
        target.unlink()
    if source is None or not Path(source).is_file():
        return target
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def copy_gradebook(db_url, target):
    """``copy_database`` for a gradebook on a server (PostgreSQL, MySQL: any SQLAlchemy URL):
    every row of nbgrader's tables, read in one transaction, into a new SQLite file.

    The jobs grade against SQLite copies whatever the course's database is: a job never
    connects to the real gradebook (its sandbox has no network anyway), and phase 2 records
    into the real one.
    """
    from nbgrader.api import Base, Gradebook
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    target = Path(target)
    if target.exists():
        target.unlink()
    Gradebook(f"sqlite:///{target}").close()  # nbgrader's tables and alembic version
    source, copy = create_engine(db_url), create_engine(f"sqlite:///{target}")
    try:
        try:
            reading = source.connect()
        except SQLAlchemyError as error:
            shown = make_url(db_url).render_as_string(hide_password=True)
            first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise CourseError(f"cannot read the gradebook at {shown}: {first}") from None
        with reading, reading.begin(), copy.begin() as writing:
            present = set(inspect(reading).get_table_names())  # none yet: a new gradebook
            for table in reversed(Base.metadata.sorted_tables):  # the row Gradebook() made
                writing.execute(table.delete())
            for table in Base.metadata.sorted_tables:  # parents before children
                if table.name not in present:
                    continue
                rows = [dict(row._mapping) for row in reading.execute(table.select())]
                if rows:
                    writing.execute(table.insert(), rows)
    finally:
        source.dispose()
        copy.dispose()
    return target


def _generate(course, assignment, root, db_url, log_path):
    from nbgrader.converters import GenerateAssignment

    config = course.derive(**{
        "CourseDirectory.root": str(root),
        "CourseDirectory.source_directory": str(course.path("source")),
        "CourseDirectory.release_directory": "release",
        "CourseDirectory.db_url": db_url,
    })
    course.convert(GenerateAssignment, assignment, config=config, log=log_path)
    return Path(root) / "release" / assignment


def _signature(db_url, assignment):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            return None
        return sorted(
            (nb.name, nb.kernelspec,
             sorted((c.name, c.cell_type, c.locked, c.source, c.checksum)
                    for c in nb.source_cells),
             sorted((c.name, c.cell_type, float(c.max_score)) for c in nb.grade_cells),
             sorted(c.name for c in nb.solution_cells),
             sorted((c.name, float(c.max_score)) for c in nb.task_cells))
            for nb in found.notebooks)


def prepare(course, assignment, scratch, log_path):
    """Check release/ against source/, make sure the gradebook holds the assignment, and
    return the path of the gradebook template for the jobs."""
    scratch = Path(scratch)
    released = course.path("release", ".", assignment)
    if not any(released.glob("*.ipynb")):
        raise CourseError(f"{released} has no notebook: run `make release` first")
    gen = scratch / "generate"
    gen.mkdir(parents=True)
    _template(course, gen / "gradebook.db")
    fresh = _generate(course, assignment, gen, f"sqlite:///{gen / 'gradebook.db'}", log_path)
    new, old = relative_files(fresh), relative_files(released)
    for name in sorted(new ^ old) + sorted(
            n for n in new & old if not filecmp.cmp(fresh / n, released / n, shallow=False)):
        raise CourseError(f"{released}/ is out of date with source/{assignment}/ ({name}): "
                          "run `make release` and hand out the new version first")
    if _signature(course.db_url, assignment) != _signature(
            f"sqlite:///{gen / 'gradebook.db'}", assignment):
        # into the real gradebook (created here in a fresh clone, which has none); the
        # release/ this writes goes to a scratch root, which nbgrader needs to exist
        real = scratch / "generate-real"
        real.mkdir(parents=True)
        _generate(course, assignment, real, course.db_url, log_path)
    return _template(course, scratch / "gradebook.db")


def _template(course, target):
    """A consistent SQLite copy of the course's gradebook (SQLite or on a server) at target."""
    db_path = course.sqlite_path()
    if db_path is not None or not course.db_url.startswith(SERVER_SCHEMES):
        if db_path is None:
            raise CourseError(f"the gradebook's database is not supported: {course.db_url!r} "
                              "(SQLite, or PostgreSQL with postgresql://)")
        return copy_database(db_path, target)
    return copy_gradebook(course.db_url, target)
