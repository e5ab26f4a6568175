"""The notebook's Explore parts (nnscratch.explore) and the helpers they use.

- ``ready``/``problem`` name, in one line, the first function to fill in or fix;
- training several networks at once gives the numbers of training them one by one, and
  falls back to one by one when a student's functions only handle one output or a step
  overflows;
- the figures print one line, never a traceback, when a function is blank;
- the playground trains nothing until a control changes, then redraws with the
  student's functions;
- in the released notebook every cell that is not a test runs on the blanks (one line
  each, no error), and the prose agrees with the measured numbers.
"""

import ast
import contextlib
import io
import re
import time
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest

import nnscratch
from nnscratch import explore, playground

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source" / "nn_from_scratch" / "nn_from_scratch.ipynb"
RELEASE = ROOT / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"
SOLUTIONS = ROOT / "solutions" / "nn_from_scratch" / "nn_from_scratch.ipynb"
EXPLORE_CELLS = ("explore_logreg", "explore_capacity", "explore_learning_rate", "playground")


def _solution_namespace():
    """The reference solution's functions, from source/."""
    namespace = {"np": np}
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, cell.id, "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def solution():
    return _solution_namespace()


def _blank(namespace, name):
    def not_implemented(*args, **kwargs):
        raise NotImplementedError()

    not_implemented.__code__ = not_implemented.__code__.replace(co_name=name)
    return dict(namespace, **{name: not_implemented})


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------
# data and plots


def test_circles_are_seeded_with_labels_as_a_column():
    X, y = nnscratch.make_circles()
    assert X.shape == (200, 2) and y.shape == (200, 1)
    assert set(np.unique(y)) == {0, 1}
    X2, y2 = nnscratch.make_circles()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, nnscratch.make_circles(random_state=7)[0])
    Xb, _ = nnscratch.make_circles(n_samples=20, bias=True)
    assert Xb.shape == (20, 3) and np.all(Xb[:, -1] == 1.0)
    inner = np.hypot(X[:, 0], X[:, 1])[y[:, 0] == 1].mean()
    outer = np.hypot(X[:, 0], X[:, 1])[y[:, 0] == 0].mean()
    assert inner < outer  # class 1 is the small circle


def test_decision_boundary_without_colorbar():
    fig, (with_bar, without) = plt.subplots(1, 2)
    X, y = nnscratch.make_moons()
    nnscratch.plot_decision_boundary(lambda p: p[:, 0] > 0, X, y, ax=with_bar, resolution=20)
    nnscratch.plot_decision_boundary(lambda p: p[:, 0] > 0, X, y, ax=without, resolution=20,
                                     colorbar=False)
    assert len(fig.axes) == 3  # the two plots and one colorbar


# ---------------------------------------------------------------------------
# ready / problem


def test_ready_is_true_for_the_solution_and_prints_nothing(solution, capsys):
    assert explore.problem(namespace=solution) is None
    assert explore.ready(namespace=solution) is True
    assert explore.ready("backprop", namespace=solution) is True
    assert capsys.readouterr().out == ""


def test_a_blank_function_is_named_in_one_line(solution, capsys):
    assert explore.ready("add_bias", namespace=_blank(solution, "add_bias")) is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Fill in add_bias first"), out
    # feed_forward builds on sigmoid: a blank sigmoid is the one to fill in first
    message = explore.problem(["feed_forward"], _blank(solution, "sigmoid"))
    assert message.startswith("Fill in sigmoid first"), message
    # a blank that another function calls is named, not its caller
    namespace = _blank(solution, "sigmoid_der")
    assert explore.problem(["backprop"], namespace).startswith("Fill in sigmoid_der first")
    # only what a cell needs is checked
    assert explore.problem(["add_bias"], _blank(solution, "backprop")) is None


