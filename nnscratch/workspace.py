"""The student's own copy of each assignment: ``work/<assignment>/``, made from ``release/``.

``release/`` is generated (``make release``, and ``make demo`` when it is stale, rebuild it),
so answers saved there can be overwritten. Students work in ``work/`` instead: it is
git-ignored, no tool of the course writes into it, and this module only ever adds the
files that are missing there, never replacing one.

    python -m nnscratch.workspace            # from the course folder (make lab, Binder do it)

The setup check notebook calls ``ensure_work_copies()`` too, so a student who started
``jupyter lab`` by hand has the copy after the first notebook of the course.
"""

import shutil
import sys
from pathlib import Path

WORK = "work"
RELEASE = "release"
SKIPPED = {".ipynb_checkpoints", "__pycache__"}


def course_root(start=None):
    """The nearest folder at or above ``start`` (default: the current one) holding release/."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / RELEASE).is_dir():
            return folder
    raise FileNotFoundError(f"no {RELEASE}/ folder at or above {here}")


def _released_files(release):
    for path in sorted(release.rglob("*")):
        if path.is_file() and not SKIPPED & set(path.relative_to(release).parts):
            yield path


def ensure_work_copies(root=None):
    """Copy every file of ``release/`` missing from ``work/``; return the copied paths.

    A file already in ``work/`` is the student's and is left as it is, even when release/
    has a newer version of it.
    """
    root = course_root(root)
    release, work = root / RELEASE, root / WORK
    copied = []
    for source in _released_files(release):
        target = work / source.relative_to(release)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(target)
    return copied


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    try:
        root = course_root(args[0] if args else None)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    copied = ensure_work_copies(root)
    for path in copied:
        print(f"your copy: {path.relative_to(root)} (work there; release/ is regenerated)")
    if not copied:
        print(f"your copies in {WORK}/ are all there (nothing was changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
