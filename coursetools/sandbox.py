"""The kernel sandbox: a jupyter_client KernelManager that runs each grading kernel in bubblewrap.

Only the KERNEL is sandboxed. The grader (nbgrader and nbclient, outside) talks to it over
ZeroMQ ``ipc`` sockets (path-based unix sockets work across network namespaces) in a
per-kernel folder that is bind-mounted into the sandbox. The command line is::

    prlimit --as=.. --cpu=.. --nproc=.. --fsize=.. --nofile=.. --core=0 --
      [unshare --mount --propagation private -- sh -c 'mount --bind ..'   (root, see below)]
      [setpriv --reuid=U --regid=U --clear-groups --no-new-privs --inh-caps=-all
               --bounding-set=-all --]                                       (root only)
      bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session
            --ro-bind / /  --dev /dev  --size T --tmpfs /dev/shm  --proc /proc
            --size T --tmpfs /tmp  --tmpfs <hidden> ...   --ro-bind <v> <v> ...
            --bind <work> <work>  --bind <ipc> <ipc>  --remount-ro <hidden> ...
            --chdir <work>  --clearenv --setenv ...  -- python -m ipykernel_launcher -f ..

What the kernel sees:

- the whole root filesystem, read-only;
- hidden behind empty read-only tmpfs: the course root, the repository root, the grader's
  scratch area (every other submission), ``/root``, ``/home``, ``$HOME``, ``/run`` (sockets),
  ``/var/tmp``, ``/mnt``, ``/media``; of these only the Python installation, the virtual
  environment and the course's ``nnscratch`` package come back, read-only (also when they
  live under ``/tmp``, which the sandbox replaces with its own);
- a private ``/tmp`` and ``/dev/shm`` (``tmp_bytes`` each), a minimal ``/dev``, its own ``/proc``;
- writable: its working folder only (a scratch copy of the submission folder, its cwd), plus
  the folder of its own ipc sockets;
- no network (own network namespace: only a loopback of its own), own pid, ipc and uts
  namespaces, no further user namespaces, no capabilities, no new privileges;
- a clean environment: ``PYTHONSAFEPATH=1`` (a ``nnscratch.py`` beside the notebook cannot
  shadow the course package), ``HOME=/tmp``, one BLAS/TensorFlow thread pool sized to its
  share of the cores, ``MALLOC_ARENA_MAX=2`` (TensorFlow fits the address-space limit).

Who it runs as: when the grader is root, as an unprivileged uid of its own per parallel job
(``uid_base + slot``: jobs share no process budget, cannot signal or read each other, and
cannot read root's files). bubblewrap resolves bind sources as that uid, so a path it cannot
traverse (here: a Python installed under ``/root``) is first bind-mounted, as root, in a
private mount namespace (``unshare``) onto a traversable point. ``bwrap --unshare-user
--uid N`` run directly by root was rejected: it maps the kernel to uid 0 outside, so the
kernel owns every root file it can see (it could read ``/etc/shadow`` and SSH host keys and
print them into its feedback). When the grader is not root, the kernel keeps the grader's
uid (bubblewrap's unprivileged mode) with the same hiding.

Limits (``coursetools.limits``): rlimits through ``prlimit``; a watchdog thread kills the
whole sandbox when its processes together hold more than ``memory_bytes`` resident or the
notebook has run ``notebook_timeout`` seconds (``kill_reason`` says which); interrupts are
sent as ``interrupt_request`` messages (a signal to bwrap would not reach the kernel); the
grader's sockets refuse messages over ``max_message_bytes``.

``probe()`` runs the real command line with ``true``: where it fails (not Linux, no bwrap,
user namespaces disabled) the grader refuses to run unless told ``--unsandboxed``
(``mode="none"``: the same limits and clean environment, no isolation).
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode, default

from coursetools.limits import GradingLimits

UID_BASE = 2_000_000_000  # far above login users and the usual /etc/subuid ranges
ALWAYS_HIDDEN = ("/root", "/home", "/run", "/var/tmp", "/mnt", "/media")
PRIVATE_MOUNTS = ("/tmp", "/dev")  # fresh in every sandbox (bwrap_args), never the host's
PASS_ENV = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND", "MPLBACKEND",
            "NBGRADER_EXECUTION")
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _real(path):
    return os.path.realpath(os.fspath(path))


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _traversable(path):
    """Whether any user may reach and list ``path`` (o+x on every ancestor, o+rx on it)."""
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        try:
            mode = os.stat(Path(*parts[:i])).st_mode
        except OSError:
            return False
        need = stat.S_IXOTH | (stat.S_IROTH if i == len(parts) else 0)
        if mode & need != need:
            return False
    return True


def python_paths():
    """What a kernel needs from outside: the venv, the Python installation, ``nnscratch``."""
    import importlib.util

    paths = {_real(sys.prefix), _real(sys.base_prefix)}
    paths.add(str(Path(_real(sys.executable)).parent.parent))  # the interpreter's own prefix
    spec = importlib.util.find_spec("nnscratch")
    if spec and spec.submodule_search_locations:
        paths.update(_real(p) for p in spec.submodule_search_locations)
    elif spec and spec.origin:
        paths.add(_real(Path(spec.origin).parent))
    return sorted(paths)


def hidden_paths(extra=()):
    """Folders the kernel must not see (existing ones, real paths, outermost first)."""
    from coursetools.paths import COURSE_ROOT

    candidates = [*ALWAYS_HIDDEN, os.environ.get("HOME", ""), str(COURSE_ROOT),
                  tempfile.gettempdir(), *extra]
    found = []
    for c in candidates:
        if c and os.path.isdir(c):
            real = _real(c)
            if real != "/" and real not in found and real != "/tmp":
                found.append(real)
    return sorted(found, key=lambda p: (p.count("/"), p))


def bwrap_args(*, work, ipc, hidden, visible, staged, tmp_bytes, env, threads):
    """The bubblewrap part of the command line (see the module docstring)."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--ro-bind", "/", "/", "--dev", "/dev",
            "--size", str(tmp_bytes), "--tmpfs", "/dev/shm", "--proc", "/proc",
            "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    for path in hidden:
        args += ["--size", str(64 * 1024), "--tmpfs", path]
    for path in visible:
        args += ["--ro-bind", staged.get(path, path), path]
    args += ["--bind", work, work, "--bind", ipc, ipc]
    for path in [*hidden, "/dev"]:
        args += ["--remount-ro", path]
    args += ["--chdir", work, "--clearenv"]
    for key, value in sandbox_env(env, threads).items():
        args += ["--setenv", key, value]
    return args + ["--"]


