"""Grade the catalogue's student implementations through the notebook's real test cells.

For one catalogue entry (``tests/catalogue/``) the harness takes the source
notebook ``source/nn_from_scratch/nn_from_scratch.ipynb`` and runs, in order:

- the locked, ungraded code cells (the imports and the given data),
- every solution cell: the reference solution, except that the ``def`` of each
  function the entry replaces is swapped for the entry's own ``def`` (at the
  same place in the cell, as a student would have typed it),
- every graded test cell exactly as in source, hidden tests included,

and skips the expensive cells (see ``skip_reason``): the Keras part, and any
cell listed in ``SKIP_CELL_IDS``. Unlocked ungraded cells (the lesson's demos)
are not run: a test cell must not depend on them.

Each entry runs in its own process, forked from a server process that has
imported numpy, matplotlib, scipy and nnscratch but never ran student code; the
cells are executed in one namespace dict, as a kernel would. A test cell earns
its points iff it raises nothing and writes nothing to stderr (nbgrader's
rule: a warning printed by a test cell scores it 0), or, when its last line is
an expression with a value, the partial credit nbgrader reads from that value.

    python -m tests.autograder_harness --summary         # the catch/accept table
    python -m tests.autograder_harness --entry NAME      # one entry, cell by cell
"""

import argparse
import ast
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
COURSE_ROOT = HERE.parent
ASSIGNMENT = "nn_from_scratch"
# NN_AUTOGRADER_NOTEBOOK points the harness (and its tests) at a draft notebook elsewhere.
NOTEBOOK = Path(os.environ.get("NN_AUTOGRADER_NOTEBOOK")
                or COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").resolve()
CATALOGUE_DIR = HERE / "catalogue"

# Cells the harness does not run, by cell id. test_training trains the network twice for
# 3000 epochs: seconds per entry, minutes for the catalogue. It tests feed_forward and
# backprop end to end, which test_feed_forward and test_backprop check directly. The
# comparison with stock nbgrader runs it too (``grade(..., skip=())``).
SKIP_CELL_IDS = frozenset({"test_training"})
# A cell that imports or uses these names is the Keras part: TensorFlow must not load here.
KERAS_NAMES = frozenset({"tensorflow", "keras", "tf"})

CELL_TIMEOUT = 30  # seconds, nbgrader's default per cell
CPU_LIMIT = 120  # seconds of CPU per entry process, then it is killed


# ---------------------------------------------------------------------------
# the catalogue


def load_catalogue():
    """The ``tests/catalogue`` package, imported by path (no sys.path games)."""
    name = "_nn_autograder_catalogue"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, CATALOGUE_DIR / "__init__.py", submodule_search_locations=[str(CATALOGUE_DIR)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ---------------------------------------------------------------------------
# the plan: which cells of the notebook run, and what they are


class HarnessError(Exception):
    """The notebook or an entry does not fit what the harness needs."""


@dataclass(frozen=True)
class PlanCell:
    kind: str  # "setup", "solution", "test" or "skip"
    cell_id: str
    grade_id: str
    points: float
    source: str
    functions: tuple  # solution: the functions it defines; test: the functions it grades
    reason: str = ""  # why a cell is skipped


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _parse(source):
    """The cell's syntax tree, %magic and !shell lines left out; None when it does not parse."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _used_names(source):
    """Names the cell reads or imports (top-level package names for imports)."""
    tree = _parse(source)
    if tree is None:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def skip_reason(cell, skip=SKIP_CELL_IDS):
    """Why the harness does not run this cell ('' to run it)."""
    if cell.get("id") in skip:
        return "listed in SKIP_CELL_IDS"
    keras = sorted(_used_names(cell.source) & KERAS_NAMES)
    if keras:
        return f"the Keras part (uses {', '.join(keras)})"
    return ""


def _defined_functions(source):
    tree = _parse(source)
    if tree is None:
        return ()
    return tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def tested_functions(grade_id, source, graded):
    """The graded functions a test cell is about: named in its grade_id, else called in it."""
    rest, found = grade_id, []
    for name in sorted(graded, key=len, reverse=True):  # sigmoid_der before sigmoid
        if name in rest:
            found.append(name)
            rest = rest.replace(name, " ")
    if not found:
        found = [name for name in graded if name in _used_names(source)]
    return tuple(sorted(found, key=list(graded).index))


def plan(nb, skip=SKIP_CELL_IDS):
    """Every code cell of ``nb`` with what the harness does with it."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    graded = []
    for cell in cells:
        meta = _nbgrader(cell)
        if meta.get("solution") and not skip_reason(cell, skip):
            graded += [f for f in _defined_functions(cell.source) if f not in graded]
    result = []
    for cell in cells:
        meta = _nbgrader(cell)
        grade_id, points = meta.get("grade_id", ""), float(meta.get("points", 0) or 0)
        reason = skip_reason(cell, skip)
        if meta.get("solution"):
            kind, functions = "solution", _defined_functions(cell.source)
        elif meta.get("grade"):
            kind, functions = "test", tested_functions(grade_id, cell.source, graded)
        elif meta.get("locked"):
            kind, functions = "setup", ()
        else:
            kind, functions, reason = "skip", (), reason or "not graded and not locked (a demo)"
        if reason:
            kind = "skip"
        result.append(PlanCell(kind, cell.get("id", ""), grade_id, points, cell.source,
                               functions, reason))
    return result


def read_notebook(path=NOTEBOOK):
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no notebook at {path}")
    return nbformat.read(path, as_version=4)


# ---------------------------------------------------------------------------
# putting an entry's code into the solution cells


def _split_entry(entry):
    """The entry's defs by function name, and the rest (imports, helpers) as one block."""
    tree = ast.parse(entry.code)
    lines = entry.code.splitlines()
    defs, rest = {}, []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[start - 1:node.end_lineno])
        if isinstance(node, ast.FunctionDef) and node.name in entry.replaces:
            defs[node.name] = text
        else:
            rest.append(text)
    missing = [f for f in entry.replaces if f not in defs]
    if missing:
        raise HarnessError(f"entry {entry.name} does not define {missing}")
    return defs, "\n".join(rest)


def substitute(source, entry, preamble_done):
    """``source`` with the def of every function of ``entry`` replaced by the entry's def.

    The entry's other statements (imports, helpers) go right before the first
    replaced def of the first cell that gets one. Returns (new source, preamble_done).
    """
    defs, preamble = _split_entry(entry)
    tree = ast.parse(source)
    lines = source.splitlines()
    targets = [
        n for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in defs
    ]
    if not targets:
        return source, preamble_done
    for n, node in reversed(list(enumerate(targets))):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        new = defs[node.name]
        if n == 0 and preamble and not preamble_done:
            new = preamble + "\n\n" + new
        lines[start - 1:node.end_lineno] = new.splitlines()
    return "\n".join(lines) + "\n", True


def entry_cells(cells, entry=None):
    """The plan's runnable cells with the entry's code in the solution cells."""
    replaced, preamble_done, out = set(), False, []
    for cell in cells:
        if cell.kind == "skip":
            continue
        source = cell.source
        if entry is not None and cell.kind == "solution":
            hit = set(cell.functions) & set(entry.replaces)
            if hit:
                source, preamble_done = substitute(source, entry, preamble_done)
                replaced |= hit
        out.append({"kind": cell.kind, "cell_id": cell.cell_id, "grade_id": cell.grade_id,
                    "points": cell.points, "functions": list(cell.functions),
                    "source": source})
    if entry is not None and set(entry.replaces) - replaced:
        missing = sorted(set(entry.replaces) - replaced)
        raise HarnessError(f"no solution cell of the notebook defines {missing}")
    return out


def solution_sources(nb, entry=None):
    """grade_id -> source of every solution cell, as this entry's student would submit it.

    Cells the harness skips (the Keras part) keep the reference solution.
    """
    sources = {_nbgrader(c).get("grade_id"): c.source for c in nb.cells
               if _nbgrader(c).get("solution")}
    sources.update({c["grade_id"]: c["source"] for c in entry_cells(plan(nb), entry)
                    if c["kind"] == "solution"})
    return sources


def build_submission(release_nb, source_nb, entry=None):
    """A copy of the released notebook with every blank filled as this entry's student would."""
    import copy

    sources = solution_sources(source_nb, entry)
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            if meta.get("grade_id") not in sources:
                raise HarnessError(f"release cell {meta.get('grade_id')} is not in source")
            cell.source = sources[meta["grade_id"]]
    return nb


# ---------------------------------------------------------------------------
# results


@dataclass
class CellResult:
    cell_id: str
    grade_id: str
    functions: tuple
    points: float
    earned: float
    message: str

    @property
    def passed(self):
        return self.earned >= self.points


@dataclass
class EntryResult:
    name: str
    tests: list  # CellResult of every graded test cell that ran
    errors: list = field(default_factory=list)  # setup or solution cells that raised
    crashed: str = ""  # the process died or the harness could not run the entry
    tensorflow_loaded: bool = False
    seconds: float = 0.0

    def cells_for(self, functions):
        return [c for c in self.tests if set(c.functions) & set(functions)]

    @staticmethod
    def score(cells):
        return sum(c.earned for c in cells), sum(c.points for c in cells)


def verdict_problem(entry, result):
    """Why the grades of ``result`` contradict the entry's verdict, or None when they agree."""
    if result.crashed:
        return f"{entry.name}: the harness could not grade it: {result.crashed}"
    relevant = result.cells_for(entry.replaces)
    if not relevant:
        return f"{entry.name}: no test cell grades {', '.join(entry.replaces)}"
    if entry.verdict == "correct":
        lost = [c for c in result.tests if not c.passed]
        if not lost and not result.errors:
            return None
        lines = [f"{entry.name} is correct ({entry.why}) but lost points:"]
        lines += [f"  {c.grade_id}: {c.earned:g}/{c.points:g}: {c.message}" for c in lost]
        lines += [f"  a cell raised: {e}" for e in result.errors]
        return "\n".join(lines)
    earned, total = EntryResult.score(relevant)
    if earned < total:
        return None
    ids = ", ".join(c.grade_id for c in relevant)
    return (f"{entry.name} is wrong ({entry.why}) but got full marks ({earned:g}/{total:g}) "
            f"on {ids}: no test cell catches this mistake")


# ---------------------------------------------------------------------------
# grading: the parent side


def grade(entries, notebook=NOTEBOOK, workers=None, reference=True, skip=SKIP_CELL_IDS):
    """Grade each entry (and the untouched reference solution, as ``"reference"``).

    Returns {name: EntryResult}. One server process forks one process per entry.
    ``skip``: the cell ids not to run (the Keras part is never run).
    """
    nb = read_notebook(notebook)
    cells = plan(nb, skip)
    if not any(c.kind == "test" for c in cells):
        raise HarnessError(f"{notebook} has no graded test cell")
    jobs, results = [], {}
    named = [("reference", None)] if reference else []
    named += [(e.name, e) for e in entries]
    for name, entry in named:
        try:
            jobs.append({"name": name, "cells": entry_cells(cells, entry)})
        except (HarnessError, SyntaxError) as error:
            results[name] = EntryResult(name, [], crashed=str(error))
    workers = workers or max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="nn-harness-") as tmp:
        request = {"jobs": jobs, "workers": workers, "out": tmp,
                   "cell_timeout": CELL_TIMEOUT, "cpu_limit": CPU_LIMIT}
        env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        server = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            input=json.dumps(request), capture_output=True, text=True, env=env,
            cwd=Path(notebook).resolve().parent, timeout=60 + 10 * len(jobs),
        )
        if server.returncode != 0:
            raise HarnessError(f"the grading server failed:\n{server.stderr[-3000:]}")
        for i, job in enumerate(jobs):
            path = Path(tmp) / f"{i}.json"
            if not path.is_file():
                results[job["name"]] = EntryResult(job["name"], [], crashed="the process died")
                continue
            raw = json.loads(path.read_text())
            tests = [CellResult(c["cell_id"], c["grade_id"], tuple(c["functions"]), c["points"],
                                c["earned"], c["message"]) for c in raw["tests"]]
            results[job["name"]] = EntryResult(job["name"], tests, raw["errors"],
                                               raw.get("crashed", ""),
                                               raw["tensorflow_loaded"], raw["seconds"])
    return results


