"""Two sanitizing steps nbgrader 0.9.6 lacks, so that tampered metadata has a defined outcome.

They run first in ``Autograde.sanitize_preprocessors`` (before nbgrader's own
``DeduplicateIds``, ``OverwriteKernelspec``, ``OverwriteCells`` and ``CheckCellMetadata``).
Without them nbgrader stops on a submission whose nbgrader metadata was edited:

- a ``grade_id`` the gradebook does not know: ``OverwriteCells`` deletes the id but leaves
  ``grade: true``, then ``CheckCellMetadata`` rejects the notebook;
- a duplicated cell: ``DeduplicateIds`` leaves an empty ``nbgrader`` dict, which fails
  validation as a schema-0 cell (``SchemaTooOldError``), and stock ``nbgrader autograde``
  then aborts the whole class, not just that student;
- ``grade``/``solution`` flags or ``schema_version`` changed, or a solution cell marked as a
  graded cell: validation errors or a failed gradebook lookup.

``RestoreCellMetadata`` rebuilds each cell's nbgrader metadata from the gradebook, keyed by
its ``grade_id`` (the gradebook is the truth: flags, points, lock, checksum); metadata with
an unknown or missing ``grade_id`` is removed, so the cell runs as an ordinary cell and the
test it pretended to be counts as missing. ``DeduplicateIds`` keeps nbgrader's rule (the last
copy of a duplicated cell keeps the id) but removes the other copies' metadata entirely.
What each does is appended to ``FINDINGS`` (this process's; the engine clears it).
"""

from nbgrader.api import Gradebook
from nbgrader.preprocessors import DeduplicateIds as _NbgraderDeduplicateIds
from nbgrader.preprocessors import NbGraderPreprocessor

FINDINGS = []


class RestoreCellMetadata(NbGraderPreprocessor):
    """Make every cell's nbgrader metadata what the gradebook says for its grade_id."""

    def preprocess(self, nb, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            notebook = gb.find_notebook(notebook_id, assignment_id)
            grades = {c.name: float(c.max_score) for c in notebook.grade_cells}
            solutions = {c.name for c in notebook.solution_cells}
            tasks = {c.name: float(c.max_score) for c in notebook.task_cells}
            sources = {c.name: (bool(c.locked), c.checksum, c.cell_type)
                       for c in notebook.source_cells}
        for index, cell in enumerate(nb.cells):
            metadata = cell.get("metadata")
            if not isinstance(metadata, dict) or "nbgrader" not in metadata:
                continue
            old = metadata["nbgrader"]
            grade_id = old.get("grade_id") if isinstance(old, dict) else None
            if not isinstance(grade_id, str) or grade_id not in sources:
                del metadata["nbgrader"]
                if old not in ({}, None):
                    FINDINGS.append(f"cell {index}: nbgrader metadata with unknown grade_id "
                                    f"{grade_id!r} removed (runs as an ordinary cell)")
                continue
            locked, checksum, _cell_type = sources[grade_id]
            new = {"grade": grade_id in grades, "grade_id": grade_id, "locked": locked,
                   "schema_version": 3, "solution": grade_id in solutions,
                   "task": grade_id in tasks, "checksum": checksum}
            if grade_id in grades:
                new["points"] = grades[grade_id]
            elif grade_id in tasks:
                new["points"] = tasks[grade_id]
            changed = sorted(k for k in new if k != "checksum" and
                             (not isinstance(old, dict) or old.get(k) != new[k]))
            if changed:
                FINDINGS.append(f"cell {grade_id}: nbgrader metadata "
                                f"({', '.join(changed)}) restored from the gradebook")
            metadata["nbgrader"] = new
        return nb, resources


class DeduplicateIds(_NbgraderDeduplicateIds):
    """nbgrader's rule (the last copy keeps the grade_id); the others become ordinary cells."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
            FINDINGS.append(f"cell {grade_id} appears more than once: only the last copy is "
                            "graded")
        return cell, resources
