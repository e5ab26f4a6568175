"""The helper package students import: data, plots, gradient check, test-cell checks."""

import builtins
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet

import nnscratch
from nnscratch import testing

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent


def test_moons_shapes_and_labels():
    X, y = nnscratch.make_moons()
    assert X.shape == (50, 2)
    assert y.shape == (50, 1)
    assert set(np.unique(y)) == {0, 1}


def test_moons_are_deterministic_and_seeded():
    X1, y1 = nnscratch.make_moons(n_samples=200)
    X2, y2 = nnscratch.make_moons(n_samples=200)
    X3, _ = nnscratch.make_moons(n_samples=200, random_state=7)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_moons_with_bias_column_last():
    X, _ = nnscratch.make_moons(n_samples=20, bias=True)
    assert X.shape == (20, 3)
    assert np.all(X[:, -1] == 1.0)
    assert not np.all(X[:, 0] == 1.0)


def test_plot_data_draws_every_point():
    X, y = nnscratch.make_moons(n_samples=30)
    ax = nnscratch.plot_data(X, y)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1
    assert len(scatters[0].get_offsets()) == 30


def test_plot_loss_draws_one_point_per_epoch():
    ax = nnscratch.plot_loss([3.0, 2.0, 1.5, 1.2])
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [3.0, 2.0, 1.5, 1.2]


def test_decision_boundary_has_filled_contours_boundary_colorbar_and_data():
    X, y = nnscratch.make_moons(n_samples=40)
    calls = []

    def predict(points):
        calls.append(points.shape)
        return 1 / (1 + np.exp(-(points[:, 0] - points[:, 1])))

    ax = nnscratch.plot_decision_boundary(predict, X, y, resolution=50)
    assert calls == [(2500, 2)]
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert any(c.filled for c in contours)
    boundary = [c for c in contours if not c.filled]
    assert boundary and list(boundary[0].levels) == [0.5]
    assert len(ax.figure.axes) == 2, "a colorbar axes next to the plot"
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters[-1].get_offsets()) == 40


def _loss_and_gradient():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    t = rng.normal(size=(6, 2))

    def loss(weights):
        return float(((X @ weights[0] - t) ** 2).sum())

    def gradient(weights):
        return [2 * X.T @ (X @ weights[0] - t)]

    return loss, gradient, [rng.normal(size=(3, 2))]


def test_gradient_check_accepts_a_correct_gradient():
    loss, gradient, weights = _loss_and_gradient()
    before = weights[0].copy()
    errors = nnscratch.gradient_check(loss, weights, gradient(weights), verbose=False)
    assert errors[0] < 1e-7
    assert np.array_equal(weights[0], before), "the check must not move the weights"


def test_gradient_check_flags_a_wrong_gradient(capsys):
    loss, gradient, weights = _loss_and_gradient()
    wrong = [g.T.reshape(g.shape) * 0.5 for g in gradient(weights)]
    errors = nnscratch.gradient_check(loss, weights, wrong)
    assert errors[0] > 1e-2
    assert "MISMATCH" in capsys.readouterr().out


def test_gradient_check_flags_a_sign_error():
    loss, gradient, weights = _loss_and_gradient()
    errors = nnscratch.gradient_check(loss, weights, [-g for g in gradient(weights)], verbose=False)
    assert errors[0] > 0.5


def test_rel_error_is_zero_for_equal_and_large_for_different():
    a = np.array([1.0, -2.0, 3.0])
    assert nnscratch.rel_error(a, a) == 0.0
    assert nnscratch.rel_error(a, -a) == pytest.approx(1.0)


def test_check_close_message_shows_expected_got_and_hint():
    with pytest.raises(AssertionError) as failure:
        testing.check_close([0.27], [0.5], name="sigmoid(0)", hint="exp(-x)?")
    message = str(failure.value)
    assert "sigmoid(0)" in message and "0.27" in message and "0.5" in message
    assert "Hint: exp(-x)?" in message


def test_check_close_hides_expected_values_for_hidden_tests():
    with pytest.raises(AssertionError) as failure:
        testing.check_close([0.123456], [0.654321], show_expected=False)
    assert "0.654321" not in str(failure.value)


def test_check_close_rejects_wrong_shape_nan_and_rounding():
    with pytest.raises(AssertionError, match="shape"):
        testing.check_close(np.zeros((3, 1)), np.zeros((1, 3)))
    with pytest.raises(AssertionError):
        testing.check_close([float("nan")], [0.0])
    with pytest.raises(AssertionError):
        testing.check_close([0.73], [0.7310585786], atol=1e-6)
    testing.check_close([0.7310585786], [0.7310585786300049], atol=1e-6)


def test_checks_survive_replaced_numpy_and_builtins(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "all", lambda *a, **k: True)
    monkeypatch.setattr(np, "asarray", lambda x, *a, **k: np.zeros(1))
    monkeypatch.setattr(builtins, "abs", lambda x: 0)
    monkeypatch.setattr(builtins, "round", lambda *a, **k: 0)
    with pytest.raises(AssertionError):
        testing.check_close([1.0, 2.0], [1.0, 2.5])


def test_checks_read_the_data_of_an_ndarray_subclass_not_its_methods():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(self), dtype=bool)

        def round(self, *args, **kwargs):
            return np.asarray([0.5])

        def tolist(self):
            return [0.5]

    liar = np.asarray([0.1]).view(Liar)
    with pytest.raises(AssertionError):
        testing.check_close(liar, [0.5])


