"""Kernels forked warm from a template (coursetools.sandbox.zygote) compute what cold ones do,
and grading survives a template that dies, hangs or cannot import.

The sandbox itself is probed in both kinds of kernel by tests/test_sandbox.py; the example
class, graded warm (the course's configuration), must give the grades of tests/test_pipeline.py,
which were those of cold kernels.
"""

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
import quick_course as qc
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from nbclient import NotebookClient
from traitlets.config import Config

from coursetools import catalogue as harness
from coursetools.autograde import autograde
from coursetools.autograde.warm_start import WarmKernels, locked_imports
from coursetools.catalogue import plan
from coursetools.course import REPOSITORY, Course
from coursetools.sandbox import command as sandbox
from coursetools.sandbox import zygote
from coursetools.sandbox.kernel import SandboxedKernelManager
from coursetools.sandbox.limits import GradingLimits

pytestmark = pytest.mark.slow

CATALOGUE = harness.load_catalogue()
# correct and wrong implementations of several functions, the in-place update among them
ENTRIES = ("sigmoid_tanh", "add_bias_returns_x", "bp_in_place")


def _course_warm_settings():
    warm = WarmKernels(config=Course(REPOSITORY).config)
    return warm.imports, warm.import_env


def _outputs(nb):
    """Each code cell's outputs, without what legitimately differs between two runs."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cells.append([{key: value for key, value in output.items()
                       if key not in ("metadata", "execution_count")}
                      for output in cell.outputs])
    return cells


def _execute(path, start, tmp_path, monkeypatch, import_env=None):
    """The notebook at ``path`` executed in a sandboxed kernel started ``start``."""
    imports, env = _course_warm_settings()
    scratch = Path(tempfile.mkdtemp(prefix=f"nnag-{start}-"))
    os.chmod(scratch, 0o711)
    work, ipc = scratch / "work" / "w", scratch / "ipc"
    work.mkdir(parents=True)
    ipc.mkdir()
    for folder in (work.parent, ipc):
        os.chmod(folder, 0o711)
    shutil.copytree(path.parent, work, dirs_exist_ok=True)
    uid = sandbox.sandbox_uid(0)
    if uid is not None:
        for folder, _, files in os.walk(work):
            for name in [folder, *(os.path.join(folder, f) for f in files)]:
                os.chown(name, uid, uid)
    config = Config()
    config.SandboxedKernelManager.hidden_extra = [str(scratch)]
    config.SandboxedKernelManager.ipc_root = str(ipc)
    config.SandboxedKernelManager.log_path = str(scratch / "kernel.log")
    if start == "warm":
        config.SandboxedKernelManager.warm_imports = imports
        config.SandboxedKernelManager.warm_import_env = env if import_env is None else import_env
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # Explore is not graded
    nb = nbformat.read(work / path.name, as_version=4)
    # its hidden blocks stop with "run only when the course's grader grades this notebook",
    # alike in both kernels; every other cell runs, the Keras ones included
    client = NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, config=config,
                            timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    managers = []
    client.on_notebook_start = lambda **_: managers.append(client.km)
    try:
        client.execute()
    finally:
        zygote.stop_template()
        shutil.rmtree(scratch, ignore_errors=True)
    assert [m.warm for m in managers] == [start == "warm"], [m.cold_reason for m in managers]
    return nb


def test_a_warm_kernel_gives_the_solution_notebooks_outputs_cell_for_cell(tmp_path,
                                                                          monkeypatch):
    solution = REPOSITORY / "solutions" / qc_assignment() / f"{qc_assignment()}.ipynb"
    cold = _outputs(_execute(solution, "cold", tmp_path, monkeypatch))
    warm = _outputs(_execute(solution, "warm", tmp_path, monkeypatch))
    assert len(cold) == len(warm) > 20
    differing = [i for i, (a, b) in enumerate(zip(cold, warm, strict=True)) if a != b]
    assert differing == []


def test_a_template_that_imported_otherwise_is_noticed(tmp_path, monkeypatch):
    """The comparison above can fail: TensorFlow imported without the notebook's settings
    (oneDNN on) computes the Keras cells differently."""
    solution = REPOSITORY / "solutions" / qc_assignment() / f"{qc_assignment()}.ipynb"
    cold = _outputs(_execute(solution, "cold", tmp_path, monkeypatch))
    warm = _outputs(_execute(solution, "warm", tmp_path, monkeypatch,
                             import_env={"TF_ENABLE_ONEDNN_OPTS": "1"}))
    assert cold != warm


def qc_assignment():
    from coursetools import example_class

    return example_class.ASSIGNMENT


# --- grades ---------------------------------------------------------------------------------


def _catalogue_course(root, warm):
    """The real assignment, with catalogue entries as submissions."""
    assignment = harness.NOTEBOOK.parent.name
    shutil.copy2(REPOSITORY / "nbgrader_config.py", root / "nbgrader_config.py")
    if not warm:
        with open(root / "nbgrader_config.py", "a") as config:
            config.write("\nc.WarmKernels.enabled = False\n")
    shutil.copytree(harness.NOTEBOOK.parent, root / "source" / assignment)
    shutil.copytree(REPOSITORY / "judges", root / "judges")
    (root / "grading_secret.key").write_text("6b" * 32)  # both courses draw the same cases
    os.chmod(root / "grading_secret.key", 0o600)
    Course(root).nbgrader("generate_assignment", assignment)
    source_nb = plan.read_notebook(root / "source" / assignment / harness.NOTEBOOK.name)
    release_path = root / "release" / assignment / harness.NOTEBOOK.name
    release_nb = nbformat.read(release_path, as_version=4)
    for name in ENTRIES:
        folder = root / "submitted" / name / assignment
        folder.mkdir(parents=True)
        nbformat.write(plan.build_submission(release_nb, source_nb, CATALOGUE.BY_NAME[name]),
                       folder / release_path.name)
    return Course(root), assignment


def _grades(results):
    return {s["student"]: (s["status"], s["score"],
                           tuple((t["grade_id"], t["points"]) for t in s["tests"]))
            for s in results["submissions"]}


@pytest.mark.timeout(1800)
def test_catalogue_entries_grade_alike_warm_and_cold(tmp_path):
    graded = {}
    for start in ("cold", "warm"):
        (tmp_path / start).mkdir()
        course, assignment = _catalogue_course(tmp_path / start, start == "warm")
        results = autograde(course, assignment, jobs=2, progress=False, report=False)
        assert results["kernels"][start] == len(ENTRIES), results["kernels"]
        graded[start] = _grades(results)
    assert graded["warm"] == graded["cold"]
    scores = {name: graded["warm"][name][1] for name in ENTRIES}
    assert len(set(scores.values())) > 1, scores  # right and wrong ones: not all alike


# --- faults ---------------------------------------------------------------------------------


def _python_with_marker(pid):
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.path.basename(argv[0]).startswith(b"python") and zygote.MARKER.encode() in argv


def _templates():
    """Host pids of the running kernel templates: not their forks, not bubblewrap."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not _python_with_marker(entry):
            continue
        try:
            parent = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if not _python_with_marker(parent):
            found.append(int(entry))
    return found


