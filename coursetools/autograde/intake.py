"""What a submission is allowed to bring in: its files, its notebooks, its time stamp.

Everything here reads untrusted files; nothing follows a link, nothing under ``submitted/``
changes (not even an access time), and a bad file becomes a sentence, never an exception.
"""

import json
import os
import stat

import nbformat

from coursetools.files import read_noatime

# Files a submission may not bring along: they would shadow the course's package (a kernel
# with PYTHONSAFEPATH does not import them anyway) or customise every Python of the sandbox.
SHADOWING = {"nnscratch", "nnscratch.py", "sitecustomize.py", "usercustomize.py"}


def copy_submission(source, target, max_file_bytes, flags):
    """Copy regular files and folders of ``source`` into ``target``; note what was left out.

    Symbolic links, fifos and devices are dropped (nbgrader, running outside the sandbox,
    would otherwise copy whatever they point at), and so are files that shadow the course."""
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = os.path.relpath(dirpath, source)
        dest = os.path.normpath(os.path.join(target, rel))
        os.makedirs(dest, exist_ok=True)
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            shown = os.path.normpath(os.path.join(rel, name))
            st = os.lstat(path)
            if rel == "." and name in SHADOWING:
                flags.append(f"{shown} ignored: it would shadow the course's package")
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if name in dirnames:  # a link to a folder
                dirnames.remove(name)
            if not stat.S_ISREG(st.st_mode):
                kind = "symbolic link" if stat.S_ISLNK(st.st_mode) else "special file"
                flags.append(f"{shown} ignored: a {kind}")
                continue
            if st.st_size > max_file_bytes:
                flags.append(f"{shown} ignored: larger than {max_file_bytes // 1024**2} MiB")
                continue
            with open(os.path.join(dest, name), "wb") as fh:
                fh.write(read_noatime(path))


def check_notebook(path, max_bytes):
    """(notebook, nbformat major, None) when ``path`` can be graded, else (None, None, reason).

    nbformat 3 is upgraded in memory, as nbgrader does."""
    size = path.stat().st_size
    if size > max_bytes:
        return None, None, f"{path.name} is larger than {max_bytes // 1024**2} MiB"
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, None, f"{path.name} is not a Jupyter notebook (no nbformat version)"
    major = data["nbformat"]
    if major not in (3, 4):
        return None, None, f"{path.name} has nbformat {major}, which cannot be read"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        return None, None, f"{path.name} cannot be read as a notebook ({exc})".splitlines()[0]
    if not isinstance(nb.get("cells"), list):
        return None, None, f"{path.name} has no list of cells"
    for cell in nb.cells:
        if (not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw")
                or not isinstance(cell.get("metadata", {}), dict)
                or not isinstance(cell.get("source", ""), str)):
            return None, None, f"{path.name} has a malformed cell"
    return nb, major, None


def read_timestamp(folder):
    """The submission time in ``folder/timestamp.txt``, or None when there is none or it is
    unreadable. (nbgrader's ``CourseDirectory.get_existing_timestamp`` follows a link and
    aborts the run on a bad stamp; a submission may hold either.)"""
    from nbgrader.utils import parse_utc

    path = os.path.join(folder, "timestamp.txt")
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    try:
        text = read_noatime(path).decode("utf-8", errors="replace")
        return parse_utc(text.strip()[:100])
    except (ValueError, OverflowError):
        return None
