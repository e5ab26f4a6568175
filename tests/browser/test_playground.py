"""The Explore playground in a student's JupyterLab (ipywidgets 8 in JupyterLab 4).

The released notebook with its blanks filled from solutions/: Run All, then the playground
at the end shows its controls and has trained nothing; dragging the "hidden units" slider
trains a network with the notebook's functions and draws it; dragging "epochs" draws
another picture (the image data differ). Screenshots: test-artifacts/browser/playground-*.
"""

import re
import time

import pytest
from playwright.sync_api import expect
from student_lab import FILLED, STDERR, require

pytestmark = pytest.mark.browser

REDRAW_TIMEOUT = 60_000  # ms: a training run with the student's functions on 2 busy cores


def _slider(playground, description):
    return playground.locator(".widget-slider").filter(
        has=playground.page.locator(".widget-label", has_text=re.compile(f"^{description}$")))


def _drag(lab, slider, fraction):
    """Drag the slider's handle by ``fraction`` of the slider's width, as a mouse would."""
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target, .slider").first.bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    lab.page.mouse.move(x, y)
    lab.page.mouse.down()
    for step in range(1, 6):
        lab.page.mouse.move(x + track["width"] * fraction * step / 5, y)
    lab.page.mouse.up()


def _readout(slider):
    return slider.locator(".widget-readout").inner_text().strip()


def _wait_for_status(status, pattern, timeout=REDRAW_TIMEOUT):
    expect(status).to_have_text(re.compile(pattern), timeout=timeout)


def test_playground_redraws_when_two_sliders_move(lab):
    lab.open(require(lab.course, FILLED))
    prompts = lab.run_all()
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"a cell did not run: {prompts}"
    assert lab.panel().locator(STDERR).filter(has_text="Traceback").count() == 0

    nb = lab.notebook(FILLED)
    index = [c.id for c in nb.cells if c.cell_type == "code"].index("playground")
    cell = lab.code_cells().nth(index)
    playground = cell.locator(".nnscratch-playground")
    expect(playground).to_be_visible(timeout=30_000)
    playground.evaluate("e => e.scrollIntoView({block: 'start'})")
    status = playground.locator(".widget-html")
    image = playground.locator("img")
    # Nothing is trained until a control changes (as when the grader runs the notebook).
    expect(status).to_contain_text("Move a slider")
    assert image.evaluate("i => i.naturalWidth") == 0  # an empty image: no picture yet
    lab.screenshot("playground-0-before", playground)

    hidden = _slider(playground, "hidden units")
    epochs = _slider(playground, "epochs")
    assert _readout(hidden) == "4" and _readout(epochs) == "3000"

    _drag(lab, hidden, 0.12)
    units = _readout(hidden)
    assert units != "4", "the hidden units slider did not move"
    _wait_for_status(status, rf"moons, {units} hidden units, LR = 0\.02, 3000 epochs: "
                             r"training accuracy [\d.]+%")
    time.sleep(0.5)  # the new image is decoded and painted
    assert image.evaluate("i => i.naturalWidth") > 300
    first = image.screenshot()
    lab.screenshot("playground-1-hidden-units", playground)

    _drag(lab, epochs, -0.5)
    steps = _readout(epochs)
    assert steps != "3000", "the epochs slider did not move"
    _wait_for_status(status, rf"moons, {units} hidden units, LR = 0\.02, {steps} epochs: ")
    time.sleep(0.5)
    second = image.screenshot()
    lab.screenshot("playground-2-epochs", playground)
    assert second != first, "the picture did not change when the epochs changed"
    seconds = float(re.search(r"([\d.]+) s in all", status.inner_text()).group(1))
    print(f"playground redraw in the browser test: {seconds:.2f} s ({status.inner_text()})")
