"""Which cells of the notebook the harness runs, and a catalogue entry's code put into them."""

import ast
from dataclasses import dataclass
from pathlib import Path

from coursetools.catalogue import NOTEBOOK
from coursetools.course import CourseError

# Cells the harness does not run, by cell id. test_training trains the network twice for
# 3000 epochs: seconds per entry, minutes for the catalogue. It tests feed_forward and
# backprop end to end, which test_feedforward and test_backprop check directly. The
# comparison with stock nbgrader runs it too (``grade(..., skip=())``).
SKIP_CELL_IDS = frozenset({"test_training"})
# A cell that imports or uses these names is the Keras part: TensorFlow must not load here.
KERAS_NAMES = frozenset({"tensorflow", "keras", "tf"})


class HarnessError(CourseError):
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
