"""The grading kernel's sandbox (coursetools.sandbox), probed from inside a real kernel.

One kernel runs a notebook of probes (what it can write, see, reach, which privileges
and limits it has, which ``nnscratch`` it imports); each test checks one aspect of the
answers. The probes run twice: in a kernel started cold, and in one forked warm from a
kernel template (``coursetools.sandbox.zygote``), which builds part of its sandbox itself.
The last test weakens the sandbox in four ways (network shared, course visible, kernel left
as root, no rlimits), in both, and shows that the matching check then fails, so these tests
can fail.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
import quick_course
from nbclient import NotebookClient
from traitlets.config import Config

from coursetools.course import REPOSITORY as COURSE_ROOT
from coursetools.sandbox import command as sandbox
from coursetools.sandbox import zygote
from coursetools.sandbox.kernel import SandboxedKernelManager

pytestmark = pytest.mark.slow

TOKEN = "nnag-sandbox-canary-5f3a"
PROBES = {
    "identity": """
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
userns = subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode
try:
    open("/etc/shadow").read()
    shadow = True
except OSError:
    shadow = False
out = {"uid": os.getuid(), "cap_eff": status["CapEff"].strip(),
       "cap_prm": status["CapPrm"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
       "nested_userns": userns == 0, "read_shadow": shadow}
""",
    "write": """
out = {}
for name, path in TARGETS.items():
    try:
        if os.path.exists(path):
            with open(path, "ab"):
                pass
        else:
            with open(path, "w") as fh:
                fh.write("pwned")
        out[name] = True
    except OSError:
        out[name] = False
""",
    "visible": """
out = {name: os.path.exists(path) for name, path in SECRETS.items()}
out["course_listing"] = sorted(os.listdir(COURSE)) if os.path.isdir(COURSE) else None
""",
    "network": """
out = {}
for host in ("127.0.0.1", HOST):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, PORT))
        out[host] = "connected"
    except OSError as exc:
        out[host] = type(exc).__name__
    finally:
        s.close()
try:
    socket.getaddrinfo("pypi.org", 443)
    out["dns"] = True
except OSError:
    out["dns"] = False
out["interfaces"] = sorted(name for _, name in socket.if_nameindex())
""",
    "limits": """
limits = {line[:26].strip(): line[26:].split()[0] for line in
          open("/proc/self/limits").read().splitlines()[1:]}
try:
    mmap.mmap(-1, 3 * 1024**3).close()  # address space only: nothing resident
    allocated = True
except OSError:
    allocated = False
out = {"address_space": limits["Max address space"], "processes": limits["Max processes"],
       "allocated_3g": allocated}
""",
    "imports": """
import nnscratch.testing
out = {"nnscratch": nnscratch.testing.__file__, "cwd_on_path": os.getcwd() in sys.path
       or "" in sys.path, "cwd": os.getcwd(), "pid": os.getpid(),
       "processes": len([p for p in os.listdir("/proc") if p.isdigit()])}
