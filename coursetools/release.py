"""Build release/ (the student version) and solutions/ (executed) from source/, or check them.

nbgrader does the work (``generate_assignment``, ``generate_solution``) in a
scratch copy of the course, so the instructor's gradebook and submitted work
are never touched; the results are then copied into the repository.

    python -m coursetools.release            # rebuild everything
    python -m coursetools.release --check    # exit 1 when release/ or solutions/ is stale
"""

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from coursetools.paths import COURSE_ROOT, RELEASE, SOLUTIONS, SOURCE, assignments, run_nbgrader


def _scratch_course(root, workdir):
    shutil.copy2(root / "nbgrader_config.py", workdir / "nbgrader_config.py")
    shutil.copytree(root / SOURCE, workdir / SOURCE)


def generate(workdir, assignment, execute=True):
    """Generate release and solutions of ``assignment`` inside ``workdir``."""
    run_nbgrader(["generate_assignment", assignment, "--force"], cwd=workdir)
    # nbgrader's default solution folder is "solution"; this course commits "solutions/".
    # Without per-cell timestamps a rebuild of unchanged source leaves solutions/ as it was.
    solution_args = ["generate_solution", assignment, "--force",
                     f"--CourseDirectory.solution_directory={SOLUTIONS}",
                     "--Execute.record_timing=False"]
    if not execute:
        solution_args.append("--Execute.enabled=False")
    run_nbgrader(solution_args, cwd=workdir)


def build(root=COURSE_ROOT):
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="nn-release-") as tmp:
        workdir = Path(tmp)
        _scratch_course(root, workdir)
        for assignment in assignments(root):
            print(f"generating {assignment}: student version and executed solutions...", flush=True)
            generate(workdir, assignment)
            for kind in (RELEASE, SOLUTIONS):
                target = root / kind / assignment
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(workdir / kind / assignment, target)
                print(f"  wrote {target.relative_to(root)}/")


def _inputs(path):
    """What a solution notebook says, without what executing it adds."""
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.get("id"), c.metadata.get("nbgrader")) for c in nb.cells]


def _files(folder):
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def stale_files(root=COURSE_ROOT):
    """Files of release/ and solutions/ that differ from what source/ generates now."""
    root = Path(root)
    problems = []
    with tempfile.TemporaryDirectory(prefix="nn-release-check-") as tmp:
        workdir = Path(tmp)
        _scratch_course(root, workdir)
        for assignment in assignments(root):
            generate(workdir, assignment, execute=False)
            for kind in (RELEASE, SOLUTIONS):
                fresh_dir, committed_dir = workdir / kind / assignment, root / kind / assignment
                fresh, committed = _files(fresh_dir), _files(committed_dir)
                for name in sorted(fresh ^ committed):
                    problems.append(f"{kind}/{assignment}/{name}: missing or extra")
                for name in sorted(fresh & committed):
                    new, old = fresh_dir / name, committed_dir / name
                    if kind == SOLUTIONS and name.suffix == ".ipynb":
                        same = _inputs(new) == _inputs(old)
                    else:
                        same = filecmp.cmp(new, old, shallow=False)
                    if not same:
                        problems.append(f"{kind}/{assignment}/{name}: out of date")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale generated files")
    args = parser.parse_args(argv)
    if not assignments():
        print("No assignment under source/ yet: nothing to generate.")
        return 0
    if args.check:
        problems = stale_files()
        for problem in problems:
            print(problem)
        if problems:
            print("release/ or solutions/ is stale: run `make release` and commit the result.")
            return 1
        print("release/ and solutions/ are up to date with source/.")
        return 0
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
