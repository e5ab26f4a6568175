"""`make collect ZIP=file`: bring an LMS download into submitted/ with nbgrader's zip_collect.

The ZIP is copied to ``downloaded/<assignment>/archive/`` (nbgrader's layout, git-ignored)
and ``nbgrader zip_collect <assignment>`` extracts it and copies each notebook to
``submitted/<student>/<assignment>/<notebook>.ipynb``. Which student and which notebook a
file is comes from its name, by the regex ``c.FileNameCollectorPlugin.named_regexp`` in
``nbgrader_config.py`` (default ``<student>_<notebook>[_<anything>].ipynb``).

Before nbgrader runs, the ZIP is checked, so that a bad download fails with one clear
line instead of a half-collected class: not a ZIP, damaged, no notebook in it, names
that do not match the pattern, notebooks the assignment does not have, students who
already have a submission (``--force`` replaces it).

    python -m coursetools.collect PATH.zip [--assignment ID] [--force]
"""

import argparse
import re
import shutil
import sys
import zipfile
from pathlib import Path, PurePosixPath

from coursetools.paths import COURSE_ROOT, RELEASE, assignments, run_nbgrader

CONFIG = "nbgrader_config.py"
REGEX_SETTING = "c.FileNameCollectorPlugin.named_regexp"


class CollectError(Exception):
    """A problem with the download, said in one line for the instructor."""


def named_regexp(course):
    """The file-name pattern the course configures for zip_collect."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG, path=str(course)).load_config()
    regexp = config.FileNameCollectorPlugin.get("named_regexp", "")
    if not regexp:
        raise CollectError(f"{REGEX_SETTING} is not set in {Path(course) / CONFIG}")
    return regexp


def _notebooks_in(zip_path):
    """The notebooks a ZIP holds (nested ZIPs are not inspected), after a sanity check."""
    if not zip_path.is_file():
        raise CollectError(f"no such file: {zip_path}")
    if not zipfile.is_zipfile(zip_path):
        raise CollectError(f"not a ZIP archive: {zip_path}")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CollectError(f"cannot read {zip_path}: {exc}") from exc
    if damaged:
        raise CollectError(f"{zip_path} is damaged (bad CRC in {damaged}): download it again")
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise CollectError(f"{zip_path} holds an unsafe path {name!r}: refusing to extract")
    notebooks = [n for n in names if n.endswith(".ipynb") and not n.startswith("__MACOSX/")
                 and "/." not in "/" + n]
    nested = [n for n in names if n.endswith((".zip", ".gz"))]
    if not notebooks and not nested:
        shown = ", ".join(names[:10]) or "nothing"
        raise CollectError(f"no .ipynb file in {zip_path} (it holds: {shown})")
    return notebooks


def plan(course, assignment, zip_path, force=False):
    """Check the download; return ``{student: [notebook names]}`` and the unmatched files."""
    course, zip_path = Path(course), Path(zip_path)
    regexp = named_regexp(course)
    try:
        pattern = re.compile(regexp)
    except re.error as exc:
        raise CollectError(f"{REGEX_SETTING} in {course / CONFIG} is not a regex: {exc}") from exc
    released = {p.name for p in (course / RELEASE / assignment).glob("*.ipynb")}
    # zip_collect extracts to downloaded/<assignment>/extracted/<zip name>/ and matches full paths
    extracted = course / "downloaded" / assignment / "extracted" / zip_path.stem
    students, unmatched, unknown = {}, [], []
    for name in _notebooks_in(zip_path):
        match = pattern.match(str(extracted / name))
        if not match or not match.groupdict().get("student_id") or not match.groupdict().get(
                "file_id"):
            unmatched.append(name)
            continue
        notebook = Path(match["file_id"]).stem + ".ipynb"
        if released and notebook not in released:
            unknown.append(f"{name} -> {notebook}")
            continue
        students.setdefault(match["student_id"], []).append(notebook)
    where = f"the pattern is {REGEX_SETTING} = {regexp!r} in {course / CONFIG}"
    if not students:
        shown = ", ".join(unmatched[:10] + unknown[:10])
        raise CollectError(f"no file in {zip_path.name} matches the file-name pattern "
                           f"({shown}); {where}")
    if unknown:
        raise CollectError(f"not a notebook of {assignment} (it has {', '.join(sorted(released))}):"
                           f" {', '.join(unknown)}")
    for student, notebooks in students.items():
        twice = sorted({n for n in notebooks if notebooks.count(n) > 1})
        if twice and "timestamp" not in pattern.groupindex:
            raise CollectError(f"{student} has several files for {', '.join(twice)} and the "
                               f"pattern has no (?P<timestamp>...) to pick the newest; {where}")
    if not force:
        already = [s for s in students
                   if any((course / "submitted" / s / assignment).glob("*"))]
        if already:
            raise CollectError(f"already submitted: {', '.join(sorted(already))} (in submitted/"
                               f"<student>/{assignment}/); to replace them: "
                               "python -m coursetools.collect ZIP --force")
    return students, unmatched, where


def collect(course, assignment, zip_path, force=False):
    """Collect ``zip_path`` into ``course/submitted``; return (students, unmatched, where)."""
    course, zip_path = Path(course).resolve(), Path(zip_path).resolve()
    students, unmatched, where = plan(course, assignment, zip_path, force)
    staging = course / "downloaded" / assignment
    shutil.rmtree(staging, ignore_errors=True)  # ours: a fresh copy of this download only
    (staging / "archive").mkdir(parents=True)
    shutil.copy2(zip_path, staging / "archive" / zip_path.name)
    args = ["zip_collect", assignment] + (["--force"] if force else [])
    try:
        run_nbgrader(args, cwd=course)
    except RuntimeError as exc:
        last = [line for line in str(exc).splitlines() if line.strip()]
        raise CollectError(f"nbgrader zip_collect failed: {last[-1] if last else exc}") from exc
    return students, unmatched, where


def _assignment(course, given):
    if given:
        return given
    found = assignments(course) if (Path(course) / "source").is_dir() else []
    if len(found) != 1:
        raise CollectError(f"say which assignment with --assignment (found: {found or 'none'})")
    return found[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Collect an LMS ZIP download into submitted/.")
    parser.add_argument("zip", nargs="?", type=Path, help="the ZIP file downloaded from the LMS")
    parser.add_argument("--assignment", help="assignment id (default: the only one in source/)")
    parser.add_argument("--force", action="store_true",
                        help="replace the submissions of students who already have one")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.zip is None:
            raise CollectError("which ZIP? make collect ZIP=path/to/download.zip")
        assignment = _assignment(args.course, args.assignment)
        students, unmatched, where = collect(args.course, assignment, args.zip, args.force)
    except CollectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if unmatched:
        print(f"warning: skipped {len(unmatched)} file(s) not matching the file-name pattern: "
              f"{', '.join(unmatched)}; {where}", file=sys.stderr)
    print(f"collected {len(students)} submission(s) of {assignment} into "
          f"{Path(args.course) / 'submitted'}/: {', '.join(sorted(students))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
