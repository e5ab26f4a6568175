"""The graded assignment nn_from_scratch: source, student version and executed solutions.

- source/: every graded cell has points and a descriptive grade_id, each of the seven
  graded functions has a solution cell followed by a locked test cell; visible tests check
  with nnscratch.testing, hidden ones only hand the functions to the grader's judge.
- release/: no solutions, no hidden tests, no outputs; every test cell fails on the
  blanks with NotImplementedError (not a NameError or another mistake of the test).
- solutions/: executed once per session (the slow part), every graded test cell passes
  with its hidden tests judged by the grader and writes nothing to stderr, and the numbers
  printed are the committed ones (every random draw is seeded).
- The training settings of the notebook reach >= 97 % accuracy for several seeds.
"""

import ast
import os
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "nn_from_scratch"
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOLUTIONS = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

# The seed's API, in notebook order: each is one solution cell, graded by test_<name>.
FUNCTIONS = ("add_bias", "sigmoid", "log_loss", "feed_forward", "sigmoid_der",
             "log_loss_der", "backprop")
RECAP_ANSWERS = ("recap_observations", "recap_logreg_fails", "recap_logreg_params",
                 "recap_feature_engineering")
# Every answer graded by hand, in notebook order: the recap, then the Explore part's question.
WRITTEN_ANSWERS = RECAP_ANSWERS + ("capacity_answer",)
MAX_SCORE = 31  # 24 autograded, 7 for the written answers
TRAINING_SEEDS = (0, 1, 2, 3, 123, 2024)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _read(path):
    return nbformat.read(path, as_version=4)


