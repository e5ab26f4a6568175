"""A student's session in JupyterLab, end to end, as on Binder.

a. the Binder link opens the course index; its link opens the setup check; Run All: every
   check OK, the plot drawn, "All checks passed";
b. the released notebook, blanks untouched: the visible tests fail with NotImplementedError
   and their teaching messages, nothing fails for another reason, the data plot is drawn;
c. the released notebook with the blanks filled from solutions/: every cell runs, no error,
   the loss curve and the decision boundary are drawn;
d. nbgrader's Validate button: success for c's notebook, the failing tests for b's.

Screenshots: test-artifacts/browser/. `make test PYTEST_ARGS="-m browser"` runs only these.
"""

import re

import pytest
from playwright.sync_api import expect
from student_lab import FILLED, STDERR, WORK, nbgrader_meta, require

pytestmark = pytest.mark.browser

BINDER_URLPATH = "lab/tree/notebooks/index.ipynb"  # the README badge's urlpath
SETUP = "notebooks/00_setup_check.ipynb"
CARD = ["numpy", "scipy", "matplotlib", "sklearn", "tensorflow", "keras", "nbgrader", "jupyterlab"]
# Errors that mean a broken course, not an unfinished assignment.
BROKEN = {"ModuleNotFoundError", "ImportError", "SyntaxError", "IndentationError",
          "FileNotFoundError", "TabError"}


def visible_tests(nb):
    """The code cells that nbgrader grades and the student can see and run."""
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")
            and not nbgrader_meta(c).get("solution")]


def written_answers(nb):
    """The free-text answer cells (graded by hand)."""
    return [c for c in nb.cells if c.cell_type == "markdown" and nbgrader_meta(c).get("grade")
            and nbgrader_meta(c).get("solution")]


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def stderr(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]


def has_image(cell):
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def cells_calling(nb, name):
    return [c for c in nb.cells if c.cell_type == "code" and re.search(rf"\b{name}\(", c.source)]


def test_student_sees_only_student_extensions(lab):
    """Binder's configuration: Validate on; the instructor's tools and the assignment list
    (which needs a JupyterHub exchange, and only shows errors without one) off."""
    lab.goto(BINDER_URLPATH)
    # the toolbar's extension buttons appear a moment after the notebook: wait for it
    expect(lab.panel().locator(".jp-NotebookPanel-toolbar .validate-button")).to_be_visible()
    menus = lab.page.locator(".lm-MenuBar-item").all_inner_texts()
    assert "File" in menus and "Nbgrader" not in menus, menus
    lab.screenshot("0-no-nbgrader-menu")
    sidebar = lab.page.locator(".jp-SideBar.jp-mod-right")
    expect(sidebar.locator('[data-id^="nbgrader-create"]')).to_have_count(0)
    assert "Create Assignment" not in sidebar.inner_html()
    assert "Error fetching courses" not in lab.page.content()
    server = lab.server
    assert server.status_of("/formgrader") == 404, "the formgrader is served to students"
    assert server.status_of("/formgraders") == 404, "the course list is served to students"
    assert server.status_of("/assignments") == 404, "the assignment list is served to students"
    assert server.status_of("/nbgrader_version?version=0.9.6") == 200  # Validate's server half


def test_a_setup_check_from_the_index(lab):
    lab.goto(BINDER_URLPATH)
    index = lab.panel()
    expect(index.locator(".jp-MarkdownOutput").first).to_contain_text("Neural Network from Scratch")
    # JupyterLab resolves the relative links against the notebook's folder.
    assignment = index.get_by_role("link", name="The assignment")
    expect(assignment).to_have_attribute("href", re.compile(f"/files/{WORK}([?]|$)"))
    lab.screenshot("a1-index")
    index.get_by_role("link", name="Setup check").click()
    tab = lab.page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    tab.filter(has_text="00_setup_check.ipynb").wait_for()
    lab.wait_kernel_idle()
    # the link opened the notebook: wait until every code cell is on the page
    cells = lab.notebook("notebooks/00_setup_check.ipynb").cells
    expected = sum(c.cell_type == "code" for c in cells)
    expect(lab.code_cells()).to_have_count(expected)

    prompts = lab.run_all()
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    text = "\n".join(lab.outputs_text(c) for c in lab.code_cells().all())
    lines = text.splitlines()
    for name in ["python", *CARD, "nnscratch", "plot"]:
        line = next((x for x in lines if re.match(rf"\w+\s+{name}\s", x)), None)
        assert line is not None and line.startswith("OK"), f"{name}: {line}\n{text}"
    for name in CARD:  # installed version beside the pinned one, and equal
        assert re.search(rf"^OK\s+{name}\s+(\S+)\s+pinned \1$", text, re.M), name
    assert "FAIL" not in text and "WARN" not in text
    assert lines[-1].startswith("All checks passed")
    stderr_outputs = lab.panel().locator(STDERR)
    assert stderr_outputs.count() == 0, stderr_outputs.all_text_contents()
    plot = lab.images()
    assert plot.count() == 1
    box = plot.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150, box
    lab.screenshot("a2-setup-check-versions", lab.code_cells().first.locator(".jp-OutputArea"))
    lab.screenshot("a3-setup-check-plot-all-passed", lab.code_cells().last)


