"""``SandboxedExecute``: nbgrader's Execute preprocessor, hardened for hostile notebooks.

It replaces ``nbgrader.preprocessors.Execute`` in ``Autograde.autograde_preprocessors``.
Differences, all about what a submission can do to the grader:

- the kernel is a ``coursetools.sandbox.kernel.SandboxedKernelManager`` (nbgrader 0.9.6 passes
  ``kernel_manager_class=AsyncKernelManager`` as a keyword, which beats any configuration, so
  the class is fixed here) and runs in a fresh working copy of the notebook's folder,
  ``work_root/<tmp>/``, owned by the sandbox user. The grader later writes the graded notebook
  into the real folder, which the kernel never had access to, so a symbolic link the kernel
  planted cannot redirect those writes;
- output is capped while it arrives (``GradingLimits.output_bytes_per_cell``): beyond the cap
  stdout and displays are dropped, while errors, execute results and the first stderr text,
  the things nbgrader grades on, are kept; widget comm messages are ignored;
- a dead kernel (``os._exit``, a crash, a kill at the memory or wall-clock limit) or a kernel
  that ignores the timeout's interrupt does not abort the notebook: the cell gets an error
  output, every later code cell is marked "not run" with an error output (so a test that did
  not run scores 0, never full marks: nbgrader gives full marks to a test cell without
  errors), and nothing is executed any more;
- every code cell runs: nbclient would skip a cell tagged ``skip-execution`` (nbgrader does
  not restore tags, so a test cell tagged so would score full marks unexecuted);
- the kernel is shut down at once when the notebook is done (no five-second grace).

Each executed notebook appends an :class:`ExecutionRecord` to the preprocessor's ``runs``:
timeouts, how the kernel ended, cells not run, peak resident memory, seconds (and where they
went: the kernel's start-up, the cells that only import, the other cells). Its sentences
name a cell by its test or function (``test_backprop``), not by its position, which means
nothing to an instructor (``ExecutionRecord.cell``).
"""

import ast
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from queue import Empty

from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from coursetools.cell_names import cell_names
from coursetools.files import copy_regular_tree
from coursetools.sandbox.kernel import SandboxedKernelManager
from coursetools.sandbox.limits import GradingLimits

_SIGNALS = {9: "SIGKILL", 24: "SIGXCPU", 25: "SIGXFSZ", 11: "SIGSEGV", 6: "SIGABRT", 15: "SIGTERM"}


@dataclass
class ExecutionRecord:
    """How one notebook's execution went."""

    notebook: str
    timeouts: list = field(default_factory=list)  # indices of cells interrupted at the limit
    ended: str | None = None  # why the kernel ended early (a sentence), None when it did not
    kind: str | None = None  # "kernel_died", "timeout" or "error" when it ended early
    cells_not_run: int = 0  # code cells after the kernel's end, marked "not run" (0 points)
    peak_rss: int = 0  # bytes: the sandbox's peak resident memory
    seconds: float = 0.0
    truncated_cells: list = field(default_factory=list)  # cells whose output was capped
    names: dict = field(default_factory=dict)  # {cell index: its test or function name}
    startup: float = 0.0  # seconds until the kernel answered (working copy, sandbox, kernel)
    import_seconds: float = 0.0  # in the cells that only import (``imports_only``)
    cell_seconds: float = 0.0  # in the other code cells
    template_seconds: float = 0.0  # of the start-up: this job slot's template starting
    warm: bool = False  # its kernel was forked from a template (coursetools.sandbox.zygote)
    cold_reason: str | None = None  # why it started cold although a warm start was asked
    peak_pss: int = 0  # bytes: peak_rss with pages shared with the template counted once

    def cell(self, index):
        """The cell as a sentence names it: its test or function, else its number."""
        return self.names.get(index, f"cell {index}")


def imports_only(cell):
    """Whether a code cell does nothing but import (a ``try`` around imports counts, and
    so do the locked setup cell's few settings after its imports): what ``make bench``
    counts as import time."""
    if cell.cell_type != "code":
        return False
    source = "\n".join(line for line in cell.source.splitlines()
                       if not line.lstrip().startswith(("%", "!")))
    try:
        body = ast.parse(source).body
    except Exception:  # noqa: BLE001 - it only sorts timings: a SyntaxError, or a cell
        return False  # nested deep enough to exhaust the parser (RecursionError)
    imports = (ast.Import, ast.ImportFrom)

    def importing(node):
        return isinstance(node, imports) or (
            isinstance(node, ast.Try) and all(isinstance(n, imports) for n in node.body))

    setup = cell.metadata.get("nbgrader", {}).get("locked") and not cell.metadata.get(
        "nbgrader", {}).get("grade")
    return bool(body) and (all(map(importing, body)) or bool(setup and importing(body[0])))


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue,
                      traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def _size(content):
    size = len(content.get("text") or "")
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(repr(value))
    size += sum(len(line) for line in content.get("traceback") or ())
    return size