def _python(source):
    """A cell's source as plain Python (line magics such as %matplotlib dropped)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))


def _by_id(nb):
    return {cell.id: cell for cell in nb.cells}


def _test_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade")]


@pytest.fixture(scope="module")
def source_nb():
    return _read(SOURCE)


@pytest.fixture(scope="module")
def release_nb():
    return _read(RELEASE)


# ---------------------------------------------------------------------------
# source/


def test_source_is_nbformat_45_with_stable_ids_and_no_outputs(source_nb):
    assert (source_nb.nbformat, source_nb.nbformat_minor) == (4, 5)
    nbformat.validate(source_nb)
    ids = [cell.id for cell in source_nb.cells]
    assert len(ids) == len(set(ids))
    for cell in source_nb.cells:
        assert not re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){0,4}.*", cell.id), cell.id
        if _nbgrader(cell):
            assert cell.id == _nbgrader(cell)["grade_id"]
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


def test_every_graded_cell_has_points_and_a_descriptive_grade_id(source_nb):
    graded = [c for c in source_nb.cells if _nbgrader(c).get("grade")]
    for cell in graded:
        meta = _nbgrader(cell)
        assert meta.get("points", 0) > 0, f"{meta['grade_id']} has no points"
        if cell.cell_type == "code":
            assert meta["locked"] and not meta["solution"], meta["grade_id"]
            assert re.fullmatch(r"test_[a-z_]+", meta["grade_id"]), meta["grade_id"]
        else:  # the recap questions: manually graded markdown answers
            assert meta["solution"], meta["grade_id"]
    answers = [_nbgrader(c)["grade_id"] for c in graded if c.cell_type == "markdown"]
    assert tuple(answers) == WRITTEN_ANSWERS
    points = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in graded}
    assert sum(points.values()) == MAX_SCORE, points
    assert max(points, key=points.get) == "test_backprop"


def test_each_graded_function_has_a_solution_cell_then_a_locked_test_cell(source_nb):
    code = [c for c in source_nb.cells if c.cell_type == "code"]
    solutions = [c for c in code if _nbgrader(c).get("solution")]
    assert tuple(_nbgrader(c)["grade_id"] for c in solutions) == FUNCTIONS
    for cell in solutions:
        name = _nbgrader(cell)["grade_id"]
        defined = [n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
        assert defined == [name]
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        following = code[code.index(cell) + 1]
        assert _nbgrader(following).get("grade_id") == f"test_{name}", name
        assert "### BEGIN HIDDEN TESTS" in following.source, name
    first = _nbgrader(code[0])  # the imports: locked, before any student code
    assert first["locked"] and not first["grade"] and not first["solution"]
    assert "from nnscratch.testing import" in code[0].source


def test_hidden_tests_are_judged_by_the_grader_only(source_nb):
    """Each hidden block only hands the student's functions to the grader's cases; the
    judge module has the cases of every test; the visible part checks with nnscratch."""
    from coursetools.judging.cases import load_judge

    judged = load_judge(ROOT / "judges" / f"{ASSIGNMENT}.py")
    for cell in _test_cells(source_nb):
        grade_id = _nbgrader(cell)["grade_id"]
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        hidden = hidden.split("### END HIDDEN TESTS")[0]
        code = [line for line in hidden.splitlines() if line.strip()
                and not line.lstrip().startswith("#")]
        assert code[0] == "from nnscratch.hidden import run_hidden_cases", grade_id
        assert code[-1].startswith(f'run_hidden_cases("{grade_id}", {{'), grade_id
        assert not re.search(r"expected|_ref_|check_", hidden), grade_id  # no verdict here
        assert grade_id in judged, f"judges/{ASSIGNMENT}.py has no cases for {grade_id}"
        for banned in ("allclose", "isclose", "round(", "abs(", "assert "):
            assert banned not in cell.source, f"{grade_id} uses {banned}"
        assert "check_" in visible, grade_id
    assert set(judged) == {_nbgrader(c)["grade_id"] for c in _test_cells(source_nb)}


# ---------------------------------------------------------------------------
# release/


def test_release_has_no_solutions_hidden_tests_or_outputs(release_nb):
    text = RELEASE.read_text()
    for marker in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION",
                   "run_hidden_cases", "judges/"):
        assert marker not in text, marker
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    cells = _by_id(release_nb)
    for name in FUNCTIONS:
        assert "raise NotImplementedError()" in cells[name].source, name
    for answer in WRITTEN_ANSWERS:
        assert cells[answer].source.strip() == "YOUR ANSWER HERE", answer


def test_release_test_cells_fail_on_the_blanks_with_not_implemented_error(release_nb):
    """Run the locked cells, the blanks and each test cell, as a student who wrote nothing."""
    namespace = {}
    failures = {}
    for cell in release_nb.cells:
        meta = _nbgrader(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("locked") and not meta.get("grade") or meta.get("solution"):
            exec(compile(_python(cell.source), cell.id, "exec"), namespace)
        elif meta.get("grade"):
            try:
                exec(compile(_python(cell.source), cell.id, "exec"), namespace)
            except NotImplementedError:
                failures[cell.id] = "NotImplementedError"
            except Exception as error:  # noqa: BLE001 - the kind of error is the point
                failures[cell.id] = f"{type(error).__name__}: {error}"
            else:
                failures[cell.id] = "passed"
    expected = {f"test_{name}": "NotImplementedError" for name in FUNCTIONS}
    expected["test_training"] = "NotImplementedError"
    assert failures == expected


# ---------------------------------------------------------------------------
# solutions/: executed once per session


@pytest.fixture(scope="module")
def executed_solutions():
    """solutions/ run again, its hidden tests judged as the grader judges them."""
    from coursetools.judging.local import run_judged

    nb = _read(SOLUTIONS)
    old = {k: os.environ.get(k) for k in ("MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ.update(MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    try:
        nb, verdicts = run_judged(nb, SOLUTIONS.parent, ROOT / "judges", ASSIGNMENT,
                                  SOLUTIONS.stem, timeout=300)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb, verdicts


def _stream(cell, name="stdout"):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


@pytest.mark.slow
def test_solution_passes_every_graded_test_cell_with_hidden_tests(executed_solutions):
    nb, verdicts = executed_solutions
    cells = _test_cells(nb)
    assert len(cells) == len(FUNCTIONS) + 1
    assert sorted(v.test for v in verdicts) == sorted(c.id for c in cells)
    assert all(v.passed for v in verdicts), [v.message for v in verdicts if not v.passed]
    for cell in cells:
        assert "### BEGIN HIDDEN TESTS" in cell.source, cell.id
        kinds = [o.output_type for o in cell.outputs]
        assert "error" not in kinds and "execute_result" not in kinds, cell.id
        assert _stream(cell, "stderr") == "", f"{cell.id} writes to stderr (nbgrader scores 0)"
        text = _stream(cell)
        assert "visible test" in text and "passed (checked by the grader)" in text, cell.id


@pytest.mark.slow
def test_solution_runs_clean_and_draws_its_plots(executed_solutions):
    executed_solutions = executed_solutions[0]
    for cell in executed_solutions.cells:
        if cell.cell_type == "code":
            assert all(o.output_type != "error" for o in cell.outputs), cell.id
            assert _stream(cell, "stderr") == "", f"{cell.id} writes to stderr"
    cells = _by_id(executed_solutions)
    for plot in ("data", "train", "decision_boundary", "keras_loss"):
        assert any("image/png" in o.get("data", {}) for o in cells[plot].outputs), plot
    assert "100.0%" in _stream(cells["train"])
    assert "training accuracy 100.0%" in _stream(cells["keras_fit"])
    errors = re.findall(r"max relative error (\S+)", _stream(cells["gradient_check"]))
    assert len(errors) == 2 and all(float(e) < 1e-6 for e in errors)


@pytest.mark.slow
def test_every_run_prints_the_committed_numbers(executed_solutions):
    """Seeded: a fresh run prints what the committed solutions/ notebook printed."""
    committed = _by_id(_read(SOLUTIONS))
    fresh = _by_id(executed_solutions[0])
    for cell_id in ("shapes", "init_w", "hidden_weights", "train", "keras_fit"):
        def text(cell):
            return [o.get("text") or o.get("data", {}).get("text/plain") for o in cell.outputs]

        assert text(fresh[cell_id]) == text(committed[cell_id]), cell_id


# ---------------------------------------------------------------------------
# the training settings


def _solution_functions(nb):
    namespace = {"np": np}
    for cell in nb.cells:
        if _nbgrader(cell).get("solution") and cell.cell_type == "code":
            exec(compile(cell.source, cell.id, "exec"), namespace)
    return namespace


def _training_settings(nb):
    train = _by_id(nb)["train"].source
    epochs = int(re.search(r"^EPOCHS = (\d+)", train, re.M).group(1))
    lr = float(re.search(r"^LR = ([0-9.]+)", train, re.M).group(1))
    return epochs, lr


def test_training_test_cell_uses_the_notebook_settings(source_nb):
    import importlib.util

    epochs, lr = _training_settings(source_nb)
    test = _by_id(source_nb)["test_training"].source
    assert test.count(f"range({epochs})") == 1 and test.count(f", {lr})") == 1  # visible
    spec = importlib.util.spec_from_file_location("judge", ROOT / "judges" / f"{ASSIGNMENT}.py")
    judge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(judge)
    assert (judge.EPOCHS, judge.LR) == (epochs, lr)  # the hidden cases' training


def test_training_reaches_97_percent_for_several_seeds(source_nb):
    from nnscratch import make_moons

    f = _solution_functions(source_nb)
    epochs, lr = _training_settings(source_nb)
    X, y = make_moons(n_samples=200, noise=0.1, random_state=42)
    X = f["add_bias"](X)
    accuracies = {}
    with np.errstate(all="raise"):  # no overflow or division by zero on the way
        for seed in TRAINING_SEEDS:
            rng = np.random.default_rng(seed)
            weights = [rng.normal(size=(3, 4)), rng.normal(size=(5, 1))]
            for _ in range(epochs):
                out1, out2 = f["feed_forward"](X, weights)
                weights = f["backprop"](weights, out1, out2, y, X, lr)
            accuracies[seed] = float(((f["feed_forward"](X, weights)[1] > 0.5) == y).mean())
    assert all(a >= 0.97 for a in accuracies.values()), accuracies


def test_check_accuracy_counts_right_predictions_and_nan_as_wrong():
    from nnscratch.testing import CheckFailed, check_accuracy

    labels = np.array([[1.0], [0.0], [1.0], [0.0]])
    assert check_accuracy([[0.9], [0.2], [0.7], [0.4]], labels, 1.0) == 1.0
    assert check_accuracy([[0.9], [0.2], [0.7], [0.6]], labels, 0.75) == 0.75
    with pytest.raises(CheckFailed, match="75.0%"):
        check_accuracy([[0.9], [0.2], [0.7], [0.6]], labels, 0.97)
    with pytest.raises(CheckFailed):
        check_accuracy([[0.9], [float("nan")], [0.7], [0.4]], labels, 1.0)
    with pytest.raises(CheckFailed, match="shape"):
        check_accuracy([0.9, 0.2, 0.7, 0.4], labels, 0.5)


# ---------------------------------------------------------------------------
# hints teach without handing out the answer


def _normalized(text):
    return re.sub(r"\s+", "", text).replace("np.", "")


def _solution_expressions(nb):
    """Every call, operation, index or tuple of the solutions' code, normalized."""
    found = set()
    for cell in nb.cells:
        if not _nbgrader(cell).get("solution") or cell.cell_type != "code":
            continue
        code = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        code = textwrap.dedent(code)
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, (ast.Call, ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Tuple,
                                 ast.Attribute)):
                segment = _normalized(ast.get_source_segment(code, node) or "")
                if len(segment) >= 7:
                    found.add(segment)
    return found


def _hints(nb):
    for cell in _test_cells(nb):
        tree = ast.parse(_python(cell.source))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "hint":
                yield cell.id, ast.literal_eval(node.value)


def test_no_hint_contains_an_expression_of_a_solution(source_nb):
    expressions = _solution_expressions(source_nb)
    assert len(expressions) > 20  # the check looks at something
    hints = list(_hints(source_nb))
    assert len(hints) >= 15
    leaks = [(cell_id, hint, e) for cell_id, hint in hints for e in expressions
             if e in _normalized(hint)]
    assert not leaks, leaks
