"""The catalogue's grading server: it preloads the libraries once and forks one process per
entry, which runs the entry's cells in one namespace, as a kernel would.

    python -m coursetools.catalogue.runner < request.json      (started by ``verdicts.grade``)
"""

import ast
import json
import os
import sys
import time
from pathlib import Path

from nnscratch.wire import RESULT_MIME


class CellTimeout(Exception):
    """A cell ran longer than nbgrader's per-cell timeout."""


class _Shell:
    """Stands in for get_ipython() when a cell holds %magics or !commands: does nothing."""

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    getoutput = system


def _python_source(source):
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    return source


def _run_cell(source, namespace, filename):
    """exec ``source`` like a kernel; return the value of a final expression (or None)."""
    tree = ast.parse(_python_source(source), filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        return eval(compile(last, filename, "eval"), namespace)
    return None


def _partial_credit(value, points):
    """nbgrader's reading of a test cell's output value (``get_partial_grade``)."""
    try:
        grade = float(repr(value))
    except (TypeError, ValueError):
        return points
    if grade > points:
        return 0.0  # nbgrader raises: the cell cannot be graded
    return grade if grade >= 0 else points


def _grade_job(job, cell_timeout, published):
    import builtins
    import contextlib
    import io
    import signal
    import traceback

    def on_alarm(signum, frame):
        raise CellTimeout(f"the cell ran longer than {cell_timeout} s")

    signal.signal(signal.SIGALRM, on_alarm)
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _Shell}
    tests, errors = [], []
    started = time.perf_counter()
    for n, cell in enumerate(job["cells"]):
        out, err = io.StringIO(), io.StringIO()
        value, error = None, None
        published.clear()
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                value = _run_cell(cell["source"], namespace, f"<cell {n} {cell['grade_id']}>")
        except BaseException as exc:  # noqa: B036 - a kernel reports every exception
            lines = traceback.format_exception_only(type(exc), exc)
            error = "".join(lines).strip()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if cell["kind"] != "test":
            if error:
                errors.append(f"{cell['kind']} cell {cell['grade_id'] or cell['cell_id']}: "
                              f"{error}")
            continue
        points = cell["points"]
        if error:
            earned, message = 0.0, error
        elif err.getvalue():
            earned, message = 0.0, "wrote to stderr: " + err.getvalue().strip()[:500]
        elif value is not None and not cell.get("judged"):  # a judged cell has no partial credit
            earned = _partial_credit(value, points)
            message = "" if earned >= points else f"partial credit from the output {value!r}"[:300]
        else:
            earned, message = points, ""
        payloads = [data[RESULT_MIME] for data in published if RESULT_MIME in data]
        tests.append({"cell_id": cell["cell_id"], "grade_id": cell["grade_id"],
                      "functions": cell["functions"], "points": points, "earned": earned,
                      "message": message, "payloads": payloads})
    return {"tests": tests, "errors": errors, "tensorflow_loaded": "tensorflow" in sys.modules,
            "seconds": time.perf_counter() - started}


def _child(job, path, cell_timeout, cpu_limit, published):
    import resource

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 5))
    try:
        result = _grade_job(job, cell_timeout, published)
    except BaseException as exc:  # noqa: B036 - report, never hang the server
        result = {"tests": [], "errors": [], "tensorflow_loaded": False, "seconds": 0.0,
                  "crashed": f"{type(exc).__name__}: {exc}"}
    Path(path).write_text(json.dumps(result))


def _display_catcher():
    """An IPython shell whose display publisher keeps what cells display (the results a
    hidden test sends the grader), as a kernel's would send them: the list it appends to."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    shell = InteractiveShell.instance(config=Config({"HistoryManager": {"enabled": False}}))
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kwargs: published.append(data)
    return published


def _serve():
    """Read a request on stdin, preload the libraries, fork one process per entry."""
    request = json.loads(sys.stdin.read())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import scipy.special  # noqa: F401
    from IPython.core import inputtransformer2  # noqa: F401 - for cells with %magics

    import nnscratch  # noqa: F401 - (its names load on first use: the modules behind them)
    import nnscratch.data  # noqa: F401
    import nnscratch.gradcheck  # noqa: F401
    import nnscratch.hidden  # noqa: F401
    import nnscratch.plotting  # noqa: F401
    import nnscratch.testing  # noqa: F401

    published = _display_catcher()

    sys.path[0] = ""  # as in a kernel: the working directory, not tests/
    running = {}
    jobs = list(enumerate(request["jobs"]))
    while jobs or running:
        while jobs and len(running) < request["workers"]:
            i, job = jobs.pop(0)
            path = os.path.join(request["out"], f"{i}.json")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    _child(job, path, request["cell_timeout"], request["cpu_limit"], published)
                finally:
                    os._exit(0)
            running[pid] = i
        pid, _status = os.wait()
        running.pop(pid, None)


if __name__ == "__main__":
    _serve()
