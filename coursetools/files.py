"""Copying and listing folders without following what a submission may have planted.

Submissions and kernels are untrusted: links, fifos and devices in their folders are never
followed or copied, and reads of ``submitted/`` leave even its access times as they were.
"""

import os
import shutil
import stat
from pathlib import Path

SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__pycache__"})


def read_noatime(path):
    """The bytes of ``path``, read without updating its access time where allowed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def copy_regular_tree(source, target, skip_suffixes=(), owner=None, keep_mode=False):
    """Copy regular files and folders only (no links, devices or fifos); chown to ``owner``;
    ``keep_mode``: with their permission bits (nbgrader's read-only graded notebooks)."""
    os.makedirs(target, exist_ok=True)
    folders = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        rel = os.path.relpath(dirpath, source)
        dest_dir = os.path.normpath(os.path.join(target, rel))
        os.makedirs(dest_dir, exist_ok=True)
        folders.append((dirpath, dest_dir))
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)
        for name in filenames:
            src = os.path.join(dirpath, name)
            if name.endswith(tuple(skip_suffixes)):
                continue
            st = os.lstat(src)
            if stat.S_ISREG(st.st_mode):
                shutil.copyfile(src, os.path.join(dest_dir, name), follow_symlinks=False)
                if keep_mode:
                    os.chmod(os.path.join(dest_dir, name), stat.S_IMODE(st.st_mode))
    if keep_mode:  # folders last: a read-only one is filled first
        for src, dest in reversed(folders):
            os.chmod(dest, stat.S_IMODE(os.lstat(src).st_mode))
    if owner is not None:
        for dirpath, _dirnames, filenames in os.walk(target):
            os.chown(dirpath, owner, owner)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), owner, owner)


def relative_files(folder, skip=SKIPPED_FOLDERS):
    """The files under ``folder`` as relative paths, editor and Python caches left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder) for p in folder.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(folder).parts)}


def safe_remove(parent, name):
    """Remove ``parent/name`` (a previous run's output); a link is removed, never followed."""
    parent = Path(parent)
    if parent.is_symlink():
        parent.unlink()
        return
    folder = parent / name
    if folder.is_symlink():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)