class KillTemplateWhileBusy(threading.Thread):
    """Kills the first template seen with a kernel running under it for a second, once."""

    def __init__(self):
        super().__init__(daemon=True)
        self.killed, self._stop = [], threading.Event()

    def run(self):
        from coursetools.sandbox.watchdog import descendants

        busy_since = {}
        while not self._stop.is_set() and not self.killed:
            for pid in _templates():
                kernels = tuple(descendants(pid))  # its first child and the kernel under it
                if len(kernels) < 2:
                    continue
                if busy_since.setdefault((pid, kernels), time.monotonic()) < \
                        time.monotonic() - 1:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                    break
            time.sleep(0.02)

    def stop(self):
        self._stop.set()


def _standin(tmp_path, name, extra_config=""):
    course = qc.make_course(tmp_path / name)
    if extra_config:
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(extra_config)
    slow = qc.insert_after(qc.submission(course), "sigmoid", "import time\ntime.sleep(3)")
    qc.submit(course, "right", slow)  # a kernel busy long enough to be killed mid-notebook
    qc.submit(course, "wrong", qc.submission(course, sigmoid=qc.WRONG_SIGMOID))
    qc.submit(course, "hidden", qc.submission(course, sigmoid=qc.WRONG_HIDDEN))
    return course


def test_a_template_killed_while_its_kernel_runs_is_replaced_and_the_grades_stand(tmp_path):
    expected = _grades(autograde(_standin(tmp_path, "calm"), qc.ASSIGNMENT, jobs=1,
                                 progress=False, report=False))
    course = _standin(tmp_path, "killed")
    killer = KillTemplateWhileBusy()
    killer.start()
    try:
        results = autograde(course, qc.ASSIGNMENT, jobs=1, progress=False, report=False)
    finally:
        killer.stop()
    assert killer.killed, "no template was seen running a kernel"
    assert _grades(results) == expected
    assert results["kernels"] == {"warm": 3, "cold": 0, "cold_reason": ""}
    logs = course / "reports" / qc.ASSIGNMENT / "logs"
    assert any("graded again" in (logs / f"{s}.log").read_text() for s in expected)


