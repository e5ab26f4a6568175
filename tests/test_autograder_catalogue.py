"""The autograder grades the catalogue of student implementations right.

Every entry of ``tests/catalogue`` runs through the real test cells of
``source/nn_from_scratch/nn_from_scratch.ipynb`` (hidden tests included): a
correct implementation must get full marks on every test cell, a wrong one
must lose points on the test cells of the functions it replaces. A failure
here is a finding about the notebook's tests (a hidden check is missing), not
a flaky test: strengthen the notebook, never the verdict.
"""

import dataclasses
import shutil

import nbformat
import pytest

from coursetools import catalogue as harness
from coursetools.catalogue import plan, verdicts

CATALOGUE = harness.load_catalogue()
ENTRIES = CATALOGUE.ENTRIES
BLANKS = tuple(CATALOGUE.blank(f) for f in CATALOGUE.FUNCTIONS)

# Graded through stock `nbgrader autograde` too, to prove the harness scores as nbgrader does.
# Entries whose every test's verdict is the same for any draw of the hidden cases: stock
# nbgrader draws them from its own secret and student, the harness from CATALOGUE_KEY. (Not
# add_bias_ones_first: its network still learns, so whether its train() reaches 97% on the
# secret points depends on the draw.)
NBGRADER_ENTRIES = ("sigmoid_tanh", "add_bias_returns_x", "bp_in_place")


@pytest.fixture(scope="module")
def graded():
    """{name: EntryResult} for the reference solution, every entry and every blank stub."""
    try:
        return verdicts.grade([*ENTRIES, *BLANKS])
    except plan.HarnessError as error:
        pytest.fail(f"cannot grade the catalogue: {error}")


def test_catalogue_covers_every_function():
    assert len(ENTRIES) >= 40
    for function in CATALOGUE.FUNCTIONS:
        verdicts = {e.verdict for e in ENTRIES if function in e.replaces}
        assert verdicts == {"correct", "wrong"}, f"{function} needs correct and wrong entries"


def test_reference_solution_gets_full_marks(graded):
    reference = graded["reference"]
    assert not reference.crashed, reference.crashed
    assert not reference.errors, reference.errors
    lost = [f"{c.grade_id}: {c.message}" for c in reference.tests if not c.passed]
    assert not lost, "the notebook's own solution loses points:\n" + "\n".join(lost)
    untested = [f for f in CATALOGUE.FUNCTIONS if not reference.cells_for((f,))]
    assert not untested, f"no graded test cell for {untested}"
    assert not reference.tensorflow_loaded, "the harness must not run the Keras part"


@pytest.mark.parametrize("entry", BLANKS, ids=lambda e: e.name)
def test_blank_stub_loses_points(graded, entry):
    result = graded[entry.name]
    earned, total = result.score(result.cells_for(entry.replaces))
    assert total > 0 and earned == 0, f"{entry.name}: {earned}/{total} for an unfilled stub"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.verdict}-{e.name}")
def test_entry_gets_its_verdict(graded, entry):
    result = graded[entry.name]
    assert not result.tensorflow_loaded
    problem = verdicts.verdict_problem(entry, result)
    assert problem is None, problem


def test_a_misfiled_entry_is_reported(graded):
    """The verdict check can fail: each entry with the opposite verdict gets a problem."""
    for name in ("sigmoid_tanh", "bp_einsum", "add_bias_ones_first", "bp_in_place"):
        entry = CATALOGUE.BY_NAME[name]
        flipped = "wrong" if entry.verdict == "correct" else "correct"
        misfiled = dataclasses.replace(entry, verdict=flipped)
        assert verdicts.verdict_problem(misfiled, graded[name]) is not None, name


def test_summary(graded, capsys):
    caught, wrong, accepted, correct = verdicts.figures(ENTRIES, graded)
    with capsys.disabled():
        print(f"\nautograder catalogue: caught {caught}/{wrong} wrong, "
              f"accepted {accepted}/{correct} correct")
    assert wrong + correct == len(ENTRIES)


def test_substitution_keeps_the_rest_of_the_cell():
    entry = CATALOGUE.BY_NAME["sigmoid_expit"]
    cell = "import numpy as np\n\n\ndef sigmoid(x):\n    ### BEGIN SOLUTION\n    return 0\n" \
           "    ### END SOLUTION\n\n\ndef other():\n    return 1\n\nZ = sigmoid(1)\n"
    new, preamble_done = plan.substitute(cell, entry, False)
    assert preamble_done
    assert "return 0" not in new and "return expit(x)" in new
    assert new.index("from scipy.special import expit") < new.index("def sigmoid")
    assert "def other():" in new and new.rstrip().endswith("Z = sigmoid(1)")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_harness_agrees_with_nbgrader_autograde(tmp_path):
    """Stock nbgrader grades three submissions cell for cell as the harness does."""
    from nbgrader.api import Gradebook

    from coursetools.course import REPOSITORY as COURSE_ROOT
    from coursetools.course import Course

    assignment = harness.NOTEBOOK.parent.name
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(harness.NOTEBOOK.parent, tmp_path / "source" / assignment)
    shutil.copytree(COURSE_ROOT / "judges", tmp_path / "judges")
    Course(tmp_path).nbgrader("generate_assignment", assignment)
    source_path = tmp_path / "source" / assignment / harness.NOTEBOOK.name
    source_nb = plan.read_notebook(source_path)
    release_path = tmp_path / "release" / assignment / harness.NOTEBOOK.name
    release_nb = nbformat.read(release_path, as_version=4)
    entries = [CATALOGUE.BY_NAME[n] for n in NBGRADER_ENTRIES]
    assert {e.verdict for e in entries} == {"correct", "wrong"}
    for entry in entries:
        folder = tmp_path / "submitted" / entry.name / assignment
        folder.mkdir(parents=True)
        nbformat.write(plan.build_submission(release_nb, source_nb, entry),
                       folder / release_path.name)
    Course(tmp_path).nbgrader("autograde", assignment)

    ours = verdicts.grade(entries, source_path, reference=False, skip=frozenset())
    disagreements = []
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        for entry in entries:
            submitted = gradebook.find_submission_notebook(release_path.stem, assignment,
                                                           entry.name)
            nbgrader_scores = {g.name: g.auto_score for g in submitted.grades
                               if g.cell_type == "code"}
            result = ours[entry.name]
            assert result.tests, f"{entry.name}: the harness graded nothing"
            for cell in result.tests:
                theirs = nbgrader_scores.get(cell.grade_id)
                if theirs is None or abs(theirs - cell.earned) > 1e-9:
                    disagreements.append(f"{entry.name} {cell.grade_id}: harness {cell.earned}, "
                                         f"nbgrader {theirs} ({cell.message[:200]})")
    assert not disagreements, "\n".join(disagreements)