def test_undefined_wrong_shapes_and_errors_are_named(solution):
    namespace = dict(solution)
    del namespace["log_loss"]
    assert explore.problem(namespace=namespace).startswith("log_loss is not defined yet")

    def backprop(weights, output1, output2, ytrue, X_input, LR):
        return weights[0].T, weights[1]

    message = explore.problem(["backprop"], dict(solution, backprop=backprop))
    assert message.startswith("backprop returns shape (2, 3) where (3, 2) is expected"), message

    def feed_forward(X, weights):
        return np.dot(weights[1], X)

    message = explore.problem(["feed_forward"], dict(solution, feed_forward=feed_forward))
    assert message.startswith("feed_forward does not work yet (ValueError"), message
    assert "\n" not in message

    def feed_forward(X, weights):
        return X @ weights[1]

    message = explore.problem(["feed_forward"], dict(solution, feed_forward=feed_forward))
    assert message.startswith("feed_forward should return 2 results, it returns 1"), message

    def add_bias(X):
        return np.hstack([X, np.ones((X.shape[0], 1))])[None]

    message = explore.problem(["add_bias"], dict(solution, add_bias=add_bias))
    assert "shape (1, 2, 3) where (2, 3) is expected" in message


def test_ready_reads_the_callers_globals():
    namespace = {"ready": explore.ready}
    exec("result = ready('add_bias')", namespace)
    assert namespace["result"] is False  # add_bias is not defined in that namespace


# ---------------------------------------------------------------------------
# training


def _moons():
    return nnscratch.make_moons(n_samples=200, noise=0.1, random_state=42, bias=True)


def test_training_together_gives_the_numbers_of_training_one_by_one(solution):
    X, y = _moons()
    networks = [explore.init_weights(h) for h in (1, 3, 20)]
    lrs = [0.02, 0.01, 0.03]
    together, losses = explore.train_many(solution, X, y, networks, 200, lrs)
    for network, lr, weights, loss in zip(networks, lrs, together, losses, strict=True):
        alone, alone_loss = explore.train(solution, X, y, network, 200, lr)
        for a, b in zip(weights, alone, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(loss, alone_loss, rtol=1e-9)


def test_the_notebooks_network_is_the_one_of_the_train_cell(solution):
    """init_weights(4) and train(...) are the train cell's weights and loop."""
    X, y = _moons()
    rng = np.random.default_rng(42)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=(5, 1))]
    for a, b in zip(weights, explore.init_weights(4), strict=True):
        assert np.array_equal(a, b)
    trained, losses = explore.train(solution, X, y, weights, 300, 0.02)
    assert losses[0] == pytest.approx(147.91, abs=0.01)
    assert len(losses) == 300 and losses[-1] < 0.4 * losses[0]


def test_one_output_only_functions_and_overflow_fall_back_to_one_by_one(solution):
    X, y = _moons()

    def backprop(weights, output1, output2, ytrue, X_input, LR):  # only one output column
        wH, wO = weights
        d_out = (output2 - ytrue).ravel()
        hidden = np.hstack([output1, np.ones((len(output1), 1))])
        grad_wO = (hidden * d_out[:, None]).sum(axis=0)[:, None]
        d_hidden = output1 * (1 - output1) * np.outer(d_out, wO[:-1, 0])
        return wH - LR * X_input.T @ d_hidden, wO - LR * grad_wO

    one_output = dict(solution, backprop=backprop)
    networks = [explore.init_weights(h) for h in (2, 4)]
    together, _ = explore.train_many(one_output, X, y, networks, 50, [0.02, 0.02])
    for network, weights in zip(networks, together, strict=True):
        alone, _ = explore.train(solution, X, y, network, 50, 0.02)
        np.testing.assert_allclose(weights[0], alone[0], atol=1e-8)
    # LR = 0.5 overflows to NaN: it must not spill into the network trained beside it
    _, losses = explore.train_many(solution, X, y, [explore.init_weights(4)] * 2, 100,
                                   [0.02, 0.5])
    assert np.isfinite(losses[0]).all() and not np.isfinite(losses[1]).all()
    assert losses[0][-1] < losses[0][0]


