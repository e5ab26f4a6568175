"""What the browser tests need besides fixtures: the course copy, the server, the student's moves.

``Lab`` speaks in a student's terms (open a notebook, Run ▸ Run All Cells, File ▸ Save,
read what the page shows); ``Server`` is the JupyterLab process and its REST API.
"""

import json
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from nnscratch.workspace import ensure_work_copies

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ASSIGNMENT = "nn_from_scratch"
RELEASED = f"release/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
FILLED = f"filled/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
WORK = f"work/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # the student's own copy (nnscratch.workspace)
# What a student's copy of the course holds (the setup check reads requirements.txt).
STUDENT_FILES = [
    "notebooks", "release", "solutions", "nnscratch", "nbgrader_config.py",
    "requirements.txt", "pyproject.toml",
]
# Set by the Makefile for its own recipes; a student's Binder has none of them.
NOT_ON_BINDER = [
    "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "PYTHONPATH",
    "JUPYTER_CONFIG_PATH", "JUPYTER_PATH",
]
RUN_TIMEOUT = 240  # seconds for one Run All: TensorFlow on 2 busy cores
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'  # tracebacks and stderr text


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def fill_blanks(released, solutions):
    """The released notebook with each solution cell's source taken from solutions/ (by id)."""
    nb = nbformat.read(released, as_version=4)
    solved = nbformat.read(solutions, as_version=4)
    by_id = {cell.id: cell for cell in solved.cells}
    by_grade_id = {nbgrader_meta(c).get("grade_id"): c for c in solved.cells if nbgrader_meta(c)}
    filled = 0
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        answer = by_id.get(cell.id) or by_grade_id.get(meta.get("grade_id"))
        assert answer is not None, f"solutions/ has no cell {cell.id} ({meta.get('grade_id')})"
        cell.source = answer.source
        filled += 1
    assert filled, f"{released} has no solution cells to fill"
    return nb


