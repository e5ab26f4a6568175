"""The bundled example class: realistic submissions of an assignment, made from the repository.

Each student's notebook starts from the committed student version (``release/``)
and fills its solution cells, matched by cell id, with the instructor's solution
code from ``source/`` (the ``### BEGIN/END SOLUTION`` markers removed) and its written
answers with the instructor's (those are graded by hand: the autograder leaves them
pending), or with a mistake students make. The class covers what the autograder meets in practice:

=========  ==============================================================================
student    submission
=========  ==============================================================================
ada        complete and correct
blake      blank: the notebook as released
chen       partly done: only add_bias, sigmoid and log_loss
dara       sigmoid with ``np.exp(x)`` instead of ``np.exp(-x)``; the rest correct
eli        backprop averages the gradient over the samples instead of summing; rest correct
fynn       correct, but edited one test cell and deleted another (for the tamper scan)
gus        not a notebook any more: the file was cut off during upload (invalid JSON)
hana       correct, but a ``while`` loop that never ends in the log_loss cell (a timeout)
ivan       calls ``os._exit`` in a solution cell (the kernel dies)
=========  ==============================================================================

``write_class(course, assignment)`` writes ``<course>/submitted/<student>/<assignment>/``
with a ``timestamp.txt`` each. For another assignment, the students whose mistake needs a
function it does not have (``sigmoid``, ``backprop``, ...) are left out.
"""

import copy
import re
from dataclasses import dataclass

import nbformat

from coursetools.course import REPOSITORY, Course, CourseError

ASSIGNMENT = "nn_from_scratch"
SOLUTION_LINE = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END) SOLUTION.*$\n?", re.MULTILINE)
DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


class ExampleClassError(CourseError):
    """The release or source notebook is not what the example class expects."""


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_test(cell):
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


class Assignment:
    """The release and source notebooks of an assignment, and its solution code by function."""

    def __init__(self, assignment=ASSIGNMENT, root=REPOSITORY):
        course = Course.of(root)
        self.name = assignment
        self.release_dir = course.path("release", ".", assignment)
        self.source_dir = course.path("source", ".", assignment)
        self.released = {p.name: nbformat.read(p, as_version=4)
                         for p in sorted(self.release_dir.glob("*.ipynb"))}
        if not self.released:
            raise ExampleClassError(f"no notebook in {self.release_dir}: run `make release`")
        self.solutions = {}  # cell id -> solution code
        self.cell_of = {}  # function name -> (notebook name, cell id)
        for name in self.released:
            source = nbformat.read(self.source_dir / name, as_version=4)
            for cell in source.cells:
                if _nbgrader(cell).get("solution"):  # code, or a written answer (markdown)
                    code = SOLUTION_LINE.sub("", cell.source)
                    self.solutions[cell.id] = code
                    for function in DEF.findall(code):
                        self.cell_of.setdefault(function, (name, cell.id))
        missing = [cid for nb in self.released.values() for cid in self._solution_ids(nb)
                   if cid not in self.solutions]
        if missing:
            raise ExampleClassError(
                f"solution cells {missing} of {self.release_dir} are not in {self.source_dir}: "
                "release/ is stale, run `make release`")

    @staticmethod
    def _solution_ids(nb):
        return [c.id for c in nb.cells if _nbgrader(c).get("solution")]

    def fresh(self):
        """A copy of the released notebooks: ``{notebook name: NotebookNode}``."""
        return copy.deepcopy(self.released)

    def fill(self, notebooks, functions=None):
        """Fill the solution cells with the source's code and answers (or only the cells that
        define ``functions``)."""
        wanted = None if functions is None else {self.locate(f)[1] for f in functions}
        for nb in notebooks.values():
            for cell in nb.cells:
                if cell.id in self.solutions and (wanted is None or cell.id in wanted):
                    cell.source = self.solutions[cell.id]
        return notebooks

    def locate(self, function):
        if function not in self.cell_of:
            raise ExampleClassError(
                f"no solution cell defines {function}() in {self.source_dir}")
        return self.cell_of[function]

    def cell(self, notebooks, function):
        name, cell_id = self.locate(function)
        return next(c for c in notebooks[name].cells if c.id == cell_id)

    def replace(self, notebooks, function, code):
        """Put ``code`` in place of ``function``'s definition, keeping the rest of its cell."""
        cell = self.cell(notebooks, function)
        cell.source = replace_def(cell.source, function, code)
        return notebooks


def replace_def(source, function, code):
    """``source`` with the top-level ``def function`` (up to the next top-level line) → code."""
    lines = source.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(rf"def\s+{function}\s*\(", line)),
                 None)
    if start is None:
        raise ExampleClassError(f"no `def {function}` in the cell:\n{source}")
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in " \t"):
        end += 1
    return "\n".join(lines[:start] + code.rstrip("\n").split("\n") + [""] + lines[end:])


# Mistakes, written against the API of the seed (function names and arguments).
SIGMOID_EXP_X = """def sigmoid(x):
    return 1 / (1 + np.exp(x))
"""