def test_b_released_notebook_fails_only_on_the_blanks(lab):
    lab.open(require(lab.course, WORK))
    prompts = lab.run_all()
    first_error = lab.panel().locator(STDERR).first
    assert "NotImplementedError" in first_error.text_content()
    lab.screenshot("b1-released-first-failing-test", first_error)
    prompts = lab.run_past_errors(prompts)
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    lab.save()

    nb = lab.notebook(WORK)
    tests = visible_tests(nb)
    assert tests, "the released notebook has no visible tests"
    for cell in tests:
        failures = errors(cell)
        assert failures, f"visible test {cell.id} passes with the blanks unfilled"
        shown = "\n".join(failures[0].traceback)
        assert "NotImplementedError" in shown, (
            f"{cell.id} fails for another reason than a blank: {failures[0].ename}: "
            f"{failures[0].evalue}"
        )
    for cell in nb.cells:
        for error in errors(cell):
            assert error.ename not in BROKEN, f"{cell.id}: {error.ename}: {error.evalue}"
    on_page = lab.panel().locator(STDERR)
    assert on_page.count() >= len(tests)

    data_plots = cells_calling(nb, "plot_data")
    assert data_plots and all(has_image(c) for c in data_plots), "the data plot is not drawn"
    assert lab.images().count() >= len(data_plots)
    lab.screenshot("b2-released-data-plot", lab.images().first)
    # the last cell: the progress summary, every exercise not attempted, the answers empty
    summary = lab.code_cells().last
    expect(summary).to_contain_text("Your progress")
    expect(summary).to_contain_text(f"0 of {len(tests)} visible tests pass")
    expect(summary).to_contain_text("Written answers still empty")
    lab.screenshot("b3-progress-summary", summary)


def test_c_filled_notebook_runs_clean(lab):
    lab.open(require(lab.course, FILLED))
    prompts = lab.run_all()
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"a cell did not run: {prompts}"
    assert lab.panel().locator(STDERR).filter(has_text="Traceback").count() == 0
    lab.save()

    nb = lab.notebook(FILLED)
    for cell in nb.cells:
        assert not errors(cell), f"{cell.id}: {errors(cell)[0].ename}: {errors(cell)[0].evalue}"
    for cell in visible_tests(nb):
        assert not stderr(cell), f"test {cell.id} writes to stderr (nbgrader scores it 0)"
    for name in ["plot_loss", "plot_decision_boundary"]:
        cells = cells_calling(nb, name)
        assert cells, f"no cell calls {name}"
        assert all(has_image(c) for c in cells), f"{name} drew nothing"
    images = lab.images()
    assert images.count() >= 3, "expected the data, the loss curve and the boundary"
    boundary = cells_calling(nb, "plot_decision_boundary")[-1]
    index = [c.id for c in nb.cells if c.cell_type == "code"].index(boundary.id)
    boundary_img = lab.code_cells().nth(index).locator(".jp-OutputArea-output img").first
    assert boundary_img.bounding_box()["width"] > 200
    lab.screenshot("c1-filled-decision-boundary", boundary_img)
    loss = cells_calling(nb, "plot_loss")[0]
    index = [c.id for c in nb.cells if c.cell_type == "code"].index(loss.id)
    lab.screenshot("c2-filled-loss-curve", lab.code_cells().nth(index))


def validate(lab):
    """Click the toolbar's Validate; return nbgrader's result dialog."""
    lab.panel().locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = lab.page.locator(".jp-Dialog")
    dialog.filter(has_text="Validation Results").wait_for(timeout=300_000)
    return dialog


def test_d_validate_filled_notebook_succeeds(lab):
    lab.open(require(lab.course, FILLED))
    dialog = validate(lab)
    assert "nbgrader-SuccessDialog" in dialog.get_attribute("class")
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    lab.screenshot("d1-validate-filled")


def test_d_validate_blank_notebook_names_the_failing_tests(lab):
    lab.open(require(lab.course, WORK))
    dialog = validate(lab)
    assert "nbgrader-ErrorDialog" in dialog.get_attribute("class")
    text = dialog.inner_text()
    nb = lab.notebook(WORK)
    tests, answers = visible_tests(nb), written_answers(nb)
    # only the failing tests: the written answers still to write are not failures
    # (c.Validator.ignore_checksums; the progress summary lists them)
    assert answers
    assert text.count("The following cell failed:") == len(tests), text
    for cell in tests:  # each failing test is shown by its source, with its error
        first_line = next(line for line in cell.source.splitlines() if line.strip())
        assert first_line.strip() in text, f"{cell.id} is not named in the dialog"
    assert text.count("NotImplementedError: ") >= len(tests)
    assert "You did not provide a response." not in text
    lab.screenshot("d2-validate-blank")