def test_a_template_that_cannot_import_means_cold_kernels_said_once(tmp_path):
    expected = _grades(autograde(_standin(tmp_path, "calm"), qc.ASSIGNMENT, jobs=2,
                                 progress=False, report=False))
    course = _standin(tmp_path, "broken",
                      "\nc.WarmKernels.imports = ['numpy', 'nnag_no_such_module']\n")
    results = autograde(course, qc.ASSIGNMENT, jobs=2, progress=False)
    assert _grades(results) == expected
    kernels = results["kernels"]
    assert (kernels["warm"], kernels["cold"]) == (0, 3)
    assert "nnag_no_such_module" in kernels["cold_reason"]
    report = Path(results["report"]).read_text()
    assert report.count("warm start unavailable") == 1
    assert "nnag_no_such_module" in report


def test_a_hung_or_dead_template_is_replaced(monkeypatch):
    """At the template's level: one stopped (SIGSTOP) does not answer and is replaced; one
    killed is started again; each kernel it forks answers."""
    monkeypatch.setattr(zygote, "FORK_TIMEOUT", 2)
    base = Path(tempfile.mkdtemp(prefix="nnag-zygote-"))
    os.chmod(base, 0o711)
    work_root, ipc_root = base / "work", base / "ipc"
    for folder in (work_root, ipc_root):
        folder.mkdir(mode=0o711)
    uid = sandbox.sandbox_uid(0)
    template = zygote.Zygote(imports=["numpy"], import_env={}, limits=GradingLimits(),
                             work_root=work_root, ipc_root=ipc_root, uid=uid, threads=1,
                             hidden_extra=[str(base)], log_path=str(base / "template.log"))
    try:
        assert _answers(template, base, uid) == "numpy 2"  # pid 2, under its init, as cold
        os.kill(_templates_of(template), signal.SIGSTOP)
        assert _answers(template, base, uid) == "numpy 2"
        assert template.starts == 2
        os.kill(_templates_of(template), signal.SIGKILL)
        time.sleep(0.2)
        assert _answers(template, base, uid) == "numpy 2"
        assert template.starts == 3
    finally:
        template.stop()
        shutil.rmtree(base, ignore_errors=True)


def _templates_of(template):
    from coursetools.sandbox.watchdog import descendants

    return next(pid for pid in descendants(template.process.pid) if pid in _templates())


def _answers(template, base, uid):
    """Fork a kernel, ask it which course module it already has, end it."""
    work = Path(tempfile.mkdtemp(dir=base / "work"))
    ipc = Path(tempfile.mkdtemp(dir=base / "ipc"))
    os.chmod(ipc, 0o1777)
    if uid is not None:
        os.chown(work, uid, uid)
    connection = ipc / "kernel.json"
    write_connection_file(str(connection), transport="ipc", ip=str(ipc / "s"), key=b"k")
    os.chmod(connection, 0o644)
    kernel = template.fork(work=work, ipc=ipc, connection_file=connection,
                           log_path=str(base / "kernel.log"))

    def ask():  # a blocking client: an earlier test may leave an asyncio loop running
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=30)
            reply = client.execute_interactive(
                "import os, sys; print('numpy' if 'numpy' in sys.modules else 'cold', "
                "os.getpid())",
                output_hook=lambda msg: said.append(msg["content"].get("text", "")),
                timeout=30)
            return reply["content"]["status"]
        finally:
            client.stop_channels()

    said = []
    try:
        assert ask() == "ok"
    finally:
        kernel.kill()
        kernel.wait(5)
        kernel.close()
    return "".join(said).strip()


BROKEN_TEMPLATES = {
    # how a warm kernel fails before the notebook begins: (the template's code, becoming)
    "could not build its sandbox": ('    socket.sethostname("sandbox")\n',
                                    '    socket.sethostname("sandbox")\n    raise OSError()\n'),
    "died before it answered": ('    from ipykernel.kernelapp import IPKernelApp\n',
                                '    os._exit(1)\n'),
}


