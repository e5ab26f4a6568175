"""The grader's side of a kernel template (``zygote_process``, which runs in the sandbox).

A job slot starts one template, which imports the course's packages once, and asks it for
each kernel: ``Zygote.fork()`` returns a :class:`ForkedKernel`, which jupyter_client's
provisioner handles like the ``Popen`` of a kernel started cold. A template that died, hung
or does not answer is replaced once per kernel; when none can start, ``fork()`` raises
:class:`WarmStartUnavailable` and the caller starts the kernel cold.
"""

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from coursetools.sandbox import command
from coursetools.sandbox.command import (
    SYSTEM_PATH,
    real_path,
    sandbox_command,
    sandbox_env,
)
from coursetools.sandbox.limits import NAMES
from coursetools.sandbox.watchdog import children, descendants

SOURCE = Path(__file__).with_name("zygote_process.py").read_text()
MARKER = "nnscratch-kernel-template"  # in a template's command line (and its forks')
FORK_TIMEOUT = 30  # seconds a template may take to answer a fork request
PRIVATE = ("/tmp", "/dev/shm")  # each kernel mounts its own over the template's


def _under_private(paths):
    """Those of ``paths`` under a folder each kernel mounts anew (outermost first)."""
    return [p for p in paths if any(p == top or p.startswith(top + "/") for top in PRIVATE)]


class WarmStartUnavailable(Exception):
    """No template can fork kernels here (the message says why, in one line)."""


def _namespace_pids(pid):
    """``pid``'s numbers in each pid namespace, outermost first (``NSpid`` of /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return [int(p) for p in line.split()[1:]]
    except OSError:
        pass
    return []


class ForkedKernel:
    """A kernel forked by a template, with the parts of ``Popen`` jupyter_client uses."""

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid, inner_pid):
        self.zygote, self.pid, self.inner_pid = zygote, pid or 0, inner_pid
        self.generation = zygote.starts  # which of its slot's templates forked it
        self.returncode, self._pidfd, self.kernel_pid = None, None, self.pid
        if pid:
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(pid)
        if not pid or _namespace_pids(pid)[-1:] != [inner_pid]:
            self.close_pidfd()  # it has ended already (and its number may be reused)
            self.returncode = zygote.exit_status(inner_pid)
            return
        # the kernel itself, under the first child and the namespace's init (which only wait
        # for it, copies of the template): the watchdog measures its processes, not theirs
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.poll() is None:
            below = [p for init in children(pid) for p in children(init)]
            if below:
                self.kernel_pid = below[0]
                break
            time.sleep(0.001)

    def poll(self):
        if self.returncode is None:
            if self._pidfd is None or select.select([self._pidfd], [], [], 0)[0]:
                self.returncode = self.zygote.exit_status(self.inner_pid)
        return self.returncode

    def wait(self, timeout=None):
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired("kernel", timeout)
        return self.returncode

    def send_signal(self, signum):
        """To the first child, through its pidfd (never a pid number that may have been
        reused): its death kills the kernel's init (parent-death signal), whose end ends
        every process of the kernel's namespace."""
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    @property
    def sandbox_failed(self):
        """It ended before the notebook began, unable to build its sandbox (see its log)."""
        from coursetools.sandbox.zygote_process import SANDBOX_FAILED

        return self.poll() == SANDBOX_FAILED

    def close_pidfd(self):
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = None

    def close(self):
        self.close_pidfd()
        self.zygote.forget(self.inner_pid)


