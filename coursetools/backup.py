"""A copy of a file before a verb overwrites it, unless the verb made that file itself.

``make release`` (and ``make demo`` when release/ is stale) replaces release/ and
solutions/. A file there is the tools' own when it is what the commit holds (``git show
HEAD:path``) or what the rebuild writes again; anything else was edited by someone (a
student who worked in release/, an instructor's fix) and is copied to
``backups/<time>/<its path>`` first, with a line saying where. Without git every file that
the rebuild changes is kept.
"""

import shutil
import subprocess
import time
from pathlib import Path

BACKUPS = "backups"


def _committed(root, path):
    """The bytes of ``path`` in the commit checked out at ``root``, or None."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{path.relative_to(root).as_posix()}"],
            capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def edited_files(root, target, fresh):
    """Files under ``target`` that the rebuild from ``fresh`` would change or delete, and that
    are not the commit's version either."""
    root, target, fresh = Path(root), Path(target), Path(fresh)
    if not target.is_dir():
        return []
    edited = []
    for old in sorted(p for p in target.rglob("*") if p.is_file() and not p.is_symlink()):
        if ".ipynb_checkpoints" in old.parts:
            continue
        content = old.read_bytes()
        new = fresh / old.relative_to(target)
        if new.is_file() and new.read_bytes() == content:
            continue
        if _committed(root, old) == content:
            continue
        edited.append(old)
    return edited


def keep_copies(root, files, stamp=None):
    """Copy ``files`` (under ``root``) to ``backups/<stamp>/``; print and return the copies."""
    root = Path(root)
    stamp = stamp or time.strftime("%Y-%m-%dT%H-%M-%S")
    kept = []
    for path in files:
        relative = Path(path).relative_to(root)
        copy = root / BACKUPS / stamp / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        print(f"  {relative} had edits that are not generated: kept a copy in "
              f"{copy.relative_to(root)}", flush=True)
        kept.append(copy)
    return kept