@pytest.mark.parametrize("failure", sorted(BROKEN_TEMPLATES))
def test_a_warm_kernel_that_fails_before_the_notebook_is_noticed_and_the_next_starts_cold(
        failure, monkeypatch):
    """Its failure is the template's, not the notebook's (no cell has run): the manager says
    so (the worker then grades the submission again) and the slot's later kernels start
    cold."""
    text, broken = BROKEN_TEMPLATES[failure]
    assert text in zygote.SOURCE
    monkeypatch.setattr(zygote, "SOURCE", zygote.SOURCE.replace(text, broken))
    scratch = Path(tempfile.mkdtemp(prefix="nnag-failing-"))
    os.chmod(scratch, 0o711)
    try:
        managers = [_start_one(scratch, attempt) for attempt in (1, 2)]
    finally:
        zygote.stop_template()
        shutil.rmtree(scratch, ignore_errors=True)
    (first, first_lost), (second, _) = managers
    assert first.warm and first_lost
    assert not second.warm and failure in second.cold_reason


def _start_one(scratch, attempt):
    """Start one kernel of a slot rooted in ``scratch`` (warm asked), run a cell if it
    starts; its manager, and whether its template was to blame, asked at once as
    SandboxedExecute does."""
    work, ipc = scratch / "work" / f"w{attempt}", scratch / "ipc"
    work.mkdir(parents=True)
    ipc.mkdir(exist_ok=True)
    for folder in (work.parent, ipc):
        os.chmod(folder, 0o711)
    uid = sandbox.sandbox_uid(0)
    if uid is not None:
        os.chown(work, uid, uid)
    config = Config()
    config.SandboxedKernelManager.hidden_extra = [str(scratch)]
    config.SandboxedKernelManager.ipc_root = str(ipc)
    config.SandboxedKernelManager.log_path = str(scratch / "kernel.log")
    config.SandboxedKernelManager.warm_imports = ["numpy"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    client = NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, config=config,
                            timeout=30, startup_timeout=20, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    km = client.km = client.create_kernel_manager()
    try:
        client.execute()
    except RuntimeError:
        pass  # the kernel that could not build its sandbox died before it answered
    return km, km.template_lost


def test_what_a_template_imports_is_the_locked_cells_unless_configured():
    nb = qc.source_notebook()
    # the set-up cell's, then the hidden blocks' of the (locked) test cells
    assert locked_imports(nb) == ["numpy", "nnscratch.testing", "nnscratch.testing:check_close",
                                  "nnscratch.hidden:run_hidden_cases"]
    # `from nnscratch import ...`, as the course's set-up cell has it: the names too, so
    # that the template loads what the lazy package loads on first use
    setup = nbformat.v4.new_code_cell(
        "from nnscratch import make_moons, plot_loss\nfrom os import *",
        metadata={"nbgrader": {"locked": True}})
    assert locked_imports(nbformat.v4.new_notebook(cells=[setup])) == [
        "nnscratch:make_moons,plot_loss", "os:*"]
    imports, env = _course_warm_settings()
    assert "tensorflow" in imports and env["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_the_watchdog_catches_a_kernels_memory_growth_between_its_pss_readings(monkeypatch):
    """PSS is read seldom (each reading walks the kernel's memory map), but a kernel that
    grows is read again at once: a quick growth soon after the start is in its peak."""
    import subprocess
    import sys

    from coursetools.sandbox import watchdog as watching

    readings = []
    monkeypatch.setattr(watching, "tree_pss",
                        lambda pid, read=watching.tree_pss: readings.append(pid) or read(pid))
    grows = "import time; time.sleep(0.5); b = bytearray(300 * 2**20); time.sleep(0.7)"
    child = subprocess.Popen([sys.executable, "-c", grows])
    watchdog = watching.Watchdog(child.pid, lambda *a, **k: None, 2**40, 60, interval=0.05,
                                 alive=lambda: child.poll() is None, pss=True)
    watchdog.start()
    child.wait()
    watchdog.join(5)
    assert child.returncode == 0 and 1.2 < watching.PSS_EVERY  # it ends before a timed one
    assert watchdog.peak_pss > 250 * 2**20, watchdog.peak_pss
    # about 24 looks at the resident size: PSS at the start, at the growth, and at most a
    # few more while the bytes become resident
    assert 2 <= len(readings) <= 6, len(readings)
