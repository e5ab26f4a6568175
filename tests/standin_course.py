"""A tiny stand-in nbgrader course for the autograder's tests (no TensorFlow: ~1 s a notebook).

``make_course(root)`` writes ``<root>/nbgrader_config.py`` (the repository's),
``source/standin/standin.ipynb`` (a locked set-up cell, two solution cells, two test cells
with visible and hidden tests: 2 + 3 points) and runs nbgrader ``generate_assignment``
there (``release/`` and ``gradebook.db``). Each test cell imports its own check function,
as the course's hidden tests do, so a submission that redefines ``check_close`` changes
nothing. ``submission(course, sigmoid=..., relu=...)`` is the released notebook with the
blanks filled in, as a student hands it in; ``submit(...)`` puts it in ``submitted/``.
"""

import hashlib
import os
import shutil
import socket
import threading
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools.paths import COURSE_ROOT, run_nbgrader

ASSIGNMENT = "standin"
NOTEBOOK = "standin"
MAX_SCORE = 5.0

SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
RELU = "def relu(z):\n    return np.maximum(z, 0.0)\n"
WRONG_SIGMOID = "def sigmoid(z):\n    return z\n"
WRONG_RELU = "def relu(z):\n    return np.abs(z)\n"

TEST_SIGMOID = """\
from nnscratch.testing import check_close
_ = check_close(sigmoid(np.array([0.0])), [0.5], name="sigmoid(0)")
### BEGIN HIDDEN TESTS
_ = check_close(sigmoid(np.array([[-1.0, 2.0, 0.5]])),
                [[0.2689414213699951, 0.8807970779778823, 0.6224593312018546]],
                name="sigmoid", show_expected=False)
### END HIDDEN TESTS
"""

TEST_RELU = """\
from nnscratch.testing import check_close
_ = check_close(relu(np.array([1.5])), [1.5], name="relu(1.5)")
### BEGIN HIDDEN TESTS
_ = check_close(relu(np.array([[-2.0, 0.0, 3.0], [4.0, -0.5, 1.0]])),
                [[0.0, 0.0, 3.0], [4.0, 0.0, 1.0]], name="relu", show_expected=False)
### END HIDDEN TESTS
"""


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(grade_id, body):
    lines = body.splitlines()
    wrapped = [lines[0], "    ### BEGIN SOLUTION", *lines[1:], "    ### END SOLUTION"]
    return new_code_cell("\n".join(wrapped), metadata=_meta(grade_id, solution=True))


def _test(grade_id, source, points):
    return new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True, points=points))


def source_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# Stand-in assignment\nImplement `sigmoid` and `relu`."),
        new_code_cell("import numpy as np\nimport nnscratch.testing  # binds its references now",
                      metadata=_meta("setup", locked=True)),
        _solution("sigmoid", SIGMOID),
        _test("test_sigmoid", TEST_SIGMOID, 2),
        _solution("relu", RELU),
        _test("test_relu", TEST_RELU, 3),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


def make_course(root):
    """Write the stand-in course into ``root`` and generate its release; returns ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    folder = root / "source" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), folder / f"{NOTEBOOK}.ipynb")
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=root)
    return root


def copy_course(template, target):
    """A private copy of a built course (release, gradebook and all)."""
    shutil.copytree(template, target, symlinks=True)
    return Path(target)


def released(course):
    return nbformat.read(Path(course) / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                         as_version=4)


def submission(course, sigmoid=SIGMOID, relu=RELU):
    """The released notebook with its two blanks filled (``None`` leaves a blank as released)."""
    nb = released(course)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "sigmoid" and sigmoid is not None:
            cell.source = sigmoid
        elif grade_id == "relu" and relu is not None:
            cell.source = relu
    return nb


def cell_index(nb, grade_id):
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def insert_after(nb, grade_id, code):
    """Add an ordinary code cell right after the cell ``grade_id``."""
    nb.cells.insert(cell_index(nb, grade_id) + 1, new_code_cell(code))
    return nb


def submit(course, student, nb=None, *, raw=None, extra=None, links=None,
           timestamp="2025-01-15 10:00:00"):
    """Place a submission in nbgrader's layout: ``submitted/<student>/standin/``."""
    folder = Path(course) / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NOTEBOOK}.ipynb"
    if raw is not None:
        path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    elif nb is not None:
        nbformat.write(nb, path)
    (folder / "timestamp.txt").write_text(timestamp)
    for name, content in (extra or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    for name, target in (links or {}).items():
        os.symlink(target, folder / name)
    return folder


def snapshot(folder):
    """{relative path: (sha256, mtime_ns, mode)} of everything under ``folder``."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            out[str(path.relative_to(folder))] = ("link", os.readlink(path), st.st_mtime_ns)
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(folder))] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def host_address():
    """This machine's address on its first non-loopback interface (or 127.0.0.1)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


class Listener:
    """A TCP listener on every interface that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
