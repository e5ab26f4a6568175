"""``InjectHiddenCases``: the grader's inputs into each judged test cell, before execution.

For every graded test cell whose test the assignment's judge module knows
(``coursetools.judging``), the hidden cases are drawn from the course's secret, kept in
``resources["hidden_cases"]`` for ``JudgeHiddenCases``, and a line that hands the kernel
their inputs is put at the top of the cell's hidden block. ``JudgeHiddenCases`` puts the
cell's source back as it was.
"""

import secrets
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from coursetools.judging import cases as hidden
from coursetools.judging.secret import SECRET_FILE, case_rng, load_or_create
from coursetools.preprocessors.timed import Timed

BEGIN = "BEGIN HIDDEN TESTS"


def judged_test_id(cell):
    """The grade_id of a graded, locked test cell (code, not a solution), else None."""
    if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
        return None
    return cell.metadata["nbgrader"].get("grade_id")


def inject(source, request):
    """``source`` with a line handing ``request`` to the kernel at the top of its hidden
    block, or None when it has no hidden block."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if BEGIN in line:
            indent = line[: len(line) - len(line.lstrip())]
            call = f"{indent}__import__('nnscratch.hidden').hidden.receive({request!r})"
            return "\n".join(lines[: i + 1] + [call] + lines[i + 1:])
    return None


class InjectHiddenCases(Timed, NbGraderPreprocessor):
    """Draw each judged test's hidden cases and hand their inputs to the kernel."""

    judges_directory = Unicode("judges", help="folder of the judge modules "
                               "(<assignment>.py), relative to the course root").tag(config=True)
    secret = Unicode("", help="the course's grading secret (hex); default: secret_file").tag(
        config=True)
    secret_file = Unicode(SECRET_FILE, help="file of the course's grading secret, relative "
                          "to the course root (made on first use)").tag(config=True)

    def _root(self):
        section = self.config.get("CourseDirectory", {})
        return Path(section.get("root") or ".")  # nbgrader runs converters in the root

    def _key(self):
        if self.secret:
            return bytes.fromhex(self.secret)
        return load_or_create(self._root() / self.secret_file)

    def timed_preprocess(self, nb, resources):
        info = resources["nbgrader"]
        tests = hidden.load_judge(self._root() / self.judges_directory
                                  / f"{info['assignment']}.py")
        plans, key = {}, None
        course_id = self.config.get("CourseDirectory", {}).get("course_id", "")
        for cell in nb.cells:
            test_id = judged_test_id(cell)
            if test_id not in tests:
                continue
            key = key or self._key()
            rng = case_rng(key, course_id, info["assignment"], info["notebook"],
                           info["student"], test_id)
            plan = {"source": cell.source, "nonce": secrets.token_hex(8), "cases": []}
            try:
                plan["cases"] = hidden.draw(tests[test_id], rng)
            except Exception as exc:  # noqa: BLE001 - the judge module's fault: fail closed
                plan["error"] = f"the grader could not draw its hidden cases ({exc})"
            else:
                injected = inject(cell.source, hidden.request(test_id, plan["nonce"],
                                                              plan["cases"]))
                if injected is None:
                    plan["error"] = "the test cell has no hidden block for the grader's cases"
                else:
                    cell.source = injected
            plans[test_id] = plan
        resources["hidden_cases"] = plans
        return nb, resources