def test_check_pair_accepts_tuple_and_list_only():
    assert testing.check_pair((1, 2)) == (1, 2)
    assert testing.check_pair([1, 2]) == (1, 2)
    for bad in (np.zeros((2, 2)), (1, 2, 3), None):
        with pytest.raises(AssertionError, match="two things"):
            testing.check_pair(bad)


def test_check_unchanged_catches_in_place_edits():
    w = np.arange(6.0).reshape(2, 3)
    before = testing.snapshot(w)
    testing.check_unchanged(before, w)
    w[0, 0] = 99.0
    with pytest.raises(AssertionError, match="modified in place"):
        testing.check_unchanged(before, w)


def test_check_close_relative_tolerance_scales_with_the_expected_value():
    testing.check_close([1000.0005], [1000.0], atol=1e-6, rtol=1e-6)
    with pytest.raises(AssertionError):
        testing.check_close([1000.0005], [1000.0], atol=1e-6)
    with pytest.raises(AssertionError):
        testing.check_close([1.0005], [1.0], atol=1e-6, rtol=1e-6)


def test_check_close_names_the_first_wrong_entry_by_row_and_column():
    got = np.array([[1.0, 2.0, 2.0], [3.0, 4.0, 4.0]])
    with pytest.raises(AssertionError) as failure:
        testing.check_close(got, [[1.0, 2.0, 1.0], [9.0, 4.0, 1.0]], name="add_bias(X)")
    message = str(failure.value)
    assert message.startswith("add_bias(X) is wrong at row 0, column 2: got 2, expected 1.")
    assert "    [[1, 2, 2],\n     [3, 4, 4]]" in message  # small matrices shown as rows
    with pytest.raises(AssertionError, match="at index 1: got 5"):
        testing.check_close([1.0, 5.0, 7.0], [1.0, 2.0, 3.0])  # the first, not the worst


def test_a_failing_check_shows_the_test_line_not_the_checks_frames():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("from nnscratch.testing import check_close\n"
                       "check_close([0.27], [0.5], name='sigmoid(0)', hint='sign?')")
    text = re.sub(r"\x1b\[[0-9;]*m", "", captured.stdout + captured.stderr)  # no colours
    assert "check_close([0.27]" in text and "sigmoid(0) is wrong" in text
    assert "testing.py" not in text and "_fail(" not in text


def test_progress_lists_passed_failing_not_attempted_and_empty_answers(tmp_path, capsys):
    import nbformat

    from nnscratch.progress import show_progress

    release = ROOT / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"
    nb = nbformat.read(release, as_version=4)
    code = {"add_bias": "def add_bias(X):\n    return np.hstack([X, np.ones((len(X), 1))])",
            "sigmoid": "def sigmoid(x):\n    return 1 / (1 + np.exp(x))"}
    namespace = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.id == "imports" or meta.get("solution") and cell.cell_type == "code":
            source = code.get(cell.id, cell.source)
            cell.source = source
            exec("\n".join(x for x in source.splitlines() if not x.startswith("%")), namespace)
        if cell.id == "recap_observations":
            cell.source = "50 observations, 2 features."
    nbformat.write(nb, tmp_path / "nn.ipynb")
    statuses = {s.name: s for s in show_progress(str(tmp_path / "nn.ipynb"), namespace)}
    out = capsys.readouterr().out
    assert statuses["add_bias"].state == "passed"
    assert statuses["sigmoid"].state == "failing"
    assert statuses["sigmoid"].detail.startswith("sigmoid(a) is wrong at index 0")
    assert statuses["backprop"].state == "not attempted"
    assert statuses["recap_observations"].state == "answered"
    assert statuses["recap_logreg_fails"].state == "empty"
    assert "1 of 8 visible tests pass" in out and "recap_logreg_fails" in out
    assert "not in this folder" in (show_progress(str(tmp_path / "missing.ipynb"), {}) or
                                    capsys.readouterr().out)


def test_progress_names_locked_cells_changed_in_the_work_copy(tmp_path, capsys):
    import shutil

    import nbformat

    from nnscratch.progress import edited_locked_cells, show_progress

    release = ROOT / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"
    (tmp_path / "release" / "nn_from_scratch").mkdir(parents=True)
    shutil.copy2(release, tmp_path / "release" / "nn_from_scratch" / release.name)
    work = tmp_path / "work" / "nn_from_scratch" / release.name
    work.parent.mkdir(parents=True)
    shutil.copy2(release, work)
    assert edited_locked_cells(work) == []
    nb = nbformat.read(work, as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == "test_sigmoid")
    test.source = "pass  # my own test"
    nbformat.write(nb, work)
    assert edited_locked_cells(work) == ["test_sigmoid"]
    show_progress(str(work), {})
    assert "Locked cells you changed (the grader runs the original ones): test_sigmoid" in (
        capsys.readouterr().out)
    # without a release/ above it (a JupyterHub home, the grader) nothing is compared
    alone = tmp_path / "alone" / release.name
    alone.parent.mkdir()
    shutil.copy2(work, alone)
    assert edited_locked_cells(alone) == []


def test_progress_in_a_notebook_prints_the_table_only(tmp_path):
    """The last cell shows the table, not the list of statuses echoed below it."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    release = ROOT / "release" / "nn_from_scratch" / "nn_from_scratch.ipynb"
    shutil.copy2(release, tmp_path / "nn.ipynb")
    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("from nnscratch.progress import show_progress\n"
                       f"show_progress({str(tmp_path / 'nn.ipynb')!r})")
    assert "visible tests pass" in captured.stdout
    assert "Status(" not in captured.stdout and not captured.outputs
