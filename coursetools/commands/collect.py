"""Bring an LMS download (a ZIP) into submitted/ with nbgrader's zip_collect.

The ZIP is copied to ``downloaded/<assignment>/archive/`` (nbgrader's layout, git-ignored)
and ``nbgrader zip_collect <assignment>`` extracts it and copies each notebook to
``submitted/<student>/<assignment>/<notebook>.ipynb``. Which student and which notebook a
file is comes from its name: ``<student>_<notebook>[_<anything>].ipynb``, where the
notebooks are those of ``release/<assignment>/`` (student ids: letters, digits, ``.`` and
``-``). ``c.FileNameCollectorPlugin.named_regexp`` in ``nbgrader_config.py`` replaces that
pattern when it is set.

Before nbgrader runs, the ZIP is checked, so that a bad download fails with one clear line
instead of a half-collected class: not a ZIP, damaged, no notebook in it, names that do not
match the pattern, notebooks the assignment does not have, students who already have a
submission (``--force`` replaces them).

    python -m coursetools collect PATH.zip [--assignment ID] [--force]
"""

import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from coursetools.course import CourseError

REGEX_SETTING = "c.FileNameCollectorPlugin.named_regexp"
STUDENT_ID = r"[A-Za-z0-9.-]+"


def add_arguments(parser):
    parser.add_argument("zip", nargs="?", type=Path, help="the ZIP file downloaded from the LMS")
    parser.add_argument("--assignment",
                        help="assignment id (default: the only one with a release)")
    parser.add_argument("--force", action="store_true",
                        help="replace the submissions of students who already have one")


def named_regexp(course, assignment):
    """The file-name pattern for ``assignment``: the course's own, or one made from the
    names of its released notebooks."""
    configured = course.setting("FileNameCollectorPlugin", "named_regexp", "")
    if configured:
        return configured
    names = sorted(course.notebooks("release", assignment))
    if not names:
        raise CourseError(f"{course.path('release', '.', assignment)} has no notebook: run "
                          "`make release` first")
    files = "|".join(re.escape(name) for name in names)
    return rf".*/(?P<student_id>{STUDENT_ID})_(?P<file_id>{files})(?:_[^/]*)?\.ipynb$"


def _notebooks_in(zip_path):
    """The notebooks a ZIP holds (nested ZIPs are not inspected), after a sanity check."""
    if not zip_path.is_file():
        raise CourseError(f"no such file: {zip_path}")
    if not zipfile.is_zipfile(zip_path):
        raise CourseError(f"not a ZIP archive: {zip_path}")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CourseError(f"cannot read {zip_path}: {exc}") from exc
    if damaged:
        raise CourseError(f"{zip_path} is damaged (bad CRC in {damaged}): download it again")
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise CourseError(f"{zip_path} holds an unsafe path {name!r}: refusing to extract")
    notebooks = [n for n in names if n.endswith(".ipynb") and not n.startswith("__MACOSX/")
                 and "/." not in "/" + n]
    nested = [n for n in names if n.endswith((".zip", ".gz"))]
    if not notebooks and not nested:
        shown = ", ".join(names[:10]) or "nothing"
        raise CourseError(f"no .ipynb file in {zip_path} (it holds: {shown})")
    return notebooks


def plan(course, assignment, zip_path, force=False):
    """Check the download; return ``{student: [notebook names]}``, the unmatched files, the
    pattern and where it comes from."""
    zip_path = Path(zip_path)
    regexp = named_regexp(course, assignment)
    try:
        pattern = re.compile(regexp)
    except re.error as exc:
        raise CourseError(f"{REGEX_SETTING} is not a regex: {exc}") from exc
    released = {f"{name}.ipynb" for name in course.notebooks("release", assignment)}
    # zip_collect extracts to downloaded/<assignment>/extracted/<zip name>/ and matches full paths
    extracted = course.root / "downloaded" / assignment / "extracted" / zip_path.stem
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
    where = (f"the pattern is {REGEX_SETTING} = {regexp!r} (nbgrader_config.py sets it, or it "
             f"is made from the notebooks of release/{assignment}/)")
    if not students:
        shown = ", ".join(unmatched[:10] + unknown[:10])
        raise CourseError(f"no file in {zip_path.name} matches the file-name pattern "
                          f"({shown}); {where}")
    if unknown:
        raise CourseError(f"not a notebook of {assignment} (it has {', '.join(sorted(released))}):"
                          f" {', '.join(unknown)}")
    for student, notebooks in students.items():
        twice = sorted({n for n in notebooks if notebooks.count(n) > 1})
        if twice and "timestamp" not in pattern.groupindex:
            raise CourseError(f"{student} has several files for {', '.join(twice)} and the "
                              f"pattern has no (?P<timestamp>...) to pick the newest; {where}")
    if not force:
        already = [s for s in students
                   if any(course.path("submitted", s, assignment).glob("*"))]
        if already:
            raise CourseError(f"already submitted: {', '.join(sorted(already))} (in submitted/"
                              f"<student>/{assignment}/); to replace them: "
                              "make collect ZIP=... FORCE=1")
    return students, unmatched, regexp, where


def collect(course, assignment, zip_path, force=False):
    """Collect ``zip_path`` into the course's submitted/; return (students, unmatched, where)."""
    zip_path = Path(zip_path).resolve()
    students, unmatched, regexp, where = plan(course, assignment, zip_path, force)
    staging = course.root / "downloaded" / assignment
    shutil.rmtree(staging, ignore_errors=True)  # ours: a fresh copy of this download only
    (staging / "archive").mkdir(parents=True)
    shutil.copy2(zip_path, staging / "archive" / zip_path.name)
    course.nbgrader("zip_collect", assignment, f"--FileNameCollectorPlugin.named_regexp={regexp}",
                    *(["--force"] if force else []))
    return students, unmatched, where


def _only_released(course, given):
    if given:
        return course.check_assignment(given)
    found = course.assignments(released_only=True)
    if len(found) != 1:
        raise CourseError(f"say which assignment with --assignment (make collect "
                          f"ASSIGNMENT=...): the course has {', '.join(found) or 'none'}")
    return found[0]


def run(course, args):
    if args.zip is None:
        raise CourseError("which ZIP? make collect ZIP=path/to/download.zip")
    assignment = _only_released(course, args.assignment)
    students, unmatched, where = collect(course, assignment, args.zip, args.force)
    if unmatched:
        import sys

        print(f"warning: skipped {len(unmatched)} file(s) not matching the file-name pattern: "
              f"{', '.join(unmatched)}; {where}", file=sys.stderr)
    print(f"collected {len(students)} submission(s) of {assignment} into "
          f"{course.path('submitted')}/: {', '.join(sorted(students))}")
    return 0
