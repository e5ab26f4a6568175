"""The harness's results, what they mean for an entry's verdict, and ``grade()``."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.catalogue import NOTEBOOK
from coursetools.catalogue.plan import SKIP_CELL_IDS, HarnessError, entry_cells, plan, read_notebook
from coursetools.judging import cases as hidden
from coursetools.judging.secret import case_rng
from coursetools.judging.verdict import judge
from coursetools.preprocessors.inject_hidden_cases import inject

CELL_TIMEOUT = 30  # seconds, nbgrader's default per cell
CPU_LIMIT = 120  # seconds of CPU per entry process, then it is killed
# The catalogue's hidden cases come from a key of its own, the same at every run, so that a
# verdict never depends on the run; a course's secret is another key.
CATALOGUE_KEY = hashlib.sha256(b"nn-from-scratch: the catalogue's hidden cases").digest()


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


def hidden_plans(notebook, judges):
    """``{test id: (cases, nonce, request)}`` of the notebook's judged tests."""
    tests = hidden.load_judge(Path(judges) / f"{notebook.parent.name}.py")
    plans = {}
    for test_id, cases_function in tests.items():
        rng = case_rng(CATALOGUE_KEY, notebook.parent.name, notebook.stem, test_id)
        cases = hidden.draw(cases_function, rng)
        plans[test_id] = (cases, "catalogue", hidden.request(test_id, "catalogue", cases))
    return plans


def _judged(cells, plans):
    """The cells with the grader's request in each judged test cell (as InjectHiddenCases)."""
    for cell in cells:
        if cell["kind"] == "test" and cell["grade_id"] in plans:
            source = inject(cell["source"], plans[cell["grade_id"]][2])
            if source is not None:
                cell.update(source=source, judged=True)
    return cells


def _test_result(raw, plans):
    """A CellResult from what the entry's process saw, judged as JudgeHiddenCases does."""
    earned, message = raw["earned"], raw["message"]
    if raw["grade_id"] in plans and earned:
        cases, nonce, _ = plans[raw["grade_id"]]
        verdict = judge(raw["grade_id"], nonce, cases, raw["payloads"])
        if not verdict.passed:
            earned, message = 0.0, verdict.message
    return CellResult(raw["cell_id"], raw["grade_id"], tuple(raw["functions"]), raw["points"],
                      earned, message)


def grade(entries, notebook=NOTEBOOK, workers=None, reference=True, skip=SKIP_CELL_IDS,
          judges=None):
    """Grade each entry (and the untouched reference solution, as ``"reference"``).

    Returns {name: EntryResult}. One server process forks one process per entry.
    ``skip``: the cell ids not to run (the Keras part is never run). Hidden tests are judged
    with ``judges/<assignment>.py`` of the notebook's course (or the folder ``judges``).
    """
    notebook = Path(notebook).resolve()
    nb = read_notebook(notebook)
    cells = plan(nb, skip)
    if not any(c.kind == "test" for c in cells):
        raise HarnessError(f"{notebook} has no graded test cell")
    plans = hidden_plans(notebook, judges or notebook.parents[2] / "judges")
    jobs, results = [], {}
    named = [("reference", None)] if reference else []
    named += [(e.name, e) for e in entries]
    for name, entry in named:
        try:
            jobs.append({"name": name, "cells": _judged(entry_cells(cells, entry), plans)})
        except (HarnessError, SyntaxError) as error:
            results[name] = EntryResult(name, [], crashed=str(error))
    workers = workers or max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="nn-harness-") as tmp:
        request = {"jobs": jobs, "workers": workers, "out": tmp,
                   "cell_timeout": CELL_TIMEOUT, "cpu_limit": CPU_LIMIT}
        env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        server = subprocess.run(
            [sys.executable, "-m", "coursetools.catalogue.runner"],
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
            tests = [_test_result(c, plans) for c in raw["tests"]]
            results[job["name"]] = EntryResult(job["name"], tests, raw["errors"],
                                               raw.get("crashed", ""),
                                               raw["tensorflow_loaded"], raw["seconds"])
    return results


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
