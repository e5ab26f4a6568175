"""`make feedback`: the HTML feedback students get back, without the source of hidden tests.

nbgrader's ``generate_feedback`` renders each autograded notebook to
``feedback/<student>/<assignment>/<notebook>.html``. By design it shows the whole
source of every test cell, so a student could read the hidden tests and code
to them next year. The course configures (``nbgrader_config.py``) the
:class:`HideHiddenTests` preprocessor into ``GenerateFeedback.preprocessors``: it
replaces each hidden-test block with a one-line note, and the traceback of a test
cell holding hidden tests with just the error message. Results and points are
untouched. This holds for ``nbgrader generate_feedback`` run by hand as well.

    python -m coursetools.feedback [--assignment ID] [--student ID] [--show-hidden-tests]
"""

import argparse
import logging
import os
import sys
from pathlib import Path

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


def graded_students(course, assignment):
    """Students with an autograded notebook of ``assignment`` (what feedback is made from)."""
    autograded = Path(course) / "autograded"
    if not autograded.is_dir():
        return []
    return sorted(p.name for p in autograded.iterdir()
                  if any((p / assignment).glob("*.ipynb")))


def _config(course, show_hidden):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.HTMLExporter.template_name = "feedback"
    if show_hidden:
        config.HideHiddenTests.enabled = False
    return config


def _generate_one(config, assignment, student):
    """nbgrader's GenerateFeedback for one student, as its Python API runs it."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id, coursedir.student_id = assignment, student
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.force = True
    converter.log.setLevel(logging.ERROR)
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises NbGraderException, with details in its log
        raise RuntimeError(f"feedback for {student} failed: {exc}") from exc


def generate(course, assignment, students=None, show_hidden=False, progress=True):
    """Generate feedback for ``students`` (default: every autograded one).

    Returns ``{student: [html paths]}``; raises RuntimeError naming the student
    whose feedback nbgrader could not generate.
    """
    from tqdm import tqdm

    from coursetools.paths import nbgrader_env

    course = Path(course).resolve()
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader runs alembic
    students = list(students) if students is not None else graded_students(course, assignment)
    if not students:
        raise RuntimeError(
            f"nothing autograded for {assignment} under {course / 'autograded'}: "
            "run `make autograde` first"
        )
    config = _config(course, show_hidden)
    written = {}
    cwd = os.getcwd()
    try:
        os.chdir(course)
        for student in tqdm(students, desc="feedback", unit="student", disable=not progress):
            _generate_one(config, assignment, student)
            folder = course / "feedback" / student / assignment
            written[student] = sorted(folder.glob("*.html"))
    finally:
        os.chdir(cwd)
    return written


def main(argv=None):
    from coursetools.paths import COURSE_ROOT, assignments

    parser = argparse.ArgumentParser(description="Generate the students' feedback HTML.")
    parser.add_argument("--assignment", help="assignment id (default: the only one in source/)")
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument("--show-hidden-tests", action="store_true",
                        help="show the source of hidden tests (nbgrader's own behaviour)")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    assignment = args.assignment
    if assignment is None:
        found = assignments(args.course) if (args.course / "source").is_dir() else []
        if len(found) != 1:
            print(f"error: say which assignment with --assignment (found: {found or 'none'})",
                  file=sys.stderr)
            return 2
        assignment = found[0]
    try:
        written = generate(args.course, assignment, args.student, args.show_hidden_tests)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files = sum(len(v) for v in written.values())
    where = args.course / "feedback"
    hidden = "shown" if args.show_hidden_tests else "hidden"
    print(f"feedback: {files} file(s) for {len(written)} student(s) in {where}/<student>/"
          f"{assignment}/ (hidden test source {hidden})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