""",
}


def _notebook(namespace):
    head = "import json, mmap, os, socket, subprocess, sys\n" + "".join(
        f"{key} = {value!r}\n" for key, value in namespace.items())
    cells = [nbformat.v4.new_code_cell(head)]
    for name, code in PROBES.items():
        cells.append(nbformat.v4.new_code_cell(
            code + f"\nprint(json.dumps({{{name!r}: out}}))"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


class RecordingKernelManager(SandboxedKernelManager):
    """Remembers how its kernel started, for the test to check it was the start asked for."""

    started = []

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        RecordingKernelManager.started.append("warm" if self.warm else "cold")


def run_probes(course, listener_port, as_sandbox_user=True, start="cold"):
    """Run the probe notebook in a sandboxed kernel started ``start`` ("cold" or "warm");
    {probe: answers}."""
    scratch = Path(tempfile.mkdtemp(prefix="nnag-test-"))
    os.chmod(scratch, 0o711)
    try:
        work, ipc = scratch / "work", scratch / "ipc"
        work.mkdir(mode=0o700)
        ipc.mkdir(mode=0o711)
        (scratch / "k1" / "work").mkdir(parents=True)  # what another job would have
        uid = sandbox.UID_BASE if sandbox.is_root() and as_sandbox_user else None
        (work / "nnscratch.py").write_text("raise SystemExit('the shadowing copy was used')\n")
        if uid is not None:
            for path in (work, work / "nnscratch.py"):
                os.chown(path, uid, uid)
        other = course / "submitted" / "other" / quick_course.ASSIGNMENT
        namespace = {
            "COURSE": str(course), "HOST": quick_course.host_address(), "PORT": listener_port,
            "TARGETS": {
                "gradebook": str(course / "gradebook.db"),
                "source": str(course / "source" / quick_course.ASSIGNMENT / "standin.ipynb"),
                "course_new": str(course / TOKEN),
                "other_submission": str(other / "standin.ipynb"),
                "root_home": f"/root/{TOKEN}",
                "repository": str(COURSE_ROOT / TOKEN),
                "venv": str(Path(sys.prefix) / TOKEN),
                "filesystem_root": f"/{TOKEN}",
                "tmp": f"/tmp/{TOKEN}",
                "cwd": str(work / TOKEN),
            },
            "SECRETS": {
                "gradebook": str(course / "gradebook.db"),
                "source": str(course / "source"),
                "submitted": str(course / "submitted"),
                "repository_source": str(COURSE_ROOT / "source"),
                "other_job": str(scratch / "k1" / "work"),
                "root_home": "/root/.bashrc",
            },
        }
        config = Config()
        config.SandboxedKernelManager.hidden_extra = [str(course), str(scratch)]
        config.SandboxedKernelManager.ipc_root = str(ipc)
        config.SandboxedKernelManager.log_path = str(scratch / "kernel.log")
        if start == "warm":
            config.SandboxedKernelManager.warm_imports = ["numpy"]
        nb = _notebook(namespace)
        RecordingKernelManager.started.clear()
        client = NotebookClient(nb, kernel_manager_class=RecordingKernelManager,
                                config=config, timeout=60, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        try:
            client.execute()
        except Exception:
            print((scratch / "kernel.log").read_text(errors="replace")[-3000:])
            raise
        answers, errors = {}, []
        for cell in nb.cells:
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stdout":
                    answers.update(json.loads(output.text))
                elif output.output_type == "error":
                    errors.append(f"{output.ename}: {output.evalue}")
        assert not errors, errors
        assert RecordingKernelManager.started == [start], (scratch / "template.log").read_text(
            errors="replace")[-3000:] if start == "warm" else RecordingKernelManager.started
        answers["host_tmp_canary"] = os.path.exists(f"/tmp/{TOKEN}")
        answers["work"] = str(work)
        return answers
    finally:
        zygote.stop_template()
        shutil.rmtree(scratch, ignore_errors=True)


def _other_submission(course):
    other = course / "submitted" / "other" / quick_course.ASSIGNMENT
    other.mkdir(parents=True, exist_ok=True)
    (other / "standin.ipynb").write_text("{}")


# --- the checks, shared with the weakened-sandbox test ---------------------------------------


def problems_writing(a):
    allowed = {"cwd", "tmp"}
    bad = [name for name, ok in a["write"].items() if ok and name not in allowed]
    if not a["write"]["cwd"]:
        bad.append("its own working folder is not writable")
    if a["host_tmp_canary"]:
        bad.append("its /tmp is the host's")
    return bad


def problems_seeing(a):
    bad = [name for name, seen in a["visible"].items()
           if seen and name != "course_listing"]
    if a["visible"]["course_listing"]:
        bad.append(f"course folder lists {a['visible']['course_listing']}")
    return bad


def problems_network(a, listener):
    bad = [f"{host}: {what}" for host, what in a["network"].items()
           if what == "connected"]
    if a["network"]["dns"]:
        bad.append("DNS resolves")
    if a["network"]["interfaces"] != ["lo"]:
        bad.append(f"interfaces {a['network']['interfaces']}")
    if listener.connections:
        bad.append(f"listener got {listener.connections} connection(s)")
    return bad


def problems_privileges(a):
    ident = a["identity"]
    bad = []
    if ident["cap_eff"] != "0000000000000000" or ident["cap_prm"] != "0000000000000000":
        bad.append(f"capabilities {ident['cap_eff']}/{ident['cap_prm']}")
    if ident["no_new_privs"] != "1":
        bad.append("new privileges allowed")
    if ident["nested_userns"]:
        bad.append("can create user namespaces")
    if ident["read_shadow"]:
        bad.append("reads /etc/shadow")
    if sandbox.is_root() and ident["uid"] == 0:
        bad.append("runs as uid 0")
    return bad


def problems_limits(a):
    bad = []
    if a["limits"]["address_space"] != str(2 * 1024**3):
        bad.append(f"address space {a['limits']['address_space']}")
    if a["limits"]["allocated_3g"]:
        bad.append("allocated 3 GiB")
    if a["limits"]["processes"] == "unlimited":
        bad.append("no process limit")
    return bad


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["cold", "warm"])
def answers(standin_template, tcp_listener, tmp_path_factory, request):
    reason = sandbox.probe(sandbox.UID_BASE if sandbox.is_root() else None)
    assert reason is None, reason  # CI installs bubblewrap: a missing sandbox is a failure
    course = quick_course.copy_course(standin_template,
                                        tmp_path_factory.mktemp("sandbox") / "course")
    _other_submission(course)
    before = quick_course.snapshot(course)
    found = run_probes(course, tcp_listener.port, start=request.param)
    found["course_changed"] = quick_course.snapshot(course) != before
    return found


def test_kernel_writes_only_its_own_folder(answers):
    assert problems_writing(answers) == []
    assert not answers["course_changed"]


def test_kernel_cannot_see_the_course_the_repository_or_other_submissions(answers):
    assert problems_seeing(answers) == []


def test_kernel_has_no_network(answers, tcp_listener):
    assert problems_network(answers, tcp_listener) == []


def test_kernel_has_no_privileges(answers):
    assert problems_privileges(answers) == []


def test_kernel_hits_the_memory_limit(answers):
    assert problems_limits(answers) == []


def test_kernel_imports_the_course_package_not_a_shadowing_copy(answers):
    imports = answers["imports"]
    assert imports["nnscratch"].startswith(str(COURSE_ROOT / "nnscratch")) or \
        "site-packages" in imports["nnscratch"]
    assert not imports["cwd_on_path"]
    assert imports["cwd"] == answers["work"]
    assert imports["processes"] <= 3  # its own pid namespace: bwrap's init, the kernel


# A kernel forked warm builds these parts of its sandbox itself: the same weakenings, there
# (the text of the template's code, and what it becomes)
WARM_WEAKENINGS = {
    "network shared": ("CLONE_NEWPID | CLONE_NEWNET |", "CLONE_NEWPID |"),
    "no rlimits": ("resource.setrlimit(getattr(resource, name), (value, value))", "pass"),
}

WEAKENINGS = {
    # name: (how to weaken the command line, the check that must notice)
    "network shared": (lambda args: [*args[:2], "--share-net", *args[2:]], "network"),
    "course and repository visible": (None, "seeing"),
    "kernel left as root": (None, "privileges"),
    "no rlimits": (None, "limits"),
}


@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("weakening", sorted(WEAKENINGS))
def test_checks_fail_on_a_weakened_sandbox(weakening, start, standin_template, tmp_path,
                                           monkeypatch, request):
    if weakening == "kernel left as root" and not sandbox.is_root():
        pytest.skip("the grader is not root: the kernel keeps the grader's uid anyway")
    change, check = WEAKENINGS[weakening]
    if start == "warm" and weakening in WARM_WEAKENINGS:
        text, weakened = WARM_WEAKENINGS[weakening]
        assert text in zygote.SOURCE
        monkeypatch.setattr(zygote, "SOURCE", zygote.SOURCE.replace(text, weakened))
    if weakening == "kernel left as root":
        monkeypatch.setattr(sandbox, "drop_privileges_args", lambda uid: [])
        monkeypatch.setattr(sandbox, "stage_args", lambda pairs: [])
        monkeypatch.setattr(SandboxedKernelManager, "uid", property(lambda self: None))
    elif weakening == "no rlimits":
        monkeypatch.setattr(sandbox, "rlimit_args", lambda limits: [])
    elif weakening == "course and repository visible":
        # only the system's homes and sockets stay hidden, and the course and the repository
        # are mounted in: wherever they live (under /tmp, which the sandbox replaces with its
        # own, or under /root), the kernel sees them. The course is where the sandbox user can
        # reach it (pytest's tmp_path is root's only), as a course readable by others would be.
        hidden, bwrap = sandbox.hidden_paths, sandbox.bwrap_args
        tmp_path = Path(tempfile.mkdtemp(prefix="nnag-weakened-"))
        os.chmod(tmp_path, 0o755)
        request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
        shown = [str(tmp_path / "course")]
        if not sandbox.is_root() or sandbox._traversable(str(COURSE_ROOT)):
            shown.append(str(COURSE_ROOT))  # (the sandbox user cannot bind what it cannot reach)

        def show(**kw):
            args = bwrap(**kw)
            at = args.index("--chdir")
            return [*args[:at], *[a for p in shown for a in ("--ro-bind-try", p, p)],
                    *args[at:]]

        monkeypatch.setattr(sandbox, "hidden_paths", lambda extra=(): [
            p for p in hidden() if p in sandbox.ALWAYS_HIDDEN])
        monkeypatch.setattr(sandbox, "bwrap_args", show)
        if start == "warm":  # a warm kernel mounts its own /tmp: it brings them back too
            paths = sandbox.python_paths
            monkeypatch.setattr(sandbox, "python_paths", lambda: sorted({*paths(), *shown}))
    else:
        original = sandbox.bwrap_args
        monkeypatch.setattr(sandbox, "bwrap_args", lambda **kw: change(original(**kw)))
    course = quick_course.copy_course(standin_template, tmp_path / "course")
    _other_submission(course)
    listener = quick_course.Listener()
    try:
        found = run_probes(course, listener.port,
                           as_sandbox_user=weakening != "kernel left as root", start=start)
        problems = {
            "network": lambda: problems_network(found, listener),
            "seeing": lambda: problems_seeing(found),
            "privileges": lambda: problems_privileges(found),
            "limits": lambda: problems_limits(found),
        }[check]()
    finally:
        listener.close()
    assert problems, f"a sandbox with {weakening} passed the {check} check"


def test_each_kernel_gets_its_share_of_the_cores(monkeypatch):
    from coursetools.autograde.pool import kernel_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert [kernel_threads(jobs, 10) for jobs in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    assert kernel_threads(4, 1) == 4  # one submission: one kernel, every core
    env = sandbox.sandbox_env({"OMP_NUM_THREADS": "64"}, 2)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        assert env[key] == "2", key


def test_grading_refuses_when_the_sandbox_cannot_run(standin_template, tmp_path, monkeypatch):
    from coursetools.autograde import autograde
    from coursetools.course import CourseError

    which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: None if name == "bwrap" else which(name, *a, **k))
    sandbox.probe.cache_clear()
    try:
        reason = sandbox.probe(sandbox.UID_BASE if sandbox.is_root() else None)
        assert reason and "bwrap" in reason and "\n" not in reason
        course = quick_course.copy_course(standin_template, tmp_path / "course")
        quick_course.submit(course, "someone", quick_course.submission(course))
        with pytest.raises(CourseError, match="--unsandboxed"):
            autograde(course, quick_course.ASSIGNMENT, jobs=1, progress=False)
        assert not (course / "autograded").exists()
    finally:
        sandbox.probe.cache_clear()
