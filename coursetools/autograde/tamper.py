"""Static tamper scan: code in a submission that reaches for the grading machinery.

``scan(nb)`` parses every code cell a student can change (IPython syntax is first turned into
Python, so ``!cmd`` and ``%magic`` show up as ``get_ipython()`` calls) and returns findings
such as ``"cell 4: rebinds numpy.allclose"``. A flagged submission is graded like any other;
the findings go to ``results.json`` and the report, for a person to look at. The scan looks
for code that:

- rebinds or deletes an attribute of an imported module (``np.allclose = ...``,
  ``builtins.round = ...``, ``setattr(np.testing, ...)``), writes ``sys.modules``,
  ``globals()``, ``vars()``, ``__builtins__`` or a module's ``__dict__``;
- shadows, at the top level of a cell, a builtin (``abs``, ``round``, ``all`` ...), a check
  function of the course (``check_close`` ...) or an imported module's name (``np = ...``);
- subclasses ``numpy.ndarray`` or defines comparison/rounding/conversion dunders
  (``__eq__``, ``__round__``, ``__array_ufunc__`` ...) that can fool a naive comparison;
- touches the kernel or interpreter: ``get_ipython()`` (and through it every IPython hook),
  ``sys.settrace``/``setprofile``/``_getframe``/``excepthook``/``displayhook``, frame and
  code objects, ``gc`` referrers, ``ctypes``, ``importlib``, ``exec``/``eval``/``compile``;
- ends or controls processes, or talks to the network: ``os._exit``, ``sys.exit``, ``exit()``,
  ``os.kill``/``fork``/``system``, ``signal``, ``subprocess``, ``socket``, ``multiprocessing``.

What tampering leads to (nbgrader 0.9.6, with ``coursetools.sanitize`` in front of it; each
row is a case of tests/test_hostile.py):

=============================  ==================================================================
the submission...              outcome
=============================  ==================================================================
edits a test cell              ``OverwriteCells`` puts the gradebook's source back (hidden tests
                               included): graded on merit, flagged "edited"
re-types a test cell           the same: back to a code cell with its source, flagged
deletes a test cell            nbgrader's rule: that test scores 0 (``add_missing_cells`` is
                               off: nbgrader 0.9.6 fails re-inserting a cell whose neighbour is
                               gone too), flagged "missing"
duplicates a test cell         the last copy keeps the grade_id and is restored and graded; the
                               other copies run as ordinary cells (stock nbgrader would abort
                               the whole class here), flagged
reorders cells                 graded in the submitted order (a test moved above the function
                               it tests fails), flagged "reordered"
changes ``points``             restored from the gradebook (the maximum never changes), flagged
tags a test cell               it runs anyway (``SandboxedExecute`` skips no cell; stock
``skip-execution``             nbgrader gives it full marks unexecuted), flagged
changes ``grade_id``           the cell runs as an ordinary cell; the real test is missing: 0,
                               flagged
strips nbgrader metadata       every test missing: 0, flagged
hands in invalid JSON / not a  ``invalid_notebook``: graded as a missing notebook, 0
notebook / a file > 32 MiB
hands in nbformat 3            read as nbformat 4 (nbformat upgrades it), graded, flagged
adds files                     copied with it, except links, devices, fifos and a
                               ``nnscratch.py``/``nnscratch/`` that would shadow the course
                               package (flagged); the kernel cannot import them anyway
                               (``PYTHONSAFEPATH``)
=============================  ==================================================================

``structure(submitted, released)`` compares the notebook's cells with the
released notebook: test cells deleted, edited, re-typed, duplicated or moved, points or ids
changed, metadata stripped. Locked cells are restored by nbgrader, so the scan skips the code
of a locked cell that still carries its grade_id (what runs is the instructor's source).
"""

from coursetools.autograde.code_scan import grade_id_of, scan

__all__ = ["scan", "structure"]


def structure(submitted, released):
    """How the submitted notebook's nbgrader cells differ from the released notebook's."""

    def cells(nb):
        out = {}
        for i, cell in enumerate(nb.get("cells", [])):
            grade_id = grade_id_of(cell)
            if grade_id:
                out.setdefault(grade_id, []).append((i, cell))
        return out

    mine, theirs = cells(submitted), cells(released)
    findings = []
    for grade_id, copies in theirs.items():
        _, original = copies[0]
        meta = original["metadata"]["nbgrader"]
        if grade_id not in mine:
            what = "test cell" if meta.get("grade") else "cell"
            findings.append(f"{what} {grade_id} missing (deleted, metadata stripped or "
                            "grade_id changed)")
            continue
        if len(mine[grade_id]) > 1:
            findings.append(f"cell {grade_id} duplicated {len(mine[grade_id])} times")
        _, cell = mine[grade_id][-1]
        if meta.get("locked"):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if cell.get("cell_type") != original.get("cell_type"):
                findings.append(f"locked cell {grade_id} re-typed as {cell.get('cell_type')}")
            elif source != original.get("source"):
                findings.append(f"locked cell {grade_id} edited")
        tags = cell["metadata"].get("tags", [])
        if isinstance(tags, list) and set(tags) & {"skip-execution", "raises-exception"}:
            findings.append(f"cell {grade_id} tagged {sorted(tags)}")
        got = cell["metadata"].get("nbgrader", {})
        for key in ("points", "grade", "solution", "locked"):
            if isinstance(got, dict) and got.get(key) != meta.get(key):
                findings.append(f"cell {grade_id}: nbgrader {key} changed to {got.get(key)!r}")
    for grade_id in mine:
        if grade_id not in theirs:
            findings.append(f"unknown grade_id {grade_id!r}")
    order_mine = [g for g in sorted(mine, key=lambda g: mine[g][-1][0]) if g in theirs]
    order_theirs = [g for g in sorted(theirs, key=lambda g: theirs[g][0][0]) if g in mine]
    if order_mine != order_theirs:
        findings.append("graded cells reordered")
    return findings
