"""The quick course: a small nbgrader course that grades in a second, for the tools' tests.

The real assignment runs TensorFlow (seconds a notebook); this one has a locked set-up
cell and, per exercise, a solution cell and a test cell with a visible test and a hidden
one judged by the grader (``judges/standin.py``, written beside ``source/``): ``sigmoid``
(2 points) and ``relu`` (3 points). ``make_course(root)`` writes
``<root>/nbgrader_config.py`` (the repository's), ``source/standin/standin.ipynb`` and the
judge, and runs nbgrader ``generate_assignment`` there (``release/`` and ``gradebook.db``);
``make_course(root, exercises=("sigmoid",))`` makes a one-exercise course. Each test cell
imports its own check function, as the course's tests do, so a submission that redefines
``check_close`` changes nothing. ``submission(course, sigmoid=..., relu=...)`` is the
released notebook with the blanks filled in, as a student hands it in; ``submit(...)`` puts
it in ``submitted/``.
"""

import hashlib
import os
import shutil
import socket
import threading
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools.course import REPOSITORY as COURSE_ROOT
from coursetools.course import Course

ASSIGNMENT = "standin"
NOTEBOOK = "standin"
MAX_SCORE = 5.0
HIDDEN_CANARY = "HIDDEN_CANARY_q7Zx"  # appears only inside a hidden-test block

SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
RELU = "def relu(z):\n    return np.maximum(z, 0.0)\n"
WRONG_SIGMOID = "def sigmoid(z):\n    return z\n"
WRONG_RELU = "def relu(z):\n    return np.abs(z)\n"
CORRECT = SIGMOID
WRONG_HIDDEN = "def sigmoid(z):\n    return 0.5 + 0 * z\n"  # passes the visible test only


def _hidden(test_id, function):
    return (f"### BEGIN HIDDEN TESTS\n# {HIDDEN_CANARY}: judged by the grader (judges/standin.py)\n"
            "from nnscratch.hidden import run_hidden_cases\n"
            f"run_hidden_cases({test_id!r}, {{{function!r}: {function}}})\n"
            "### END HIDDEN TESTS\n")


TEST_SIGMOID = """\
from nnscratch.testing import check_close
_ = check_close(sigmoid(np.array([0.0])), [0.5], name="sigmoid(0)",
                hint="sigmoid(0) should be 0.5")
""" + _hidden("test_sigmoid", "sigmoid")

TEST_RELU = """\
from nnscratch.testing import check_close
_ = check_close(relu(np.array([1.5])), [1.5], name="relu(1.5)")
""" + _hidden("test_relu", "relu")

JUDGE = '''"""The quick course's hidden tests, judged by the grader."""

import numpy as np

from coursetools.judging import Case, close, hidden_test


@hidden_test("test_sigmoid")
def sigmoid_cases(rng):
    inputs = [np.array([[-1.0, 2.0, 0.5]]), rng.uniform(-6, 6, size=(3, 4))]
    return [Case("sigmoid", (x,), close(1 / (1 + np.exp(-x)), atol=1e-9),
                 f"z of shape {x.shape}", ("z",)) for x in inputs]


@hidden_test("test_relu")
def relu_cases(rng):
    inputs = [np.array([[-2.0, 0.0, 3.0], [4.0, -0.5, 1.0]]), rng.normal(size=(4, 3))]
    return [Case("relu", (x,), close(np.maximum(x, 0.0), atol=1e-12),
                 f"z of shape {x.shape}", ("z",)) for x in inputs]
'''

EXERCISES = {"sigmoid": (SIGMOID, TEST_SIGMOID, 2), "relu": (RELU, TEST_RELU, 3)}


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


def written_answer(grade_id, question, points=1, solution=None):
    """A markdown cell graded by hand (a recap question), the instructor's answer in a
    solution block when ``solution`` is given."""
    text = question if solution is None else (
        f"{question}\n\n### BEGIN SOLUTION\n{solution}\n### END SOLUTION")
    return new_markdown_cell(text, metadata=_meta(grade_id, grade=True, solution=True,
                                                  points=points))


def source_notebook(exercises=tuple(EXERCISES)):
    cells = [new_markdown_cell(f"# Quick assignment\nImplement {', '.join(exercises)}."),
             new_code_cell("import numpy as np\nimport nnscratch.testing",
                           metadata=_meta("setup", locked=True))]
    for name in exercises:
        solution, test, points = EXERCISES[name]
        cells += [_solution(name, solution), _test(f"test_{name}", test, points)]
    return new_source_notebook(cells)


def new_source_notebook(cells):
    """A source notebook of ``cells`` with the kernelspec and cell ids nbgrader expects."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


def generate_course(root, assignment, filename, nb, judge=""):
    """``root`` as a course with the repository's nbgrader_config.py (its kernels start warm
    with what the locked cells import) whose ``assignment`` is
    the notebook ``nb`` (saved as ``filename``) judged by the module text ``judge``,
    generated by nbgrader; returns ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    with open(root / "nbgrader_config.py", "a") as config:  # not the real course's TensorFlow:
        config.write("\nc.WarmKernels.imports = None\n")  # what the locked cells import
    folder = root / "source" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / filename)
    if judge:
        (root / "judges").mkdir(exist_ok=True)
        (root / "judges" / f"{assignment}.py").write_text(judge)
    Course(root).nbgrader("generate_assignment", assignment, "--force")
    return root


def make_course(root, exercises=tuple(EXERCISES)):
    """Write the quick course into ``root`` and generate its release; returns ``root``."""
    return generate_course(root, ASSIGNMENT, f"{NOTEBOOK}.ipynb", source_notebook(exercises),
                           JUDGE)


def copy_course(template, target):
    """A private copy of a built course (release, gradebook and all)."""
    shutil.copytree(template, target, symlinks=True)
    return Path(target)


def released(course):
    return nbformat.read(Path(course) / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                         as_version=4)


def submission(course, sigmoid=SIGMOID, relu=RELU):
    """The released notebook with its blanks filled (``None`` leaves a blank as released)."""
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


def file_hashes(folder):
    """{relative path: sha256} of the files under ``folder``."""
    folder = Path(folder)
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


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