def sandbox_env(env, threads):
    """The kernel's whole environment (nothing else of the grader's leaks in)."""
    venv_bin = str(Path(sys.executable).parent)
    out = {
        "PATH": f"{venv_bin}:{_SYSTEM_PATH}", "HOME": "/tmp", "USER": "student",
        "LOGNAME": "student", "LANG": "C.UTF-8", "PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib", "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/.jupyter", "JUPYTER_DATA_DIR": "/tmp/.jupyter/data",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter/runtime", "TF_CPP_MIN_LOG_LEVEL": "3",
        "MALLOC_ARENA_MAX": "2",
    }
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        out[key] = str(threads)
    for key in PASS_ENV:
        if key in env:
            out[key] = env[key]
    return out


def rlimit_args(limits):
    """``prlimit`` in front of everything: the rlimits every sandboxed process inherits."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        return []
    return [prlimit, f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
            f"--nproc={limits.max_processes}", f"--fsize={limits.max_file_bytes}",
            f"--nofile={limits.max_open_files}", "--core=0", "--"]


def drop_privileges_args(uid):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


_STAGE_SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; ' \
                'mount -o remount,bind,ro "$2"; shift 2; n=$((n-1)); done; exec "$@"'


def stage_args(pairs):
    """Root only: bind each (source, mount point) in a private mount namespace, then go on."""
    if not pairs:
        return []
    flat = [p for pair in pairs for p in pair]
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            _STAGE_SCRIPT, "stage", str(len(pairs)), *flat]


def sandbox_command(argv, *, work, ipc, stage_dir, uid, limits, hidden_extra=(), env=None,
                    threads=1):
    """The full command line that runs ``argv`` in the sandbox."""
    env = os.environ if env is None else env
    hidden = hidden_paths(hidden_extra)
    # the sandbox's own /tmp and /dev are empty too: a repository (and its .venv) cloned
    # under /tmp must come back like one under a hidden folder
    covered = [*hidden, *PRIVATE_MOUNTS]
    visible = [p for p in python_paths() if any(_inside(p, h) for h in covered)]
    staged, pairs = {}, []
    if uid is not None:
        for i, path in enumerate(visible):
            if not _traversable(path):
                point = os.path.join(stage_dir, f"v{i}")
                os.makedirs(point, exist_ok=True)
                staged[path] = point
                pairs.append((path, point))
    command = rlimit_args(limits) + stage_args(pairs)
    if uid is not None:
        command += drop_privileges_args(uid)
    command += bwrap_args(work=work, ipc=ipc, hidden=hidden, visible=visible, staged=staged,
                          tmp_bytes=limits.tmp_bytes, env=env, threads=threads)
    return command + list(argv)


def unsandboxed_command(argv, *, limits):
    return rlimit_args(limits) + list(argv)


def make_traversable(path, stop):
    """chmod o+x the folders from ``stop`` down to ``path`` (the sandbox uid walks through)."""
    path, stop = Path(path), Path(stop)
    for folder in [path, *path.parents]:
        if folder == stop.parent or not _inside(str(folder), str(stop)):
            break
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


@cache
def probe(uid=None):
    """None when the sandbox works here, else a one-line reason. Runs the real command line."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    for tool in ("bwrap",) + (("setpriv", "unshare") if uid is not None else ()):
        if not shutil.which(tool):
            return f"`{tool}` is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    base = tempfile.mkdtemp(prefix="nnag-probe-")
    try:
        os.chmod(base, 0o711)
        work, ipc, stage = (os.path.join(base, n) for n in ("w", "i", "s"))
        for folder in (work, ipc, stage):
            os.mkdir(folder, 0o755)
        if uid is not None:
            os.chown(work, uid, uid)
        command = sandbox_command(
            [sys.executable, "-c", "import nnscratch.testing"], work=work, ipc=ipc,
            stage_dir=stage, uid=uid, limits=GradingLimits(), hidden_extra=[base])
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                    env={"PATH": _SYSTEM_PATH, "LANG": "C.UTF-8"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the sandbox could not start: {exc}"
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            return f"the sandbox does not work here (user namespaces disabled?): {last}"
        return None
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the watchdog: resident memory of the whole sandbox, and the notebook's wall clock


def _children(pid):
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
        except OSError:
            pass
    return found


def tree_rss(pid):
    """Resident bytes of ``pid`` and all its descendants (Linux /proc; 0 elsewhere)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(_children(p))
    return total


class Watchdog(threading.Thread):
    """Kill the sandbox (``kill()``) past ``memory`` resident bytes or ``seconds`` of wall time."""

    def __init__(self, pid, kill, memory, seconds, interval=0.2, alive=None):
        super().__init__(daemon=True, name=f"sandbox-watchdog-{pid}")
        self.pid, self.kill, self.memory, self.seconds = pid, kill, memory, seconds
        self.alive = alive or (lambda: True)
        self.interval, self.peak_rss = interval, 0
        self._stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.seconds
        while not self._stop_event.is_set() and self.alive():
            rss = tree_rss(self.pid) if sys.platform.startswith("linux") else 0
            self.peak_rss = max(self.peak_rss, rss)
            if rss > self.memory:
                self.kill(f"the kernel's processes used more than "
                          f"{self.memory / 1024**3:g} GiB of memory", kind="kernel_died")
                return
            if time.monotonic() > deadline:
                self.kill(f"the notebook ran longer than {self.seconds} s", kind="timeout")
                return
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()


# ---------------------------------------------------------------------------------------------
# jupyter_client classes


class CappedKernelClient(AsyncKernelClient):
    """The grader's client: its sockets refuse oversized messages and queue few of them."""

    max_message_bytes = Integer(16 * 1024**2).tag(config=True)

    @default("context")
    def _context_default(self):
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        context.setsockopt(zmq.RCVHWM, 64)  # queued: at most 64 x max_message_bytes
        # the kernel's socket files appear when it has started: look for them every 10 ms,
        # not every 100 ms
        context.setsockopt(zmq.RECONNECT_IVL, 10)
        return context

    async def _async_wait_for_ready(self, timeout=None):
        """Ready when a kernel_info request is answered on shell and its "idle" status arrives
        on iopub (so iopub is connected too). jupyter_client's own wait listens for 0.2 s of
        iopub silence afterwards and retries a missed status only after 0.2 s more: idle time
        of every grading kernel. Nothing needs that flush: nbclient takes only the iopub
        messages of its own requests."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        asked, replied = set(), False
        while True:
            asked.add(self.kernel_info())
            # a starting kernel answers once it is up; a missed status is asked for again soon
            until = min(deadline, time.monotonic() + (0.05 if replied else 0.5))
            while (left := until - time.monotonic()) > 0:
                channel = self.iopub_channel if replied else self.shell_channel
                try:
                    msg = await channel.get_msg(timeout=left)
                except Empty:
                    break
                if msg["parent_header"].get("msg_id") not in asked:
                    continue
                if not replied:
                    replied = msg["msg_type"] == "kernel_info_reply"
                    if replied:
                        self._handle_kernel_info_reply(msg)
                        until = min(deadline, time.monotonic() + 0.05)
                elif msg["msg_type"] == "status" and \
                        msg["content"].get("execution_state") == "idle":
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    wait_for_ready = _async_wait_for_ready


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in the sandbox (or, ``mode="none"``, bare)."""

    mode = Unicode("bwrap", help="'bwrap' (sandboxed) or 'none' (limits only)").tag(config=True)
    slot = Integer(0, help="parallel job number: picks the sandbox uid").tag(config=True)
    uid_base = Integer(UID_BASE, help="root only: sandbox uid = uid_base + slot").tag(config=True)
    threads = Integer(1, help="BLAS/TensorFlow threads of the kernel").tag(config=True)
    ipc_root = Unicode("", help="folder for the per-kernel socket folders").tag(config=True)
    hidden_extra = List(Unicode(), help="more folders to hide from the kernel").tag(config=True)
    log_path = Unicode("", help="file that receives the kernel's own stdout/stderr").tag(
        config=True)

    @default("client_class")
    def _client_class_default(self):
        return "coursetools.sandbox.CappedKernelClient"

    @default("client_factory")
    def _client_factory_default(self):
        return CappedKernelClient

    @default("transport")
    def _transport_default(self):
        return "ipc"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.limits = GradingLimits(parent=self)
        self.kill_reason, self.kill_kind = None, None
        self.peak_rss = 0
        self._watchdog = None
        self._ipc_dir = None
        self._log = None

    @property
    def uid(self):
        return self.uid_base + self.slot if is_root() and self.mode == "bwrap" else None

    def client(self, **kwargs):
        kwargs.setdefault("max_message_bytes", self.limits.max_message_bytes)
        return super().client(**kwargs)

    async def _async_pre_start_kernel(self, **kw):
        self.transport = "ipc"
        self.kill_reason, self.kill_kind = None, None
        ipc_dir = tempfile.mkdtemp(prefix="k", dir=self.ipc_root or None)
        self._ipc_dir = ipc_dir
        # root-owned, sticky and world-writable while the kernel binds its sockets; sealed
        # (0755) once it is ready, so it cannot plant other files or links there afterwards
        os.chmod(ipc_dir, 0o1777 if self.uid is not None else 0o700)
        self.connection_file = os.path.join(ipc_dir, "kernel.json")
        self.ip = os.path.join(ipc_dir, "s")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        os.chmod(self.connection_file, 0o644 if self.uid is not None else 0o600)
        work = _real(kw.get("cwd") or os.getcwd())
        env = dict(kw.get("env") or os.environ)
        if self.mode == "bwrap":
            stage_dir = os.path.join(ipc_dir, ".stage")
            cmd = sandbox_command(cmd, work=work, ipc=ipc_dir, stage_dir=stage_dir, uid=self.uid,
                                  limits=self.limits, hidden_extra=self.hidden_extra, env=env,
                                  threads=self.threads)
            kw["env"] = {"PATH": _SYSTEM_PATH, "LANG": "C.UTF-8"}
        else:
            cmd = unsandboxed_command(cmd, limits=self.limits)
            clean = sandbox_env(env, self.threads)
            clean.update(HOME=work, MPLCONFIGDIR=os.path.join(ipc_dir, "mpl"),
                         IPYTHONDIR=os.path.join(ipc_dir, "ipython"),
                         JUPYTER_CONFIG_DIR=os.path.join(ipc_dir, "jupyter"),
                         JUPYTER_DATA_DIR=os.path.join(ipc_dir, "jupyter"),
                         JUPYTER_RUNTIME_DIR=os.path.join(ipc_dir, "jupyter"))
            kw["env"] = clean
        kw["cwd"] = work
        if self.log_path:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in cleanup
            kw["stdout"] = kw["stderr"] = self._log
        kw["stdin"] = subprocess.DEVNULL
        return cmd, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = self.provisioner.process
        self._watchdog = Watchdog(process.pid, self.kill_sandbox, self.limits.memory_bytes,
                                  self.limits.notebook_timeout,
                                  alive=lambda: process.poll() is None)
        self._watchdog.start()

    def seal(self):
        """The kernel has bound its sockets: nobody but the grader may add files there now."""
        if self._ipc_dir and self.uid is not None:
            os.chmod(self._ipc_dir, 0o755)

    def kill_sandbox(self, reason, kind="kernel_died"):
        """Kill the kernel and everything in its sandbox at once (any thread).

        ``reason`` (a sentence) and ``kind`` ("kernel_died" or "timeout") are kept for the
        results; the first kill's reason wins."""
        if self.kill_reason is None:
            self.kill_reason, self.kill_kind = reason, kind
        process = getattr(self.provisioner, "process", None)
        if process is None or process.poll() is not None:
            return
        for kill in (lambda: os.killpg(process.pid, signal.SIGKILL),
                     lambda: os.kill(process.pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass

    async def _async_wait(self, pollinterval=0.1):
        # after a kill: the sandbox dies within milliseconds, do not sleep 0.1 s per poll
        await super()._async_wait(pollinterval=min(pollinterval, 0.005))

    async def _async_interrupt_kernel(self):
        if self.shutting_down:
            return  # jupyter_client interrupts before it shuts down: the sandbox is killed anyway
        # A SIGINT to bwrap would not reach the kernel (its own session and pid namespace):
        # ask the kernel itself, over a short-lived control connection of our own (the
        # manager's asyncio control socket does not deliver it while nobody awaits the send).
        if not self.has_kernel:
            raise RuntimeError("Cannot interrupt kernel. No kernel is running!")
        context = zmq.Context.instance()
        socket = context.socket(zmq.DEALER)
        socket.linger = 1000
        try:
            socket.connect(self._make_url("control"))
            self.session.send(socket, self.session.msg("interrupt_request", content={}))
            if socket.poll(2000):
                socket.recv_multipart()
        finally:
            socket.close()

    async def _async_cleanup_resources(self, restart=False):
        if self._watchdog is not None:
            self._watchdog.stop()
            self.peak_rss = max(self.peak_rss, self._watchdog.peak_rss)
        process = getattr(self.provisioner, "process", None)
        await super()._async_cleanup_resources(restart=restart)
        if process is not None and process.poll() is None:
            reason, kind = self.kill_reason, self.kill_kind
            self.kill_sandbox("cleanup")
            self.kill_reason, self.kill_kind = reason, kind
        if self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None
        if self._log is not None:
            self._log.close()
            self._log = None

    # AsyncKernelManager binds these public names to KernelManager's functions, not to
    # whatever a subclass overrides: point them at ours.
    interrupt_kernel = _async_interrupt_kernel
    cleanup_resources = _async_cleanup_resources
