"""A tiny nbgrader course (one function, a visible and a hidden test) for quick tool tests.

It uses the repository's nbgrader_config.py, so the tests see the course's real settings,
but a notebook that runs in a second instead of the real assignment's TensorFlow.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from standin_course import generate_course, new_source_notebook

ASSIGNMENT = "nn_from_scratch"
NOTEBOOK = "nn_from_scratch.ipynb"
HIDDEN_CANARY = "HIDDEN_CANARY_q7Zx"  # appears only inside the hidden-test block

SOLUTION = """def sigmoid(x):
    ### BEGIN SOLUTION
    return 1 / (1 + np.exp(-x))
    ### END SOLUTION"""

TESTS = f"""assert abs(sigmoid(0.0) - 0.5) < 1e-9, "sigmoid(0) should be 0.5"
### BEGIN HIDDEN TESTS
{HIDDEN_CANARY} = np.array([-3.0, 2.0])
assert np.allclose(sigmoid({HIDDEN_CANARY}), [0.04742587, 0.88079708]), "wrong for x < 0"
### END HIDDEN TESTS"""


def _meta(**kw):
    base = {"grade": False, "solution": False, "locked": False, "schema_version": 3}
    base.update(kw)
    return {"nbgrader": base}


def source_notebook():
    return new_source_notebook([
        new_markdown_cell("# A tiny assignment", metadata=_meta(grade_id="intro", locked=True)),
        new_code_cell("import numpy as np", metadata=_meta(grade_id="imports", locked=True)),
        new_code_cell(SOLUTION, metadata=_meta(grade_id="sigmoid", solution=True)),
        new_code_cell(TESTS, metadata=_meta(grade_id="test_sigmoid", grade=True, locked=True,
                                            points=2)),
    ])


def make_course(root):
    """A course at ``root`` with the assignment generated (release/ and gradebook.db)."""
    return generate_course(root, ASSIGNMENT, NOTEBOOK, source_notebook())


def submission(code):
    """The released notebook with the solution cell replaced by ``code``."""
    return submission_from_release(None, code)


def submission_from_release(root, code):
    if root is None:
        nb = source_notebook()
    else:
        nb = nbformat.read(Path(root) / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid":
            cell.source = code
    return nb


CORRECT = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
WRONG_HIDDEN = "def sigmoid(x):\n    return 0.5 + 0 * x"  # passes the visible test only


def submit(root, student, code):
    folder = Path(root) / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(submission_from_release(root, code), folder / NOTEBOOK)
    (folder / "timestamp.txt").write_text("2025-01-01 10:00:00.000000 UTC")
