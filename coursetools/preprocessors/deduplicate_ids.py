"""``DeduplicateIds``: nbgrader's rule for a duplicated cell, without aborting the class.

nbgrader's own ``DeduplicateIds`` leaves the other copies of a duplicated cell with an
empty ``nbgrader`` dict, which then fails validation as a schema-0 cell
(``SchemaTooOldError``): stock ``nbgrader autograde`` aborts the whole class there, not
just that student. This one keeps nbgrader's rule (the last copy keeps the grade_id) and
removes the other copies' metadata entirely, so they run as ordinary cells. What it
changed is in ``findings``.
"""

from nbgrader.preprocessors import DeduplicateIds as NbgraderDeduplicateIds


class DeduplicateIds(NbgraderDeduplicateIds):
    """nbgrader's rule (the last copy keeps the grade_id); the others become ordinary cells."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.findings = []

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
            self.findings.append(f"cell {grade_id} appears more than once: only the last copy "
                                 "is graded")
        return cell, resources