def test_capacity_and_learning_rates_measure_what_the_notebook_says(solution):
    capacity = explore.capacity(solution, epochs=600)
    assert capacity["units"] == [1, 2, 3, 4, 5, 20, 50]
    # OpenBLAS picks its kernels by CPU: the small networks, near a saddle after 600 epochs,
    # end a few points of 200 apart on different machines (the 2-unit one at 85.5 % or
    # 87.5 %; the 1-unit one at 87.5 %, or 85 % on this project's machine on 2026-12-02)
    assert capacity["train"] == pytest.approx([0.875, 0.855, 0.865, 0.99, 1, 1, 1], abs=0.03)
    assert capacity["held_out"] == pytest.approx([0.86, 0.87, 0.865, 1, 1, 1, 1], abs=0.03)
    rates = explore.learning_rates(solution, epochs=1000)
    assert rates["lrs"] == [0.002, 0.02, 0.1]
    small, course, large = rates["losses"]
    assert course[-1] < 5 < small[-1] and large[-1] > 20  # too small, right, too large
    assert np.max(large[1:20]) > 5 * large[0] > 5 * np.max(course[1:])  # jumps up
    assert rates["train"][1] == 1.0 and rates["train"][2] < 0.95


def test_the_answer_and_the_recap_agree_with_the_measured_numbers():
    """The prose's numbers: the capacity answer's accuracies (the capacity test above) and
    the logistic regression's, measured here."""
    from sklearn.linear_model import LogisticRegression

    cells = {c.id: c.source for c in nbformat.read(SOURCE, as_version=4).cells}
    answer = cells["capacity_answer"]
    for phrase in ("87.5 % training and 86 % held-out", "(85.5 % and 87 %)", "(86.5 %;",
                   "99 % (4 units)", "600 epochs"):
        assert phrase in answer.replace("\n", " "), phrase
    assert "epochs=600" in cells["explore_capacity"]
    measured = {}
    for n in (50, 200):
        X, y = nnscratch.make_moons(n_samples=n, noise=0.1, random_state=42)
        measured[n] = LogisticRegression().fit(X, y.ravel()).score(X, y.ravel())
    recap = cells["recap_logreg_fails"].replace("\n", " ")
    assert f"{measured[50]:.0%} of these 50".replace("%", " %") in recap, (measured, recap)
    assert f"{measured[200]:.0%} of the 200 moons".replace("%", " %") in recap
    assert "86.5 %" not in cells["train_md"]  # was the prose's figure for logistic regression


# ---------------------------------------------------------------------------
# figures


def test_figures_draw_with_the_solution_and_print_one_line_on_blanks(solution, capsys):
    result = explore.plot_capacity(solution)
    assert result is not None and len(plt.get_fignums()) == 1
    titles = [ax.get_title() for ax in plt.gcf().axes]
    assert "4 hidden units\ntraining 99.0%, held-out 100.0%" in titles, titles
    plt.close("all")
    assert explore.plot_learning_rates(solution) is not None
    out = capsys.readouterr().out
    assert out.count("\n") == 3 and "LR = 0.1" in out
    plt.close("all")
    for figure in (explore.plot_capacity, explore.plot_learning_rates):
        assert figure(_blank(solution, "backprop")) is None
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and out.startswith("Fill in backprop first"), out
        assert plt.get_fignums() == []


def test_a_function_that_passes_the_probe_but_fails_later_prints_one_line(solution, capsys):
    def feed_forward(X, weights):
        if len(X) > 10:
            raise MemoryError("too many samples")
        return solution["feed_forward"](X, weights)

    assert explore.plot_capacity(dict(solution, feed_forward=feed_forward)) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("feed_forward failed while training"), out


@pytest.mark.parametrize("execution, verb", [("autograde", "grades"),
                                              ("validate", "validates")])
def test_while_nbgrader_runs_the_notebook_explore_prints_one_line_and_does_nothing(
        solution, capsys, monkeypatch, execution, verb):
    """nbgrader sets NBGRADER_EXECUTION while it grades or validates: the figures are not
    graded, so they are neither trained nor drawn, and no playground widget is made."""
    trained = []
    monkeypatch.setattr(explore, "train_many", lambda *a, **k: trained.append(a))
    monkeypatch.setenv("NBGRADER_EXECUTION", execution)
    line = explore.NOT_WHILE_GRADING.format(verb=verb) + "\n"
    assert explore.explore_now() is False
    assert capsys.readouterr().out == line
    for run in (explore.plot_capacity, explore.plot_learning_rates, explore.playground):
        assert run(solution) is None, run
        assert capsys.readouterr().out == line, run
    assert trained == [] and plt.get_fignums() == []
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert explore.explore_now() is True and capsys.readouterr().out == ""


