"""A student's JupyterLab, as on Binder, driven by a real headless Chromium (Playwright).

Session fixtures: a scratch copy of what a student has (notebooks/, release/, the helper
package, nbgrader_config.py, ...) plus the released notebook with its blanks filled from
solutions/; a JupyterLab server on it, configured by binder/install_jupyter_config.py
exactly as Binder's postBuild does; one Chromium. Each test gets its own browser context
and JupyterLab workspace, and its kernels are shut down afterwards.

Screenshots go to test-artifacts/browser/ (git-ignored), with the server's log.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from student_lab import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    NOT_ON_BINDER,
    ROOT,
    Lab,
    Server,
    copy_course,
    free_port,
)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A scratch copy of the student's files: committed files are never touched."""
    return copy_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def jupyter(course, tmp_path_factory):
    """JupyterLab on the scratch course with Binder's configuration; stopped even on failure."""
    home = tmp_path_factory.mktemp("jupyter")
    prefix_config = home / "binder-prefix" / "etc" / "jupyter"
    # The very step of binder/postBuild, into a directory standing for ${NB_PYTHON_PREFIX}.
    subprocess.run(
        [sys.executable, str(ROOT / "binder" / "install_jupyter_config.py"), str(prefix_config)],
        check=True, capture_output=True,
    )
    bindir = Path(sys.executable).parent  # the venv's jupyter, and alembic for nbgrader
    env = {k: v for k, v in os.environ.items() if k not in NOT_ON_BINDER}
    env.update(
        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(home / "user-config"),
        JUPYTER_CONFIG_PATH=str(prefix_config),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(bindir / "jupyter"), "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={course}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "jupyter-server.log"
    with open(log, "wb") as out:
        # Binder starts the server in the repository root, and nbgrader's Validate reads
        # the course's nbgrader_config.py from the server's working directory.
        process = subprocess.Popen(
            command, cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + 90
        while server.status_of("/api/status") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        server.shutdown_kernels()
        process.send_signal(signal.SIGTERM)  # the server also ends any kernel left
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(log, ARTIFACTS / "jupyter-server.log")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing, and the browser tests need it: run `make system-deps` "
            "(it installs Debian's chromium), then run the tests again."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def lab(request, browser, jupyter, course):
    """A fresh browser context and workspace; a screenshot when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    lab = Lab(context.new_page(), jupyter, course, re.sub(r"\W+", "-", request.node.name))
    try:
        yield lab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            lab.screenshot(f"FAILED-{lab.workspace}")
        context.close()
        jupyter.shutdown_kernels()