def copy_course(target):
    """Copy the student's files into ``target``; add the filled-in assignment beside them."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.egg-info")
    for name in STUDENT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / name)
    released = target / RELEASED
    solution = target / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if released.is_file() and solution.is_file():
        shutil.copytree(released.parent, (target / FILLED).parent, ignore=ignore)
        nbformat.write(fill_blanks(released, solution), target / FILLED)
    ensure_work_copies(target)  # as binder/postBuild and make lab do
    return target


def require(course, relative):
    """Fail (never skip) when a notebook a flow needs is missing."""
    if not (course / relative).is_file():
        pytest.fail(f"{relative} is missing: build it with `make release` and commit it")
    return relative


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The JupyterLab server process and its REST API."""

    def __init__(self, process, url, token, log):
        self.process, self.url, self.token, self.log = process, url, token, log

    def api(self, method, path, timeout=30):
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return response.status, (json.loads(body) if body.strip() else None)

    def status_of(self, path):
        try:
            return self.api("GET", path)[0]
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, OSError):
            return None

    def shutdown_kernels(self):
        """End every session and kernel: TensorFlow kernels are big and the cores few."""
        try:
            for session in self.api("GET", "/api/sessions")[1] or []:
                self.api("DELETE", f"/api/sessions/{session['id']}")
            for kernel in self.api("GET", "/api/kernels")[1] or []:
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (urllib.error.URLError, OSError):
            pass

    def log_tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Lab:
    """One student's browser tab on the server, in its own JupyterLab workspace."""

    def __init__(self, page, server, course, workspace):
        self.page, self.server, self.course, self.workspace = page, server, course, workspace

    # -- opening -----------------------------------------------------------------------
    def goto(self, urlpath):
        """Open ``urlpath`` (as a Binder link's ``urlpath=``) in a fresh workspace."""
        path = urlpath.removeprefix("lab/")
        self.page.goto(
            f"{self.server.url}/lab/workspaces/{self.workspace}/{path}"
            f"?reset&token={self.server.token}"
        )
        self.panel().locator(".jp-Cell").first.wait_for()

    def open(self, path):
        self.goto(f"lab/tree/{path}")
        self.wait_kernel_idle()
        expected = sum(c.cell_type == "code" for c in self.notebook(path).cells)
        # a notebook of 36 code cells renders in seconds on 2 busy cores: wait for them all
        expect(self.code_cells()).to_have_count(expected, timeout=60_000)
        self.code_cells().first.locator(".jp-InputPrompt").click()  # the notebook has focus

    def panel(self):
        """The notebook in front."""
        return self.page.locator("#jp-main-dock-panel .jp-NotebookPanel").filter(visible=True)

    def current_tab(self):
        return self.page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")

    def wait_kernel_idle(self, timeout=90):
        indicator = self.panel().locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        indicator.wait_for(timeout=timeout * 1000)

    # -- running -----------------------------------------------------------------------
    def menu(self, menu, command):
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').click()

    def code_cells(self):
        return self.panel().locator(".jp-Notebook .jp-CodeCell")

    def prompts(self):
        prompts = self.code_cells().locator(".jp-InputPrompt").all_text_contents()
        return [p.strip() for p in prompts]

    def _run(self, action, timeout=RUN_TIMEOUT):
        """Do ``action`` (a menu click); wait until the kernel has run all it queued."""
        before = self.prompts()
        action()
        deadline = time.monotonic() + timeout
        start_deadline = time.monotonic() + 30
        started, settled = False, 0
        while settled < 3:  # idle with nothing pending, three polls in a row
            assert time.monotonic() < deadline, f"still running after {timeout}s: {self.prompts()}"
            time.sleep(0.5)
            prompts = self.prompts()
            # Started: a cell is queued or running, or has a new execution count.
            # Cells JupyterLab rendered only after ``before`` was read count as new ("").
            padded = before + [""] * (len(prompts) - len(before))
            started = started or any(
                "*" in p or (p != old and re.fullmatch(r"\[\d+\]:", p))
                for p, old in zip(prompts, padded, strict=False)
            )
            assert started or time.monotonic() < start_deadline, f"nothing ran: {prompts}"
            indicator = self.panel().locator(".jp-Notebook-ExecutionIndicator")
            idle = indicator.get_attribute("data-status") == "idle"
            quiet = started and idle and not any("*" in p for p in prompts)
            settled = settled + 1 if quiet else 0
        return self.prompts()

    def run_all(self):
        """Run ▸ Run All Cells. JupyterLab stops at the first error, as the student sees."""
        return self._run(lambda: self.menu("Run", "runmenu:run-all"))

    def run_past_errors(self, prompts):
        """After a Run All stopped at an error (``prompts``, as it returned): Run ▸ Run
        Selected Cell and All Below from the first cell left unrun, until every cell ran."""
        for _ in range(len(prompts)):
            unrun = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
            if not unrun:
                return prompts
            cell = self.code_cells().nth(unrun[0])
            self.select(cell)
            # JupyterLab disables "... and All Below" on the last cell: run just that one.
            last = cell.evaluate("c => !c.nextElementSibling?.classList.contains('jp-Cell')")
            command = "notebook:run-cell" if last else "notebook:run-all-below"
            prompts = self._run(lambda c=command: self.menu("Run", c))
        raise AssertionError(f"cells never ran: {prompts}")

    def select(self, cell, attempts=10):
        """Click ``cell``'s prompt until it is the active cell.

        JupyterLab activates the last cell when a Run All ends, a moment after the kernel
        is idle; a click in that moment would be undone.
        """
        for _ in range(attempts):
            cell.locator(".jp-InputPrompt").click()
            time.sleep(0.3)
            if "jp-mod-active" in (cell.get_attribute("class") or ""):
                return
        raise AssertionError("could not select the cell")

    def save(self):
        """File ▸ Save Notebook, and wait for it: the saved file is what gets handed in."""
        self.menu("File", "docmanager:save")
        deadline = time.monotonic() + 30
        while "jp-mod-dirty" in (self.current_tab().get_attribute("class") or ""):
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.2)

    # -- reading -----------------------------------------------------------------------
    def outputs_text(self, cell):
        return "\n".join(cell.locator(".jp-OutputArea-output").all_text_contents())

    def images(self, scope=None):
        return (scope if scope is not None else self.panel()).locator(
            ".jp-OutputArea-output img"
        )

    def notebook(self, path):
        """The notebook as saved on disk."""
        return nbformat.read(self.course / path, as_version=4)

    def screenshot(self, name, element=None):
        """Save test-artifacts/browser/<name>.png, scrolled to ``element`` when given."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if element is not None:
            element.evaluate("e => e.scrollIntoView({block: 'center'})")
            # Cells off screen are not painted (content-visibility): let the browser catch up.
            self.page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 500)))"
            )
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path)
        return path
