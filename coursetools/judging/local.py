"""A notebook run with nbclient and its hidden tests judged, without nbgrader or a sandbox.

For what is trusted and needs no gradebook: the tests' and the bench's runs of the solution
notebook. It is what ``InjectHiddenCases``, nbgrader's ``Execute`` and ``JudgeHiddenCases``
do, in one call::

    nb, verdicts = run_judged(nb, folder, judges_dir, "nn_from_scratch", "nn_from_scratch")
"""

import secrets
import subprocess

from traitlets.config import Config


def run_judged(nb, folder, judges, assignment, notebook, student="local", key=None,
               timeout=600):
    """Execute ``nb`` in ``folder`` with its hidden tests judged by ``judges/<assignment>.py``
    (cases from ``key``, random by default); return the notebook and the verdicts."""
    from nbclient import NotebookClient

    from coursetools.preprocessors import InjectHiddenCases, JudgeHiddenCases

    config = Config({"InjectHiddenCases": {
        "secret": (key or secrets.token_bytes(32)).hex(), "judges_directory": str(judges)}})
    resources = {"nbgrader": {"assignment": assignment, "notebook": notebook,
                              "student": student}, "metadata": {"path": str(folder)}}
    nb, resources = InjectHiddenCases(config=config).preprocess(nb, resources)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute(
        stderr=subprocess.DEVNULL)  # the kernel's start-up noise; errors come as outputs
    judge = JudgeHiddenCases(config=config)
    nb, resources = judge.preprocess(nb, resources)
    return nb, judge.verdicts
