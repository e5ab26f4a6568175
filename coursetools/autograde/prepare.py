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


def _generate(course, assignment, root, db_path, log_path):
    from nbgrader.converters import GenerateAssignment

    config = course.derive(**{
        "CourseDirectory.root": str(root),
        "CourseDirectory.source_directory": str(course.path("source")),
        "CourseDirectory.release_directory": "release",
        "CourseDirectory.db_url": f"sqlite:///{db_path}",
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
    db_path = course.sqlite_path()
    if db_path is None:
        raise CourseError(f"the gradebook must be SQLite (got {course.db_url.split(':')[0]})")
    gen = scratch / "generate"
    gen.mkdir(parents=True)
    copy_database(db_path, gen / "gradebook.db")
    fresh = _generate(course, assignment, gen, gen / "gradebook.db", log_path)
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
        _generate(course, assignment, real, db_path, log_path)
    return copy_database(db_path, scratch / "gradebook.db")