class SandboxedExecute(Execute):
    """Execute each notebook in the sandbox; survive whatever the notebook does."""

    work_root = Unicode("", help="folder for the kernels' working copies").tag(config=True)
    work_owner = Integer(-1, help="uid that owns the working copy (-1: the grader)").tag(
        config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kwargs)
        self.shutdown_kernel = "immediate"
        # a reply without its "idle" status (output dropped at the message-size cap, or an
        # interrupted cell): grade by the reply, then check the kernel is still answering
        self.raise_on_iopub_timeout = False
        # nbclient skips cells tagged "skip-execution", and nbgrader does not restore tags:
        # a test cell tagged so would score full marks without running. No tag skips here.
        self.skip_cells_with_tag = f"nnag-never-skip-{secrets.token_hex(16)}"
        self.limits = GradingLimits(parent=self)
        self.runs = []  # an ExecutionRecord per notebook executed
        self._last_km = None  # nbclient drops its kernel manager when a start fails

    # --- one notebook ------------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        record = ExecutionRecord(resources.get("nbgrader", {}).get("notebook", ""),
                                 names=cell_names(nb))
        self._record, self._dead, self._bytes, self._cell_index = record, None, {}, None
        folder = resources["metadata"]["path"]
        start = self._started = time.monotonic()
        work = tempfile.mkdtemp(prefix="w", dir=self.work_root or None)
        try:
            owner = self.work_owner if self.work_owner >= 0 else None
            copy_regular_tree(folder, work, skip_suffixes=(".ipynb",), owner=owner)
            os.chmod(work, 0o700)
            resources["metadata"]["path"] = work
            return super().preprocess(nb, resources, km)
        except Exception as exc:
            if record.ended is None:
                record.ended = f"the kernel did not start or answer: {exc}".splitlines()[0]
                km = self.km or self._last_km
                # a kernel forked warm that could not build its sandbox: graded again, cold
                record.kind = "template_lost" if getattr(km, "template_lost", False) else \
                    "error"
            raise
        finally:
            resources["metadata"]["path"] = folder
            record.seconds = time.monotonic() - start
            shutil.rmtree(work, ignore_errors=True)
            self.runs.append(record)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self._record.startup = time.monotonic() - self._started
        self._record.warm = getattr(self.km, "warm", False)
        self._record.template_seconds = getattr(self.km, "template_seconds", 0.0)
        self._record.cold_reason = getattr(self.km, "cold_reason", None)
        seal = getattr(self.km, "seal", None)
        if seal is not None:
            seal()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _async_cleanup_kernel(self):
        km = self._last_km = self.km
        try:
            await super()._async_cleanup_kernel()
        finally:
            if km is not None:
                self._record.peak_rss = max(self._record.peak_rss, getattr(km, "peak_rss", 0))
                self._record.peak_pss = max(self._record.peak_pss, getattr(km, "peak_pss", 0))

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    # --- one cell ----------------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        self._cell_index = index
        if self._dead is not None:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error("NotRun", f"not run: {self._dead}")]
                cell.execution_count = None
                self._record.cells_not_run += 1
            return cell, self.resources
        self._idle_seen = False
        began, counted = time.monotonic(), imports_only(cell)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._kernel_gone(cell, index, interrupted=False)
        except CellTimeoutError:
            self._kernel_gone(cell, index, interrupted=True)
        else:
            if index in self._record.timeouts:
                if not self._responsive(self.limits.interrupt_grace):
                    self._kernel_gone(cell, index, interrupted=True)
            elif cell.cell_type == "code" and cell.source.strip() and not self._idle_seen:
                self._repair_output(cell, index)
        finally:
            spent = time.monotonic() - began
            if counted:
                self._record.import_seconds += spent
            elif cell.cell_type == "code":
                self._record.cell_seconds += spent
        return cell, self.resources

    def process_message(self, msg, cell, cell_index):
        try:
            return super().process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            self._idle_seen = True
            raise

    def _repair_output(self, cell, index):
        """The reply came but not the end of the cell's output: output messages were lost
        (ZeroMQ drops the connection for good at the message-size cap, or the grader fell
        behind). Reconnect, and say so in the cell."""
        if index not in self._record.truncated_cells:
            self._record.truncated_cells.append(index)
        cell.outputs.append(new_output(
            "stream", name="stdout",
            text=f"\n[autograder: output lost, a message was larger than "
                 f"{self.limits.max_message_bytes // 1024**2} MiB or came too fast]\n"))
        if not self._reconnect_iopub(self.limits.interrupt_grace):
            self._kernel_gone(cell, index, interrupted=False)

    async def _async_reconnect_iopub(self, seconds):
        kc = self.kc
        try:
            kc.iopub_channel.stop()
        except Exception:  # noqa: BLE001 - an already broken socket
            pass
        kc._iopub_channel = None
        kc.iopub_channel.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg_id = kc.kernel_info()  # its "idle" status proves the new connection works
            until = min(deadline, time.monotonic() + 0.25)
            try:
                while (left := until - time.monotonic()) > 0:
                    msg = await kc.iopub_channel.get_msg(timeout=left)
                    if msg["parent_header"].get("msg_id") == msg_id and \
                            msg["msg_type"] == "status" and \
                            msg["content"].get("execution_state") == "idle":
                        return True
            except Empty:
                continue
            except Exception:  # noqa: BLE001 - a dead kernel
                return False
        return False

    _reconnect_iopub = run_sync(_async_reconnect_iopub)

    async def _async_responsive(self, seconds):
        """Whether the kernel answers a kernel_info request on its shell within ``seconds``."""
        try:
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                msg = await self.kc.shell_channel.get_msg(timeout=left)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return True
        except Exception:  # noqa: BLE001 - Empty, a dead kernel, a closed channel
            return False
        return False

    _responsive = run_sync(_async_responsive)

    def _kernel_gone(self, cell, index, interrupted):
        km = self.km
        if interrupted and km is not None and hasattr(km, "kill_sandbox"):
            km.kill_sandbox(f"{self._record.cell(index)} ran longer than {self.timeout} s and "
                            "did not stop when interrupted", kind="timeout")
        reason, kind = self._why_dead(km)
        self._dead = f"{reason} (in {self._record.cell(index)})"
        self._record.ended, self._record.kind = self._dead, kind
        cell.outputs.append(_error("KernelDied" if kind == "kernel_died" else "Timeout",
                                   self._dead))

    def _why_dead(self, km):
        if km is not None and getattr(km, "kill_reason", None):
            return km.kill_reason, km.kill_kind
        if getattr(km, "template_lost", False):
            return "the kernel's template died while the kernel ran", "template_lost"
        process = getattr(getattr(km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel stopped answering", "kernel_died"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            return f"the kernel died ({_SIGNALS.get(number, f'signal {number}')})", "kernel_died"
        return f"the kernel exited with status {code}", "kernel_died"

    async def _async_handle_timeout(self, timeout, cell=None):
        self._record.timeouts.append(self._cell_index)
        return await super()._async_handle_timeout(timeout, cell)

    # --- output ------------------------------------------------------------------------------

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        before = self._bytes.get(cell_index, 0)
        used = before + _size(content)
        self._bytes[cell_index] = used
        cap = self.limits.output_bytes_per_cell
        msg_type = msg.get("msg_type")
        if used <= cap or msg_type in ("error", "execute_result"):
            return super().output(outs, msg, display_id, cell_index)
        if msg_type == "stream" and before < cap:  # keep the head of the text that crosses
            head = dict(msg, content=dict(content, text=str(content.get("text", ""))[
                :cap - before]))
            super().output(outs, head, display_id, cell_index)
        if cell_index not in self._record.truncated_cells:
            self._record.truncated_cells.append(cell_index)
            outs.append(new_output("stream", name="stdout",
                                   text=f"\n[autograder: output beyond {cap // 1024} KiB "
                                        "dropped]\n"))
        if msg_type == "stream" and content.get("name") == "stderr":
            # writing to stderr costs a test cell its points in nbgrader: keep that fact
            if not any(o.get("output_type") == "stream" and o.get("name") == "stderr"
                       for o in outs):
                outs.append(new_output("stream", name="stderr",
                                       text=str(content.get("text", ""))[:500]))
        return None

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # no widgets when grading: they could route output around the cap
