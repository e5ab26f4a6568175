"""Names for notebook cells, so that the report says ``test_backprop`` where a reason says
``cell 41``.

The grader counts cells by their position in the notebook it executed, which means nothing
to an instructor. A cell is named by its nbgrader ``grade_id`` (a test, or the solution
cell of a function), else by the first function it defines, else as the cell after the
nearest named one above it.

``name_cells(text, names)`` rewrites every ``cell <n>`` (``cell <n>, <m>``) of a reason or
flag; ``names`` is ``{notebook: {index: name}}``, read from the student's own graded
notebook (the very cells that ran, so a cell the student added does not shift the count)
and, for results older than that or a notebook that was not graded, from ``release/``
(``source/`` when there is no release).
"""

import re

_CELL_NUMBERS = re.compile(r"\bcell (\d+(?:, \d+)*)\b")
_NOTEBOOK_LABEL = re.compile(r"^([^:;]+): ")  # the grader's "<notebook>: " before a reason
_DEFINED = re.compile(r"^(?:async\s+)?def\s+(\w+)", re.MULTILINE)


def own_name(cell):
    """The cell's grade_id, else the first function it defines, else None. ``cell`` may come
    from a submission as it was handed in (a dict, its metadata anything)."""
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    if isinstance(grade_id, str) and grade_id:
        return grade_id
    source = cell.get("source") or ""
    found = _DEFINED.search("".join(source) if isinstance(source, list) else str(source))
    return found.group(1) if found else None


def cell_names(nb):
    """``{index: name}`` of every cell of ``nb`` that can be named."""
    names, previous = {}, None
    for index, cell in enumerate(nb.get("cells", [])):
        name = own_name(cell)
        if name:
            names[index], previous = name, name
        elif previous:
            names[index] = f"the cell after {previous}"
    return names


def _read_names(path):
    import nbformat

    try:
        return cell_names(nbformat.read(path, as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable notebook leaves its cells numbered
        return {}


def _names_at(course, step, assignment, student="."):
    return {name: _read_names(path)
            for name, path in course.notebooks(step, assignment, student).items()}


def released_cell_names(course, assignment):
    """``{notebook: {index: name}}`` of what the students were given."""
    from coursetools.course import Course

    course = Course.of(course)
    return {**_names_at(course, "source", assignment), **_names_at(course, "release", assignment)}


def student_cell_names(course, assignment, student, released):
    """``released`` overridden by the student's own graded notebooks, where they exist."""
    return {**released, **_names_at(course, "autograded", assignment, student)}


def mentions_cells(text):
    return bool(_CELL_NUMBERS.search(text or ""))


def name_cells(text, names):
    """``text`` with each ``cell <n>`` replaced by the cell's name where ``names`` has it.

    A reason can join several parts with "; ", each prefixed "<notebook>: " when the
    assignment has several notebooks; without a prefix the cell is in the only notebook.
    """
    return "; ".join(_name_part(part, names) for part in (text or "").split("; "))


def _name_part(part, names):
    label = _NOTEBOOK_LABEL.match(part)
    if label and label.group(1) in names:
        cells = names[label.group(1)]
    elif len(names) == 1:
        cells = next(iter(names.values()))
    else:
        return part  # which notebook the cell is in is not said

    def replace(match):
        found = [cells.get(int(n)) for n in match.group(1).split(", ")]
        return match.group(0) if None in found else ", ".join(found)

    return _CELL_NUMBERS.sub(replace, part)