NEVER_ENDS = """

# try it on a few predictions
i = 0
while i < 10:  # forgot `i += 1`: never ends
    loss = log_loss(1.0, (i + 1) / 11)
"""

KILLS_KERNEL = """import os

os._exit(1)  # "restart and clear": kills the kernel instead
"""


def mean_instead_of_sum(code):
    """The backprop solution, with each gradient summed over the samples averaged instead.

    A sum over samples is written ``a.T.dot(b)``, ``np.dot(a.T, b)`` or ``a.T @ b`` (sometimes
    ``np.sum(..., axis=0)``); the mistake divides each by the number of samples.
    """
    n = "X_input.shape[0]"
    patterns = [
        r"np\.dot\(\s*[\w\[\]\-:]+\.T\s*,\s*[^()]+?\)",
        r"[\w\[\]\-:]+\.T\.dot\([^()]+?\)",
        r"[\w\[\]\-:]+\.T\s*@\s*[\w\[\]\-:]+",
        r"np\.sum\([^()]*?axis\s*=\s*0[^()]*?\)",
    ]
    new, count = code, 0
    for pattern in patterns:
        new, k = re.subn(pattern, lambda m: f"({m.group(0)} / {n})", new)
        count += k
    if not count:
        raise ExampleClassError("cannot find the sum over samples in the backprop solution:\n"
                                + code)
    return new


def _complete(a):
    return a.fill(a.fresh())


def _blank(a):
    return a.fresh()


def _partial(a):
    return a.fill(a.fresh(), ["add_bias", "sigmoid", "log_loss"])


def _sigmoid_mistake(a):
    return a.replace(_complete(a), "sigmoid", SIGMOID_EXP_X)


def _backprop_mistake(a):
    notebooks = _complete(a)
    cell = a.cell(notebooks, "backprop")
    cell.source = mean_instead_of_sum(cell.source)
    return notebooks


def _tampered(a):
    notebooks = _complete(a)
    for nb in notebooks.values():
        tests = [c for c in nb.cells if _is_test(c)]
        if len(tests) >= 2:
            tests[0].source = "# my code is right, this test is wrong\npass"
            nb.cells.remove(tests[-1])
            return notebooks
    raise ExampleClassError("no notebook with two test cells to tamper with")


def _invalid_json(a):
    notebooks = _complete(a)
    return {name: nbformat.writes(nb)[: len(nbformat.writes(nb)) // 2]
            for name, nb in notebooks.items()}


def _infinite_loop(a):
    notebooks = _complete(a)
    cell = a.cell(notebooks, "log_loss")
    cell.source = cell.source.rstrip("\n") + "\n" + NEVER_ENDS
    return notebooks


def _kills_kernel(a):
    notebooks = _complete(a)
    cell = a.cell(notebooks, "sigmoid")
    cell.source = cell.source.rstrip("\n") + "\n\n\n" + KILLS_KERNEL
    return notebooks


@dataclass(frozen=True)
class Student:
    id: str
    story: str
    make: object  # Assignment -> {notebook name: NotebookNode or str}
    timestamp: str


STUDENTS = (
    Student("ada", "complete and correct", _complete, "2025-05-01 09:12:31.000000 UTC"),
    Student("blake", "blank: the notebook as released", _blank, "2025-05-01 10:00:00.000000 UTC"),
    Student("chen", "partly done: add_bias, sigmoid, log_loss only", _partial,
            "2025-05-01 11:47:05.000000 UTC"),
    Student("dara", "mistake: sigmoid uses np.exp(x)", _sigmoid_mistake,
            "2025-05-01 12:30:00.000000 UTC"),
    Student("eli", "mistake: backprop averages instead of summing over samples",
            _backprop_mistake, "2025-05-01 13:05:44.000000 UTC"),
    Student("fynn", "correct, but edited a test cell and deleted another", _tampered,
            "2025-05-01 14:20:10.000000 UTC"),
    Student("gus", "invalid JSON: upload cut off half-way", _invalid_json,
            "2025-05-01 15:00:00.000000 UTC"),
    Student("hana", "a loop that never ends in the log_loss cell", _infinite_loop,
            "2025-05-01 16:33:21.000000 UTC"),
    Student("ivan", "calls os._exit: the kernel dies", _kills_kernel,
            "2025-05-01 17:59:59.000000 UTC"),
)


def write_class(course, assignment=ASSIGNMENT, root=REPOSITORY, students=STUDENTS):
    """Write the example class into ``course``'s submitted/; return the student ids written.

    The notebooks are made from ``root``'s release/ and source/ of ``assignment``; a student
    whose mistake does not fit the assignment is left out."""
    a = Assignment(assignment, root)
    target = Course.of(course)
    written = []
    for student in students:
        try:
            notebooks = student.make(a)
        except ExampleClassError:
            continue  # this mistake needs a function the assignment does not have
        folder = target.path("submitted", student.id, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        for name, nb in notebooks.items():
            text = nb if isinstance(nb, str) else nbformat.writes(nb)
            (folder / name).write_text(text, encoding="utf-8")
        (folder / "timestamp.txt").write_text(student.timestamp)
        written.append(student.id)
    return written
