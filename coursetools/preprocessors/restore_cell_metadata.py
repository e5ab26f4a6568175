"""``RestoreCellMetadata``: every cell's nbgrader metadata as the gradebook has it.

nbgrader 0.9.6 stops on a submission whose nbgrader metadata was edited: a ``grade_id``
the gradebook does not know makes ``OverwriteCells`` delete the id but leave ``grade: true``,
which ``CheckCellMetadata`` then rejects; changed ``grade``/``solution`` flags or
``schema_version``, or a solution cell marked as a graded cell, fail validation or a
gradebook lookup. This runs first in ``Autograde.sanitize_preprocessors`` and rebuilds each
cell's metadata from the gradebook, keyed by its ``grade_id`` (the gradebook is the truth:
flags, points, lock, checksum). Metadata with an unknown or missing ``grade_id`` is removed,
so the cell runs as an ordinary cell and the test it pretended to be counts as missing.
What it changed is in ``findings`` (one sentence each).
"""

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor


class RestoreCellMetadata(NbGraderPreprocessor):
    """Make every cell's nbgrader metadata what the gradebook says for its grade_id."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.findings = []

    def preprocess(self, nb, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            notebook = gb.find_notebook(notebook_id, assignment_id)
            grades = {c.name: float(c.max_score) for c in notebook.grade_cells}
            solutions = {c.name for c in notebook.solution_cells}
            tasks = {c.name: float(c.max_score) for c in notebook.task_cells}
            sources = {c.name: (bool(c.locked), c.checksum) for c in notebook.source_cells}
        for index, cell in enumerate(nb.cells):
            metadata = cell.get("metadata")
            if not isinstance(metadata, dict) or "nbgrader" not in metadata:
                continue
            old = metadata["nbgrader"]
            grade_id = old.get("grade_id") if isinstance(old, dict) else None
            if not isinstance(grade_id, str) or grade_id not in sources:
                del metadata["nbgrader"]
                if old not in ({}, None):
                    self.findings.append(f"cell {index}: nbgrader metadata with unknown "
                                         f"grade_id {grade_id!r} removed (runs as an ordinary "
                                         "cell)")
                continue
            locked, checksum = sources[grade_id]
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
                self.findings.append(f"cell {grade_id}: nbgrader metadata "
                                     f"({', '.join(changed)}) restored from the gradebook")
            metadata["nbgrader"] = new
        return nb, resources
