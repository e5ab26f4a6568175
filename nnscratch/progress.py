"""Where you stand: each exercise passed, failing (why, in one line) or not attempted yet.

``show_progress()`` reads the notebook as you last saved it, runs the visible test of each
exercise again with your functions as they are defined now, and prints a short table,
plus the written answers still empty. Run it at any time (the notebook's last cell does);
it changes nothing. Hidden tests also decide the grade, so "passed" here means the visible
test passes, which is necessary, not sufficient.

It also names the locked cells (tests, set-up) you changed, compared with the course's
``release/`` copy when it is there (your copy is in ``work/``): the grader runs the original
ones. The course switches that warning off in nbgrader's Validate so that Validate does not
count the written answers you have not written yet as failed tests.
"""

import contextlib
import io
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ANSWER_STUB = "YOUR ANSWER HERE"
HIDDEN = "### BEGIN HIDDEN TESTS"


@dataclass(frozen=True)
class Status:
    name: str  # the exercise (its test's grade_id without "test_") or the written answer
    state: str  # "passed", "failing", "not attempted", "empty" or "answered"
    detail: str = ""  # why it fails, in one line


def _nbgrader(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _python(source):
    lines = [line for line in source.split(HIDDEN)[0].splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def _run_test(source, namespace):
    """Status of one visible test, run in a copy of ``namespace`` (output swallowed)."""
    scope = dict(namespace)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(
                io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(_python(source), "<visible test>", "exec"), scope)
    except NotImplementedError:
        return "not attempted", ""
    except NameError as exc:
        return "not attempted", f"{exc} (run its cell first)"
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is why the test fails
        message = str(exc).strip().splitlines()
        first = message[0] if message else type(exc).__name__
        kind = "" if type(exc).__name__ == "CheckFailed" else f"{type(exc).__name__}: "
        return "failing", f"{kind}{first}"[:160]
    return "passed", ""


def progress(notebook, namespace):
    """The Status of every exercise and written answer of ``notebook`` (a path)."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    statuses = []
    for cell in cells:
        meta = _nbgrader(cell)
        if not meta.get("grade"):
            continue
        grade_id = str(meta.get("grade_id", "?"))
        if cell.get("cell_type") == "markdown" and meta.get("solution"):
            text = _source(cell).strip()
            empty = not text or text == ANSWER_STUB
            statuses.append(Status(grade_id, "empty" if empty else "answered"))
        elif cell.get("cell_type") == "code" and not meta.get("solution"):
            state, detail = _run_test(_source(cell), namespace)
            statuses.append(Status(grade_id.removeprefix("test_"), state, detail))
    return statuses


class Statuses(list):
    """The statuses ``show_progress`` returns: a list, which a notebook does not echo below
    the table it has just printed."""

    def _ipython_display_(self):
        pass


def edited_locked_cells(notebook, release_root=None):
    """grade_ids of the locked cells of ``notebook`` whose source differs from release/'s.

    The released copy is ``release/<assignment>/<name>`` of the course folder above the
    notebook (``work/<assignment>/<name>``); without one (a JupyterHub home, the grader's
    sandbox) nothing is compared and the list is empty.
    """
    notebook = Path(notebook).resolve()
    try:
        from nnscratch.workspace import RELEASE, course_root

        root = Path(release_root) if release_root else course_root(notebook.parent)
        released = root / RELEASE / notebook.parent.name / notebook.name
        original = json.loads(released.read_text(encoding="utf-8"))["cells"]
        mine = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    locked = {_nbgrader(c).get("grade_id"): _source(c)
              for c in original if _nbgrader(c).get("locked")}
    return [_nbgrader(c).get("grade_id") for c in mine
            if _nbgrader(c).get("grade_id") in locked
            and _source(c) != locked[_nbgrader(c).get("grade_id")]]


def show_progress(notebook="nn_from_scratch.ipynb", namespace=None):
    """Print where you stand (see the module docstring); returns the statuses."""
    namespace = sys._getframe(1).f_globals if namespace is None else namespace
    if not Path(notebook).is_file():
        print(f"progress: {notebook} is not in this folder; save the notebook, then run "
              "this cell again.")
        return Statuses()
    statuses = Statuses(progress(notebook, namespace))
    tests = [s for s in statuses if s.state not in ("empty", "answered")]
    width = max((len(s.name) for s in tests), default=8)
    print(f"Your progress (from {notebook} as last saved, with your functions as they are now):")
    for s in tests:
        print(f"  {s.name:<{width}}  {s.state}{': ' + s.detail if s.detail else ''}")
    passed = sum(s.state == "passed" for s in tests)
    print(f"{passed} of {len(tests)} visible tests pass (the hidden tests also decide your "
          "grade).")
    empty = [s.name for s in statuses if s.state == "empty"]
    if empty:
        print(f"Written answers still empty (graded by hand): {', '.join(empty)}")
    elif any(s.state == "answered" for s in statuses):
        print("Every written answer has an answer.")
    edited = edited_locked_cells(notebook)
    if edited:
        print(f"Locked cells you changed (the grader runs the original ones): {', '.join(edited)}")
    return statuses
