"""The jupyter_client classes the grader uses: a kernel manager that starts each kernel in the
sandbox (``coursetools.sandbox.command``) and a client whose sockets refuse oversized messages."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Integer, List, Unicode, default

from coursetools.sandbox.command import (
    SYSTEM_PATH,
    UID_BASE,
    real_path,
    sandbox_command,
    sandbox_env,
    sandbox_uid,
    unsandboxed_command,
)
from coursetools.sandbox.limits import GradingLimits
from coursetools.sandbox.watchdog import Watchdog
from coursetools.sandbox.zygote import ForkedKernel, WarmStartUnavailable, slot_template


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
    warm_imports = List(Unicode(), default_value=None, allow_none=True, help=(
        "modules a kernel template imports once, for kernels forked ready from it "
        "(coursetools.sandbox.zygote); None: every kernel starts cold")).tag(config=True)
    warm_import_env = Dict(help="environment the template imports with, and only that").tag(
        config=True)

    @default("client_class")
    def _client_class_default(self):
        return "coursetools.sandbox.kernel.CappedKernelClient"

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
        self.peak_rss = self.peak_pss = 0
        self.warm, self.cold_reason = False, None
        self.template_seconds = 0.0  # of the start-up: starting this slot's template
        self._watchdog = None
        self._ipc_dir, self._kernel_env, self._forked = None, None, None
        self._answered = False  # the kernel has answered: the notebook may have begun
        self._log = None

    @property
    def uid(self):
        return sandbox_uid(self.slot, self.mode == "bwrap", self.uid_base)

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
        work = real_path(kw.get("cwd") or os.getcwd())
        env = self._kernel_env = dict(kw.get("env") or os.environ)  # a warm one's, too
        if self.mode == "bwrap":
            stage_dir = os.path.join(ipc_dir, ".stage")
            cmd = sandbox_command(cmd, work=work, ipc=ipc_dir, stage_dir=stage_dir, uid=self.uid,
                                  limits=self.limits, hidden_extra=self.hidden_extra, env=env,
                                  threads=self.threads)
            kw["env"] = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
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
        process = self._fork_warm(kw) if self.mode == "bwrap" and \
            self.warm_imports is not None else None
        if process is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            process = self.provisioner.process
        else:  # what LocalProvisioner.launch_kernel would have set for a Popen
            provisioner = self.provisioner
            provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
            provisioner.cwd = kw["cwd"]
            self._reconcile_connection_info(provisioner.connection_info)
        measured = getattr(process, "kernel_pid", process.pid)
        self._watchdog = Watchdog(measured, self.kill_sandbox, self.limits.memory_bytes,
                                  self.limits.notebook_timeout,
                                  alive=lambda: process.poll() is None, pss=self.warm)
        self._watchdog.start()

    def _fork_warm(self, kw):
        """The kernel forked from this slot's template, or None (then it starts cold, and
        ``cold_reason`` says why)."""
        template = slot_template(
            imports=self.warm_imports, import_env=self.warm_import_env, limits=self.limits,
            work_root=os.path.dirname(real_path(kw["cwd"])),
            ipc_root=self.ipc_root or os.path.dirname(self._ipc_dir), uid=self.uid,
            threads=self.threads, hidden_extra=self.hidden_extra, env=self._kernel_env)
        starts = template.starts
        try:
            process = template.fork(work=kw["cwd"], ipc=self._ipc_dir,
                                    connection_file=self.connection_file,
                                    log_path=self.log_path)
        except WarmStartUnavailable as exc:
            self.cold_reason = str(exc)
            return None
        finally:
            if template.starts != starts:
                self.template_seconds = template.start_seconds
        self.warm, self._forked = True, process
        return process

    @property
    def template_lost(self):
        """Whether this kernel's template died while the kernel ran (then the kernel died
        with it, through no fault of the notebook)."""
        process = self._forked  # jupyter_client forgets its process once it has ended
        if process is None:
            return False
        if process.sandbox_failed:  # then the slot's kernels start cold: say so, grade again
            process.zygote.broken = "a kernel forked warm could not build its sandbox"
            return True
        if not self._answered and process.poll() is not None:  # before any student code ran
            process.zygote.broken = "a kernel forked warm died before it answered"
            return True
        return not process.zygote.alive or process.zygote.starts != process.generation

    def seal(self):
        """The kernel has bound its sockets: nobody but the grader may add files there now."""
        self._answered = True
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
        if isinstance(process, ForkedKernel):
            process.kill()
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
            self.peak_pss = max(self.peak_pss, self._watchdog.peak_pss)
        process = getattr(self.provisioner, "process", None)
        await super()._async_cleanup_resources(restart=restart)
        if process is not None and process.poll() is None:
            reason, kind = self.kill_reason, self.kill_kind
            self.kill_sandbox("cleanup")
            self.kill_reason, self.kill_kind = reason, kind
        if isinstance(process, ForkedKernel):
            process.close()
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
