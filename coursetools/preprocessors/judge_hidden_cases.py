"""``JudgeHiddenCases``: the verdict of each judged test, written into the graded notebook.

After execution, for every test cell ``InjectHiddenCases`` prepared: the results the kernel
published are taken out of the cell's outputs and judged (``coursetools.judging.verdict``);
the cell's source is put back; a failed test gets an error output *first*, so that
nbgrader's ``SaveAutoGrades`` scores it 0 whatever else the cell shows; a passed one a line
that says so. An ``execute_result`` in such a cell becomes plain display output: nbgrader
would read partial credit from it, and code in the kernel can publish one.
"""

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from coursetools.judging.verdict import Verdict, judge
from coursetools.preprocessors.inject_hidden_cases import judged_test_id
from coursetools.preprocessors.timed import Timed
from nnscratch.wire import RESULT_MIME


def _split(outputs):
    """(the results the kernel published, the other outputs with results demoted)."""
    payloads, kept = [], []
    for output in outputs:
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        if RESULT_MIME in data:
            payloads.append(data[RESULT_MIME])
            continue
        if output.get("output_type") == "execute_result":
            output = new_output("display_data", data=data, metadata=output.get("metadata", {}))
        kept.append(output)
    return payloads, kept


class JudgeHiddenCases(Timed, NbGraderPreprocessor):
    """Judge each prepared test cell from what its kernel sent back."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.verdicts = []  # a Verdict per judged test, in the order judged

    def timed_preprocess(self, nb, resources):
        plans = resources.get("hidden_cases", {})
        for cell in nb.cells:
            test_id = judged_test_id(cell)
            plan = plans.get(test_id)
            if plan is None:
                continue
            cell.source = plan["source"]
            payloads, kept = _split(cell.get("outputs", []))
            stopped = any(o.get("output_type") == "error" for o in kept)
            if plan.get("error"):
                verdict = Verdict(test_id, False, 0, 0, f"hidden test {test_id}: "
                                                        f"{plan['error']}")
            elif stopped and not payloads:
                verdict = Verdict(test_id, False, len(plan["cases"]), len(plan["cases"]),
                                  "hidden tests: not run (the cell stopped with an error "
                                  "before them)")
            else:
                verdict = judge(test_id, plan["nonce"], plan["cases"], payloads)
            if verdict.passed or stopped:
                kept.append(new_output("stream", name="stdout", text=verdict.message + "\n"))
            else:
                kept.insert(0, new_output("error", ename="AssertionError",
                                          evalue=verdict.message,
                                          traceback=[f"AssertionError: {verdict.message}"]))
            cell.outputs = kept
            self.verdicts.append(verdict)
        return nb, resources
