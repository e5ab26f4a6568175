"""``HideHiddenTests``: feedback shows every test's result and points, not its hidden source.

nbgrader's ``generate_feedback`` shows students the whole source of every test cell, hidden
tests included, so a student could read them and code to them next year. The course's
``nbgrader_config.py`` puts this preprocessor in ``GenerateFeedback.preprocessors``: each
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` block becomes a one-line note, and the
traceback of a test cell that holds hidden tests becomes its error message (a traceback
quotes source lines). This holds for ``nbgrader generate_feedback`` run by hand as well.
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

HIDDEN_NOTE = "# (hidden tests: their result and points are shown, their source is not)"
TRACEBACK_NOTE = "(traceback not shown: this test cell contains hidden tests)"


class HideHiddenTests(Preprocessor):
    """Replace hidden-test blocks in the source of every cell with a one-line note.

    Also reduces the traceback of a failing cell that holds hidden tests to its
    error message, since a traceback quotes the failing source lines.
    Disable with ``--HideHiddenTests.enabled=False`` to get nbgrader's own feedback.
    """

    enabled = Bool(True, help="Hide the source of hidden tests in feedback.").tag(config=True)
    begin_test_delimeter = Unicode(
        "BEGIN HIDDEN TESTS", help="Marks the start of a hidden-test block (as ClearHiddenTests)."
    ).tag(config=True)
    end_test_delimeter = Unicode(
        "END HIDDEN TESTS", help="Marks the end of a hidden-test block (as ClearHiddenTests)."
    ).tag(config=True)
    note = Unicode(HIDDEN_NOTE, help="The line shown in place of a hidden block.").tag(config=True)

    def hide_blocks(self, source):
        """``source`` without its hidden blocks, and whether there was one."""
        lines, kept, inside, found = source.split("\n"), [], False, False
        for line in lines:
            if self.begin_test_delimeter in line:
                inside = found = True
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(indent + self.note)
            elif self.end_test_delimeter in line and inside:
                inside = False
            elif not inside:
                kept.append(line)
        return "\n".join(kept), found

    def preprocess_cell(self, cell, resources, index):
        source, found = self.hide_blocks(cell.source)
        if found:
            cell.source = source
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    output["traceback"] = [message.rstrip(": "), TRACEBACK_NOTE]
        return cell, resources
