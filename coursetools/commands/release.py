"""Regenerate release/ (the student version) and solutions/ (executed) from source/, or check them.

nbgrader does the work (``GenerateAssignment``, ``GenerateSolution``) in a scratch copy of
the course, so the instructor's gradebook and submitted work are never touched; the
results are then copied into the course.

    python -m coursetools release [--assignment ID]    # rebuild (every assignment by default)
    python -m coursetools release --check              # exit 1 when something is stale
"""

import filecmp
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from coursetools.backup import edited_files, keep_copies
from coursetools.course import Course, CourseError
from coursetools.files import relative_files
from coursetools.judging.cases import judges_dir

KINDS = ("release", "solution")


def add_arguments(parser):
    parser.add_argument("--assignment", help="only this assignment (default: every one)")
    parser.add_argument("--check", action="store_true",
                        help="only report generated files that are out of date")


def _scratch_course(course, workdir):
    """A copy of the course's configuration, source/ and judges/ in ``workdir``, as a Course
    with a gradebook of its own (the solutions' hidden tests are judged there, with a
    secret of its own)."""
    shutil.copy2(course.root / "nbgrader_config.py", workdir / "nbgrader_config.py")
    shutil.copytree(course.path("source"), workdir / "source")
    if judges_dir(course).is_dir():
        shutil.copytree(judges_dir(course), workdir / "judges")
    scratch = Course(workdir)
    scratch.config.CourseDirectory.source_directory = "source"
    # its own gradebook, whatever the course's db_url: a rebuild never writes the real one
    # (autograde records the assignment there from release/ when it grades)
    scratch.config.CourseDirectory.db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    return scratch


def generate(scratch, assignment, execute=True):
    """Generate the release and the solutions of ``assignment`` inside ``scratch``."""
    from nbgrader.converters import GenerateAssignment, GenerateSolution

    log = scratch.root / f"{assignment}.log"
    scratch.convert(GenerateAssignment, assignment, log=log)
    # Without per-cell timestamps a rebuild of unchanged source leaves solutions/ as it was.
    skip = {"Execute.enabled": False, "InjectHiddenCases.enabled": False,
            "JudgeHiddenCases.enabled": False}
    # (the kernel's own start-up warnings would only clutter the terminal)
    config = scratch.derive(**{"Execute.record_timing": False,
                               "Execute.extra_arguments": ["--IPKernelApp.log_level=ERROR"],
                               **({} if execute else skip)})
    scratch.convert(GenerateSolution, assignment, config=config, log=log)


def _outputs(course, scratch, assignment):
    """(kind, fresh folder, the course's folder) of release/ and solutions/ of ``assignment``."""
    return [(kind, scratch.path(kind, ".", assignment), course.path(kind, ".", assignment))
            for kind in KINDS]


def build(course, assignments=None):
    """Rebuild release/ and solutions/ of ``assignments`` (default: all); print each.

    A file there that someone edited is copied to backups/ before it is replaced.
    """
    course = Course.of(course)
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    with tempfile.TemporaryDirectory(prefix="nn-release-") as tmp:
        scratch = _scratch_course(course, Path(tmp))
        for assignment in assignments or course.assignments():
            print(f"generating {assignment}: student version and executed solutions...",
                  flush=True)
            generate(scratch, assignment)
            for _kind, fresh, target in _outputs(course, scratch, assignment):
                keep_copies(course.root, edited_files(course.root, target, fresh), stamp)
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(fresh, target)
                print(f"  wrote {target.relative_to(course.root)}/")


def _inputs(path):
    """What a solution notebook says, without what executing it adds."""
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.get("id"), c.metadata.get("nbgrader")) for c in nb.cells]


def stale_files(course, assignments=None):
    """Files of release/ and solutions/ that differ from what source/ generates now."""
    course = Course.of(course)
    problems = []
    with tempfile.TemporaryDirectory(prefix="nn-release-check-") as tmp:
        scratch = _scratch_course(course, Path(tmp))
        for assignment in assignments or course.assignments():
            generate(scratch, assignment, execute=False)
            for kind, fresh_dir, committed_dir in _outputs(course, scratch, assignment):
                shown = committed_dir.relative_to(course.root)
                fresh, committed = relative_files(fresh_dir), relative_files(committed_dir)
                for name in sorted(fresh ^ committed):
                    problems.append(f"{shown}/{name}: missing or extra")
                for name in sorted(fresh & committed):
                    new, old = fresh_dir / name, committed_dir / name
                    if kind == "solution" and name.suffix == ".ipynb":
                        same = _inputs(new) == _inputs(old)
                    else:
                        same = filecmp.cmp(new, old, shallow=False)
                    if not same:
                        problems.append(f"{shown}/{name}: out of date")
    return problems


def run(course, args):
    chosen = course.chosen(args.assignment)
    if args.check:
        problems = stale_files(course, chosen)
        for problem in problems:
            print(problem)
        if problems:
            raise CourseError("release/ or solutions/ is stale: run `make release` and "
                              "commit the result")
        print("release/ and solutions/ are up to date with source/.")
        return 0
    build(course, chosen)
    return 0