class Zygote:
    """One job slot's kernel template (see the module docstring)."""

    def __init__(self, *, imports, import_env, limits, work_root, ipc_root, uid, threads,
                 hidden_extra=(), log_path=None, env=None):
        self.settings = {"imports": list(imports), "import_env": dict(import_env),
                         "limits": {n: getattr(limits, n) for n in NAMES},
                         "work_root": str(work_root), "ipc_root": str(ipc_root),
                         # looked up when called, as sandbox_command does (tests weaken them)
                         "reveal": _under_private(command.python_paths()),
                         "hidden": _under_private(command.hidden_paths(hidden_extra))}
        self.limits, self.uid, self.threads = limits, uid, threads
        self.hidden_extra, self.log_path = list(hidden_extra), log_path
        self.env = dict(os.environ if env is None else env)
        self.process, self.sock = None, None
        self.broken = None  # why no template can start here (then every kernel starts cold)
        self.starts, self.start_seconds = 0, 0.0  # templates started, the last one's time
        self.lost_starts = 0  # of them, killed or hung before they were ready
        self._buffer, self._exited = b"", {}
        # the grader's thread and a kernel's watchdog thread both read the template's answers
        self._lock = threading.RLock()

    # --- the template process ---------------------------------------------------------------

    def start(self):
        """Start the template and wait until it has imported everything (or failed)."""
        self.stop()
        self.starts += 1
        began = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        settings = self.settings
        os.makedirs(settings["work_root"], exist_ok=True)
        os.makedirs(settings["ipc_root"], exist_ok=True)
        stage = os.path.join(settings["ipc_root"], ".zygote-stage")
        argv = [sys.executable, "-c", SOURCE, MARKER, str(theirs.fileno())]
        command = sandbox_command(
            argv, work=settings["work_root"], ipc=settings["ipc_root"], stage_dir=stage,
            uid=self.uid, limits=self.limits, hidden_extra=self.hidden_extra, env=self.env,
            threads=self.threads, template=True)
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.process = subprocess.Popen(
                command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
                start_new_session=True)
        finally:
            theirs.close()
            log.close()
        self.sock, self._buffer, self._exited = ours, b"", {}
        ours.sendall(json.dumps(settings).encode() + b"\n")
        answer = self._receive(lambda m: "ready" in m or "failed" in m,
                               timeout=self.limits.startup_timeout * 4)
        if answer is None or "failed" in answer:
            self.stop()
            if answer is not None:  # an import failed: it would fail again
                self.broken = answer["failed"]
            elif self.lost_starts:  # died or hung while importing, twice
                self.broken = "the kernel template did not finish its imports, twice"
            self.lost_starts += 1
            return False
        self.start_seconds = time.monotonic() - began
        return True

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()
            self.process = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # --- kernels ----------------------------------------------------------------------------

    def ensure_started(self):
        """Start the template now unless it runs (or cannot): kernels then fork at once."""
        with self._lock:
            self._start_unless_running()

    def _start_unless_running(self):
        for _ in (1, 2):  # a template killed while it imports is started once more
            if self.broken is not None or self.alive:
                return
            self.start()

    def fork(self, *, work, ipc, connection_file, log_path):
        """A kernel for ``connection_file``, running in ``work``; its output to ``log_path``.
        One new template is tried when this one is gone or does not answer."""
        with self._lock:
            return self._fork_or_replace(work, ipc, connection_file, log_path)

    def _fork_or_replace(self, work, ipc, connection_file, log_path):
        request = {"fork": {"work": str(work), "ipc": str(ipc),
                            "connection_file": str(connection_file)}}
        for _ in (1, 2):
            self._start_unless_running()  # the first, or one that died or was killed since
            if self.broken is not None:
                raise WarmStartUnavailable(self.broken)
            kernel = self._fork(request, log_path)
            if kernel is not None:
                return kernel
            self.stop()  # it hangs or died while asked: a new one is asked once
        self.broken = "the kernel template stopped answering twice"
        raise WarmStartUnavailable(self.broken)

    def _fork(self, request, log_path):
        with open(log_path or os.devnull, "ab") as log:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode() + b"\n"],
                                [log.fileno()])
            except OSError:
                return None
        answer = self._receive(lambda m: "forked" in m or "refused" in m, timeout=FORK_TIMEOUT)
        if answer is None or "refused" in answer:
            return None
        inner = answer["forked"]
        outer = self._outer_pid(inner)
        return ForkedKernel(self, outer, inner)  # outer None: it has ended already

    def _outer_pid(self, inner):
        """The host's number of the template's child ``inner`` (the template knows only its
        own namespace's)."""
        for pid in descendants(self.process.pid):
            numbers = _namespace_pids(pid)
            if len(numbers) == 2 and numbers[-1] == inner:
                return pid
        return None

    def exit_status(self, inner, wait=1.0):
        """How the kernel ``inner`` ended, as the template reported it (-9 when it did not:
        the template itself is gone)."""
        with self._lock:
            self._receive(lambda m: False, timeout=0)
            if inner not in self._exited and self.alive:
                self._receive(lambda m: m.get("exited") == inner, timeout=wait)
            return self._exited.pop(inner, -signal.SIGKILL)

    def forget(self, inner):
        """Drop what is known of the ended kernel ``inner`` (its number will be reused)."""
        with self._lock:
            self._exited.pop(inner, None)

    def _receive(self, wanted, timeout):
        """Read messages until one is ``wanted`` (returned) or ``timeout`` seconds pass
        (None). Exit reports are kept on the way."""
        deadline = time.monotonic() + timeout
        while self.sock is not None:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if "exited" in message:
                    status = message["status"]
                    self._exited[message["exited"]] = -(status - 128) if status > 128 \
                        else status
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            try:
                if not select.select([self.sock], [], [], max(0.0, left))[0]:
                    return None
                data = self.sock.recv(1 << 16)
            except OSError:  # the template is gone: the caller replaces it
                return None
            if not data:
                return None
            self._buffer += data
        return None


_current = {}  # this process's one template: {"key": its settings, "zygote": it}


def template_for(key, make):
    """This process's template for settings ``key`` (``make()`` builds it the first time);
    a template of other settings is stopped first (a worker grades one assignment at a
    time)."""
    if _current.get("key") != key:
        if _current.get("zygote") is not None:
            with _current["zygote"]._lock:  # not while a thread of ours starts it
                _current["zygote"].stop()
        _current.update(key=key, zygote=make())
    return _current["zygote"]


def slot_template(*, imports, import_env, limits, work_root, ipc_root, uid, threads,
                  hidden_extra, env):
    """This process's template for kernels of these settings (``env``: the environment a
    kernel would be given, which the sandbox filters)."""
    work_root, ipc_root = real_path(work_root), real_path(ipc_root)
    env = sandbox_env(env, threads)
    key = (uid, work_root, ipc_root, threads, tuple(imports), tuple(sorted(import_env.items())),
           tuple(sorted(env.items())), tuple(hidden_extra),
           tuple(getattr(limits, n) for n in NAMES))
    return template_for(key, lambda: Zygote(
        imports=imports, import_env=import_env, limits=limits, work_root=work_root,
        ipc_root=ipc_root, uid=uid, threads=threads, hidden_extra=hidden_extra, env=env,
        log_path=os.path.join(os.path.dirname(ipc_root), "template.log")))


def stop_template():
    if _current.get("zygote") is not None:
        _current["zygote"].stop()
    _current.clear()


atexit.register(stop_template)