# ---------------------------------------------------------------------------
# the playground


def test_playground_trains_nothing_until_a_control_changes(solution, monkeypatch):
    calls = []
    monkeypatch.setattr(playground, "playground_figure",
                        lambda *args, **kwargs: calls.append(kwargs) or (b"png", "summary"))
    widget = explore.playground(solution)
    assert calls == [] and widget.redraws == 0 and bytes(widget.image.value) == b""
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    widget.hidden.value = 7
    widget.data.value = "circles"
    assert [c["hidden"] for c in calls] == [7, 7] and calls[-1]["data"] == "circles"
    assert widget.redraws == 2 and bytes(widget.image.value) == b"png"


def test_playground_redraws_with_the_students_functions(solution):
    widget = playground.Playground(dict(solution), epochs=300)
    widget.hidden.value = 3
    first = bytes(widget.image.value)
    assert first.startswith(b"\x89PNG") and "training accuracy" in widget.status.value
    widget.lr.value = 0.05
    assert bytes(widget.image.value) != first and widget.redraws == 2
    widget.namespace.update(_blank(solution, "feed_forward"))  # a function broken later
    widget.epochs.value = 200
    assert widget.status.value.startswith("Fill in feed_forward first")
    assert widget.redraws == 2


def _counting(namespace, name, calls):
    function = namespace[name]

    def counted(*args):
        calls.append(name)
        return function(*args)

    return dict(namespace, **{name: counted})


def _moons_run(functions, hidden=5, lr=0.02):
    return playground.TrainingRuns().get(functions, "moons", hidden, lr, 0, 200)


def _fresh(functions, run, epochs):
    return explore.train(functions, run.X, run.y, explore.init_weights(run.checkpoints[0][0]
                                                                       .shape[1], 0),
                         epochs, run.lr)


@pytest.mark.parametrize("epochs", [(300, 1000), (1000, 300), (250, 300, 50), (700, 700)])
def test_a_continued_training_run_is_the_run_trained_anew(solution, epochs):
    functions = explore.training_functions(solution)
    run = _moons_run(functions)
    for count in epochs:
        weights, losses = run.at(count)
        fresh_weights, fresh_losses = _fresh(functions, run, count)
        assert len(losses) == count
        np.testing.assert_array_equal(losses, fresh_losses)
        for got, expected in zip(weights, fresh_weights, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_a_backprop_that_updates_in_place_cannot_change_the_checkpoints(solution):
    def in_place(weights, output1, output2, ytrue, X_input, LR):
        new = solution["backprop"](weights, output1, output2, ytrue, X_input, LR)
        for old, updated in zip(weights, new, strict=True):
            old[...] = updated
        return weights

    functions = explore.training_functions(dict(solution, backprop=in_place))
    run = _moons_run(functions)
    run.at(500)
    weights, losses = run.at(200)
    fresh_weights, fresh_losses = _fresh(functions, run, 200)
    np.testing.assert_array_equal(losses, fresh_losses)
    np.testing.assert_array_equal(weights[1], fresh_weights[1])


def test_fewer_epochs_or_a_setting_seen_before_needs_no_training(solution):
    calls = []
    widget = playground.Playground(_counting(solution, "backprop", calls), epochs=1000)
    def trained():  # each redraw first checks the functions with one call of each
        return len(calls) - widget.redraws

    widget.hidden.value = 6
    assert trained() == 1000
    widget.epochs.value = 1500
    assert trained() == 1500  # 500 more, from the checkpoint at 1000
    widget.epochs.value = 400
    widget.hidden.value = 7
    widget.hidden.value = 6
    assert trained() == 1500 + 400  # 7 units is new; 6 units at 400 epochs was kept
    assert widget.redraws == 5
    widget.namespace["backprop"] = dict(solution)["backprop"]  # a function run again
    widget.epochs.value = 300
    assert widget.status.value.startswith("moons, 6 hidden units, LR = 0.02, 300 epochs")
    assert len(widget.runs.runs) == 3


def test_a_redrawn_picture_does_not_depend_on_what_was_drawn_before(solution):
    widget = playground.Playground(dict(solution), epochs=300)
    widget.data.value = "circles"
    widget.hidden.value = 2
    widget.epochs.value = 200
    kept = bytes(widget.image.value)
    png, _ = playground.playground_figure(explore.training_functions(solution), data="circles",
                                          hidden=2, epochs=200)
    assert kept == png


def test_playground_redraw_time_for_20_units_and_3000_epochs(solution, capsys):
    """The issue's budget: at most 1 s per redraw on an idle machine. Measured and printed;
    asserted loosely, since the test machine is shared."""
    widget = playground.Playground(dict(solution), hidden=20, epochs=3000)
    started = time.perf_counter()
    cpu = time.process_time()
    widget.redraw()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    with capsys.disabled():
        print(f"\nplayground redraw, 20 units, 3000 epochs, 200 points: {wall:.2f} s "
              f"({cpu:.2f} s CPU); {widget.status.value}")
    assert widget.redraws == 1 and wall < 5


# ---------------------------------------------------------------------------
# the notebooks


def _code(source):
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))


