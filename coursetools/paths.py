"""Where things live in the course, and how to call nbgrader from Python."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
SOURCE = "source"
RELEASE = "release"
SOLUTIONS = "solutions"


def assignments(root=COURSE_ROOT):
    """The assignment ids: one folder each under ``source/``."""
    source = Path(root) / SOURCE
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader_env():
    """The environment nbgrader needs: the venv's bin/ first on PATH (nbgrader runs alembic)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_nbgrader(args, cwd, quiet=True):
    """Run ``nbgrader <args>`` in ``cwd``; raise with nbgrader's own output when it fails."""
    nbgrader = shutil.which("nbgrader", path=nbgrader_env()["PATH"]) or "nbgrader"
    result = subprocess.run(
        [nbgrader, *args], cwd=cwd, env=nbgrader_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    if not quiet:
        print(result.stdout, end="")
    return result