# ---------------------------------------------------------------------------
# grading: the server and the per-entry process (run with --serve)


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


def _grade_job(job, cell_timeout):
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
        elif value is not None:
            earned = _partial_credit(value, points)
            message = "" if earned >= points else f"partial credit from the output {value!r}"[:300]
        else:
            earned, message = points, ""
        tests.append({"cell_id": cell["cell_id"], "grade_id": cell["grade_id"],
                      "functions": cell["functions"], "points": points, "earned": earned,
                      "message": message})
    return {"tests": tests, "errors": errors, "tensorflow_loaded": "tensorflow" in sys.modules,
            "seconds": time.perf_counter() - started}


def _child(job, path, cell_timeout, cpu_limit):
    import resource

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 5))
    try:
        result = _grade_job(job, cell_timeout)
    except BaseException as exc:  # noqa: B036 - report, never hang the server
        result = {"tests": [], "errors": [], "tensorflow_loaded": False, "seconds": 0.0,
                  "crashed": f"{type(exc).__name__}: {exc}"}
    Path(path).write_text(json.dumps(result))


def _serve():
    """Read a request on stdin, preload the libraries, fork one process per entry."""
    request = json.loads(sys.stdin.read())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import scipy.special  # noqa: F401
    from IPython.core import inputtransformer2  # noqa: F401 - for cells with %magics

    import nnscratch  # noqa: F401
    import nnscratch.testing  # noqa: F401

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
                    _child(job, path, request["cell_timeout"], request["cpu_limit"])
                finally:
                    os._exit(0)
            running[pid] = i
        pid, _status = os.wait()
        running.pop(pid, None)