def _uses_keras(source):
    names = {n.id for n in ast.walk(ast.parse(_code(source))) if isinstance(n, ast.Name)}
    return bool(names & {"keras", "tf", "model", "hist"}) or "import keras" in source


def test_release_cells_that_are_not_tests_run_on_the_blanks_one_line_each(tmp_path,
                                                                         monkeypatch):
    """A student who filled nothing runs every cell but the tests (and the Keras part):
    none fails, and a cell that needs a blank says so in one line."""
    from IPython.display import display

    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(RELEASE, as_version=4)
    namespace = {"display": lambda *a, **k: None}
    assert display
    outputs = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        if _uses_keras(cell.source):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(_code(cell.source), cell.id, "exec"), namespace)
        outputs[cell.id] = out.getvalue()
        plt.close("all")
    fill_lines = {k: v for k, v in outputs.items() if "Fill in" in v}
    for cell_id, text in fill_lines.items():
        lines = [line for line in text.splitlines() if "Fill in" in line]
        assert lines == ["Fill in add_bias first (its cell still raises NotImplementedError), "
                         "run its test, then run this cell again."], (cell_id, text)
    assert set(fill_lines) >= {"apply_bias", "linear", "first_layer", "second_layer",
                               "gradient_check", "train", "decision_boundary",
                               "explore_logreg", "explore_capacity", "explore_learning_rate"}
    assert "logistic regression: training accuracy 87.0%" in outputs["explore_logreg"]


def test_explore_cells_are_ordinary_cells_and_the_solutions_carry_their_plots():
    source = {c.id: c for c in nbformat.read(SOURCE, as_version=4).cells}
    for cell_id in EXPLORE_CELLS:
        assert "nbgrader" not in source[cell_id].metadata, cell_id
    answer = source["capacity_answer"].metadata["nbgrader"]
    assert answer["points"] == 1 and answer["grade"] and answer["solution"]
    order = list(source)
    assert order.index("decision_boundary") < order.index("explore_logreg") < order.index(
        "part3_md") < order.index("keras_loss") < order.index("playground") < order.index(
        "progress")
    solutions = {c.id: c for c in nbformat.read(SOLUTIONS, as_version=4).cells}
    for cell_id in EXPLORE_CELLS[:3]:
        outputs = solutions[cell_id].outputs
        assert any("image/png" in o.get("data", {}) for o in outputs), cell_id
        assert not any(o.output_type == "error" or o.get("name") == "stderr"
                       for o in outputs), cell_id
    widget = [o for o in solutions["playground"].outputs
              if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget, solutions["playground"].outputs
    text = "".join(o.get("text", "") for o in solutions["explore_logreg"].outputs)
    assert re.search(r"logistic regression: training accuracy 87\.0%", text), text


def test_the_readme_quotes_the_one_line_message():
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    assert "**Explore**" in readme
    assert re.sub(r"\s+", " ", explore._not_filled("add_bias")) in readme
