"""The instructor's side of the browser tests: `make formgrade` on a graded course, and
formgrader's pages as an instructor clicks through them.

``Formgrade`` is the running ``python -m coursetools formgrade`` (what ``make formgrade``
runs) and the URL it printed; ``Formgrader`` speaks in the instructor's terms (open
Nbgrader > Formgrader, Manual Grading, a submission; give points and a comment) on the
iframe JupyterLab shows formgrader in.
"""

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from student_lab import ARTIFACTS

# printed by the verb once the server answers
URL_LINE = re.compile(
    r"^\s+open\s+(?P<url>(?P<base>http://127\.0\.0\.1:\d+)/lab\?token=(?P<token>\w+))\s*$", re.M)
START_TIMEOUT = 150
# the Makefile's own settings for its recipes, and a student's Jupyter paths: not an
# instructor's terminal
NOT_IN_A_TERMINAL = ["MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH", "JUPYTER_CONFIG_PATH",
                     "JUPYTER_PATH"]


class Formgrade:
    """``python -m coursetools formgrade --course <course> --port <port>``, started and stopped."""

    def __init__(self, course, port, home):
        self.course, self.port, self.home = Path(course), port, Path(home)
        self.log = self.home / "formgrade.log"
        self.process = None
        self.url = self.base = self.token = None

    def command(self):
        line = [sys.executable, "-m", "coursetools", "formgrade", "--course", str(self.course),
                "--port", str(self.port)]
        return line + (["--allow-root"] if os.geteuid() == 0 else [])  # as `make formgrade`

    def start(self):
        env = {k: v for k, v in os.environ.items() if k not in NOT_IN_A_TERMINAL}
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            JUPYTER_CONFIG_DIR=str(self.home / "user-config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            IPYTHONDIR=str(self.home / "ipython"),
        )
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command(), env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = URL_LINE.search(self.log.read_text(errors="replace"))
            if found:
                self.url, self.base, self.token = found["url"], found["base"], found["token"]
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make formgrade printed no URL:\n{self.log_tail()}")
            time.sleep(0.5)

    def stop(self):
        """SIGTERM, as `kill` would: the verb stops its JupyterLab and exits."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "formgrade-server.log").write_bytes(self.log.read_bytes())
        return self.process.returncode

    def log_tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Formgrader:
    """One instructor's tab: JupyterLab from the printed URL, formgrader in its iframe."""

    def __init__(self, page, server):
        self.page, self.server = page, server

    @property
    def frame(self):
        return self.page.frame_locator("#formgrader iframe")

    def open_lab(self):
        self.page.goto(self.server.url)
        self.page.locator(".lm-MenuBar-item", has_text=re.compile("^Nbgrader$")).wait_for()

    def nbgrader_menu(self):
        """The labels of the Nbgrader menu (left open; Escape closes it)."""
        items = self.page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
        for _ in range(3):  # after Escape the menu bar stays active: a click may only close it
            self.page.locator(".lm-MenuBar-item", has_text=re.compile("^Nbgrader$")).click()
            try:
                items.first.wait_for(timeout=3000)
                break
            except PlaywrightTimeout:
                continue
        items.first.wait_for()
        return items.all_inner_texts()

    def open_formgrader(self):
        """Nbgrader > Formgrader: its tab opens on Manage Assignments."""
        self.nbgrader_menu()
        self.page.locator(".lm-Menu-item", has_text=re.compile("^Formgrader$")).click()
        self.frame.locator("h1", has_text="Manage Assignments").wait_for()

    def nav(self, name):
        """A link of formgrader's side bar (Manage Assignments, Manual Grading, ...)."""
        self.frame.get_by_role("link", name=name, exact=True).click()

    def rows(self, count, table="table"):
        """The ``count`` rows of the formgrader table in view (they load after the page),
        each a list of its cells' texts."""
        body = self.frame.locator(f"{table} tbody tr")
        expect(body).to_have_count(count)
        return [[cell.strip() for cell in row.split("\t")] for row in body.all_inner_texts()]

    def submission_row(self, student):
        """The row of ``student`` in Manual Grading's list of one notebook's submissions."""
        shown = self.frame.locator("a.name-shown", has_text=re.compile(f"^{re.escape(student)}$"))
        return self.frame.locator("tbody#main-table tr").filter(has=shown)

    def reveal_names(self, count):
        """The list hides students' names behind "Submission #n": show them all."""
        expect(self.frame.locator("tbody#main-table tr")).to_have_count(count)
        for eye in self.frame.locator("td.reveal .name-hidden").all():
            if eye.is_visible():
                eye.click()
        # The last eye's "Hide student name" tooltip stays while the pointer rests on it,
        # and it covers the next row's link (seen in CI): move away until it is gone.
        self.page.mouse.move(0, 0)
        expect(self.frame.locator(".tooltip")).to_have_count(0)

    def give(self, grade_id, points, comment):
        """Points and a comment for one cell of the open submission; saved as formgrader
        saves (on change, i.e. when the field loses focus)."""
        score = self.frame.locator(f"input.score[id='{grade_id}']")
        score.scroll_into_view_if_needed()
        score.fill(f"{points:g}")
        score.press("Tab")
        text = self.frame.locator(f"textarea.comment[id='{grade_id}-comment']")
        text.fill(comment)
        text.press("Tab")

    def screenshot(self, name, element=None):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if element is not None:
            element.scroll_into_view_if_needed()
        self.page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 300)))")
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path)
        return path


def grades_csv(course):
    """``{student: (score, max_score)}`` of ``<course>/grades.csv``."""
    with open(Path(course) / "grades.csv", newline="") as f:
        return {row["student_id"]: (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(f)}


def wait_until(check, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