# ---------------------------------------------------------------------------
# the command line


def outcome(entry, result):
    problem = verdict_problem(entry, result)
    if entry.verdict == "correct":
        return "accepted" if problem is None else "REJECTED"
    return "caught" if problem is None else "MISSED"


def figures(entries, results):
    wrong = [e for e in entries if e.verdict == "wrong"]
    correct = [e for e in entries if e.verdict == "correct"]
    caught = sum(outcome(e, results[e.name]) == "caught" for e in wrong)
    accepted = sum(outcome(e, results[e.name]) == "accepted" for e in correct)
    return caught, len(wrong), accepted, len(correct)


def summary_table(entries, results):
    lines = [f"{'entry':34} {'replaces':13} {'verdict':8} {'points':>9}  outcome"]
    for e in entries:
        r = results[e.name]
        earned, total = EntryResult.score(r.cells_for(e.replaces))
        lines.append(f"{e.name:34} {','.join(e.replaces):13} {e.verdict:8} "
                     f"{earned:4g}/{total:<4g}  {outcome(e, r)}")
    caught, n_wrong, accepted, n_correct = figures(entries, results)
    lines.append(f"caught {caught}/{n_wrong} wrong, accepted {accepted}/{n_correct} correct")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--summary", action="store_true", help="print the catch/accept table")
    parser.add_argument("--entry", action="append", default=[], help="show one entry's cells")
    parser.add_argument("--jobs", type=int, default=None, help="processes at once")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve()
        return 0
    catalogue = load_catalogue()
    entries = [catalogue.BY_NAME[n] for n in args.entry] if args.entry else catalogue.ENTRIES
    started = time.perf_counter()
    results = grade(entries, args.notebook, args.jobs)
    elapsed = time.perf_counter() - started
    if args.entry:
        for e in entries:
            r = results[e.name]
            print(f"{e.name} ({e.verdict}: {e.why}) -> {outcome(e, r)}")
            for c in r.tests:
                print(f"  {c.grade_id:28} {','.join(c.functions):24} {c.earned:g}/{c.points:g}"
                      f"  {c.message.splitlines()[0][:120] if c.message else ''}")
            for error in r.errors:
                print(f"  raised: {error}")
            if r.crashed:
                print(f"  crashed: {r.crashed}")
    else:
        print(summary_table(entries, results))
        for e in entries:
            problem = verdict_problem(e, results[e.name])
            if problem:
                print("\n" + problem)
    reference = results["reference"]
    lost = [c for c in reference.tests if not c.passed]
    print(f"\nreference solution: {EntryResult.score(reference.tests)[0]:g}/"
          f"{EntryResult.score(reference.tests)[1]:g} points"
          + (f", LOST on {[c.grade_id for c in lost]}" if lost else ""))
    skipped = [c.grade_id for c in plan(read_notebook(args.notebook))
               if c.kind == "skip" and c.points]
    if skipped:
        print(f"graded test cells not run here (see SKIP_CELL_IDS): {', '.join(skipped)}")
    print(f"graded {len(results)} notebooks in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
