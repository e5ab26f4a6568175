"""Phase 1 on a Dask distributed cluster instead of the local process pool.

When a scheduler is configured (``--scheduler``, ``NN_GRADING_SCHEDULER`` or
``c.GradingCluster.scheduler_address`` in ``nbgrader_config.py``, in that order), the engine
grades each submission as one Dask task: ``client.submit`` / ``as_completed``, nothing of our
own on the wire. The workers share no file system with the instructor's machine, so:

- what every task needs (the run's settings, the assignment's ``source/`` folder, the judge
  modules, the gradebook template) is packed once and handed to every worker, present and
  future, as a worker plugin (``run_data.RunData``). Not as a scattered future: Dask's
  Active Memory Manager trims a broadcast's replicas, and when the worker holding the last
  one is lost, every task waiting on it is cancelled ("lost dependencies"), not retried;
- a task carries its submission as a tar archive of what ``intake.copy_submission`` let in
  (read here, with the same rules as locally; its flags travel beside it);
- on the worker, :func:`grade_task` unpacks all that in a fresh temporary folder and calls the
  same :func:`coursetools.autograde.worker.grade_submission`, in the same sandbox, with a job
  slot (sandbox uid) that no other grading process on that machine holds;
- it answers with the :class:`SubmissionResult`, the autograded folder as a tar archive and
  the submission's log, which :class:`DaskPool` unpacks where phase 2 expects them.

A worker lost mid-task costs that task a retry elsewhere (``retries=``; each try grades from
scratch), not the batch. Before anything is written, :func:`connect` checks that the scheduler
answers, that it has workers, and that every worker can run the grader and its sandbox
(``coursetools.sandbox.command.probe`` through ``client.run``): otherwise one CourseError.
Workers run one task at a time each (``dask worker --nthreads 1``; ``--nworkers`` for more).
See docs/deployment.md.
"""

import contextlib
import dataclasses
import io
import os
import pickle
import queue
import shutil
import socket
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from traitlets import Float, Integer, Unicode
from traitlets.config import Config, Configurable

from coursetools.autograde import intake
from coursetools.autograde.jobs import Job, SubmissionResult
from coursetools.course import CourseError

ENVIRONMENT = "NN_GRADING_SCHEDULER"
LOCAL = ("", "local", "none")  # --scheduler local: the local pool, whatever is configured
WINDOW, WINDOW_PER_WORKER = 16, 4  # tasks submitted ahead: at least 16, 4 a worker


class GradingCluster(Configurable):
    """Where phase 1 runs: the local process pool (default) or a Dask cluster."""

    scheduler_address = Unicode("", help="Dask scheduler to grade on (tcp://host:8786); "
                                "empty: the local process pool").tag(config=True)
    connect_timeout = Float(10.0, help="seconds to reach the scheduler").tag(config=True)
    worker_timeout = Float(60.0, help="seconds to wait for a first worker").tag(config=True)
    retries = Integer(2, help="tries more for a task whose worker was lost or failed").tag(
        config=True)


def settings(course_config=None):
    """The GradingCluster of ``nbgrader_config.py``."""
    own = dict((course_config or Config()).get("GradingCluster", {}))
    return GradingCluster(config=Config({"GradingCluster": own}))


def scheduler_address(course_config=None, override=None):
    """The scheduler to grade on, or None for the local pool: ``override`` (--scheduler) <
    ``NN_GRADING_SCHEDULER`` < ``c.GradingCluster.scheduler_address``, first one set wins."""
    for value in (override, os.environ.get(ENVIRONMENT), settings(course_config).scheduler_address):
        if value is not None and value.strip() != "":
            return None if value.strip().lower() in LOCAL else value.strip()
    return None


# --- archives ----------------------------------------------------------------------------------

def pack(folder):
    """A tar archive (bytes) of the regular files and folders under ``folder``."""
    buffer = io.BytesIO()
    folder = Path(folder)
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if folder.is_dir():
            for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames
                                     if not os.path.islink(os.path.join(dirpath, d)))
                for name in sorted(filenames):
                    path = Path(dirpath, name)
                    if path.is_file() and not path.is_symlink():
                        tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpack(data, target):
    """Unpack a :func:`pack` archive into ``target`` (tarfile's "data" filter: nothing
    outside it, no links, no devices)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(target, filter="data")
    return target


# --- on the worker -----------------------------------------------------------------------------

def dask_setup(worker=None):
    """``dask worker --preload coursetools.autograde.cluster``: import nbgrader before the
    first task (about two seconds of CPU otherwise paid by it)."""
    _warm(0)


def _warm(slot):
    from coursetools.autograde import worker

    slots = queue.SimpleQueue()
    slots.put(slot)
    worker.init_worker(slots)  # sets the worker's job slot, warms nbgrader and the scanner


class _Slot:
    """A job slot no other grading process on this machine holds (a lock file each), so two
    kernels of one machine never share a sandbox uid."""

    def __enter__(self):
        import fcntl  # workers run Linux (bubblewrap); the engine imports this module anywhere

        folder = Path(tempfile.gettempdir()) / "nnag-slots"
        folder.mkdir(mode=0o700, exist_ok=True)
        for number in range(4096):
            handle = open(folder / f"{number}.lock", "a")  # noqa: SIM115 - held while grading
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.number, self._handle = number, handle
            return number
        raise RuntimeError("no free job slot on this machine")

    def __exit__(self, *exc):
        self._handle.close()


def describe(sandbox, dask_worker=None):
    """What the engine checks of a worker (through ``client.run``) before grading."""
    from coursetools.sandbox import command

    reason = command.probe(command.sandbox_uid(0)) if sandbox else None
    nthreads = getattr(getattr(dask_worker, "state", None), "nthreads", None) or \
        getattr(dask_worker, "nthreads", 1)
    return {"host": socket.gethostname(), "cpus": os.cpu_count() or 1, "nthreads": nthreads,
            "python": sys.version.split()[0], "reason": reason}


def grade_task(task, run_data):
    """One submission, on a worker: unpack, :func:`grade_submission`, pack the answer."""
    from distributed import get_worker

    from coursetools.autograde import worker

    shared = get_worker().plugins[run_data].shared
    run = shared["run"]
    with _Slot() as slot:
        _warm(slot)
        root = Path(tempfile.mkdtemp(prefix="nnag-dask-"))
        try:
            os.chmod(root, 0o711)  # sandbox users walk through to their own folders only
            for name in ("work", "ipc"):
                (root / f"k{slot}" / name).mkdir(parents=True)
                os.chmod(root / f"k{slot}" / name, 0o711)
            os.chmod(root / f"k{slot}", 0o711)
            source = unpack(shared["source"], root / "source" / run.assignment).parent
            judges = unpack(shared["judges"], root / "judges")
            gradebook = root / "gradebook.db"
            gradebook.write_bytes(shared["gradebook"])
            submission = unpack(task["submission"], root / "in" / task["student"])
            threads = shared["threads"].get(get_worker().address, 1)
            local = dataclasses.replace(
                run, scratch=str(root), gradebook=str(gradebook), logs=str(root / "logs"),
                source_dir=str(source), judges=str(judges), threads=threads,
                hidden=tuple(sorted(set(run.hidden) | {str(root)})),
                # cold kernels: a template is one process's, for one scratch folder, and
                # each task has its own (and a worker runs tasks in threads side by side)
                warm=None)
            job = Job(local, task["index"], task["student"], str(submission))
            result = worker.grade_submission(job)
            executed = pack(result.executed) if result.executed else None
            result.executed = None
            log = root / "logs" / f"{task['student']}.log"
            return {"result": result, "executed": executed,
                    "log": log.read_bytes() if log.is_file() else b""}
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --- in the parent -----------------------------------------------------------------------------

def connect(course_config, address, sandbox):
    """A :class:`DaskPool` on the scheduler at ``address``, checked; CourseError otherwise."""
    from distributed import Client

    options = settings(course_config)
    try:
        client = Client(address, timeout=options.connect_timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, a bad address: one line
        raise CourseError(f"cannot reach the Dask scheduler at {address}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                          ) from None
    try:
        return DaskPool(client, address, sandbox, options)
    except BaseException:
        client.close()
        raise


class DaskPool:
    """Phase 1 on a Dask cluster, used by the engine like the local pool."""

    def __init__(self, client, address, sandbox, options):
        self.client, self.address, self.options = client, address, options
        try:
            client.wait_for_workers(1, timeout=options.worker_timeout)
        except TimeoutError:
            raise CourseError(f"the Dask scheduler at {address} has no workers (waited "
                              f"{options.worker_timeout:g} s)") from None
        try:
            self.workers = client.run(describe, sandbox)
        except Exception as exc:  # noqa: BLE001 - e.g. a worker without this repository
            raise CourseError(
                f"the Dask workers of {address} cannot run the grader ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); every worker needs this "
                "repository's environment (docs/deployment.md)") from None
        for where, info in sorted(self.workers.items()):
            if info["reason"]:
                raise CourseError(f"Dask worker {where} ({info['host']}) cannot sandbox "
                                  f"kernels: {info['reason']}")
            if info["nthreads"] != 1:
                raise CourseError(f"Dask worker {where} runs {info['nthreads']} threads: "
                                  "start grading workers with --nthreads 1 (and --nworkers "
                                  "for more of them)")
        per_host = {}
        for info in self.workers.values():
            per_host[info["host"]] = per_host.get(info["host"], 0) + 1
        # BLAS/TensorFlow threads of each kernel: its share of its machine's cores
        self.threads = {where: max(1, info["cpus"] // per_host[info["host"]])
                        for where, info in self.workers.items()}
        self.jobs = len(self.workers)
        self.stats = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def shutdown(self, wait=True, **_):
        if self.client is not None:
            self.client.close()
            self.client = None

    def shared(self, run):
        """What every task of ``run`` needs, packed (bytes travel; no path is shared)."""
        return {"run": run, "threads": self.threads,
                "source": pack(Path(run.source_dir) / run.assignment),
                "judges": pack(run.judges) if run.judges else pack(""),
                "gradebook": Path(run.gradebook).read_bytes()}

    def grade_all(self, jobs, on_result=None):
        """Grade ``jobs`` (all of one run) on the cluster; a result per job, by student."""
        from distributed import as_completed

        from coursetools.autograde.run_data import RunData

        if not jobs:
            return {}
        run = jobs[0].run
        shared = self.shared(run)
        started = time.monotonic()
        run_data = f"nnag-run-{os.urandom(4).hex()}"
        stats = {"shared_bytes": len(pickle.dumps(shared)), "sent_bytes": 0,
                 "received_bytes": 0, "tasks": len(jobs), "worker_seconds": 0.0}
        futures, flags, results = {}, {}, {}
        todo = iter(jobs)
        running = as_completed(loop=self.client.loop)
        with self._registered(RunData(run_data, shared)), \
                tempfile.TemporaryDirectory(prefix="nnag-pack-") as staging:

            def submit_next():
                job = next(todo, None)
                if job is None:
                    return
                flags[job.student] = []
                inbox = Path(staging) / job.student
                inbox.mkdir()
                intake.copy_submission(job.submission, inbox, run.limits["max_file_bytes"],
                                       flags[job.student])
                task = {"index": job.index, "student": job.student, "submission": pack(inbox)}
                shutil.rmtree(inbox)
                stats["sent_bytes"] += len(pickle.dumps(task))
                future = self.client.submit(grade_task, task, run_data, pure=False,
                                            retries=self.options.retries,
                                            key=f"grade-{job.index:05d}-{os.urandom(4).hex()}")
                futures[future] = job
                running.add(future)

            # a window of tasks ahead of the workers, not the whole class: the scheduler
            # holds each waiting task's submission in memory
            for _ in range(max(WINDOW, WINDOW_PER_WORKER * self.jobs)):
                submit_next()
            for future in running:
                job = futures.pop(future)
                try:
                    answer = future.result()
                except Exception as exc:  # noqa: BLE001 - whatever it is, it is this one's
                    if self.client.status != "running":
                        raise CourseError(f"lost the Dask scheduler at {self.address} while "
                                          "grading: nothing was recorded") from None
                    result = SubmissionResult(job.student).fail(
                        f"the grading worker failed: {type(exc).__name__}: {exc}"
                        .splitlines()[0])
                else:
                    result = self._receive(job, answer, flags.pop(job.student), stats)
                future.release()
                results[job.student] = result
                if on_result is not None:
                    on_result(job, result)
                submit_next()
        stats["seconds"] = time.monotonic() - started
        self.stats = stats
        return results

    @contextlib.contextmanager
    def _registered(self, plugin):
        """``plugin`` on every worker while the block runs; unregistered after it (the
        scheduler and workers drop it), if the scheduler is still there."""
        self.client.register_plugin(plugin, name=plugin.name)
        try:
            yield
        finally:
            if self.client is not None and self.client.status == "running":
                with contextlib.suppress(Exception):  # a lost scheduler forgets it anyway
                    self.client.unregister_worker_plugin(plugin.name)

    def _receive(self, job, answer, flags, stats):
        result = answer["result"]
        stats["received_bytes"] += len(pickle.dumps(answer))
        stats["worker_seconds"] += result.seconds
        result.flags[:0] = flags  # intake's findings came first, as in a local run
        with open(Path(job.run.logs) / f"{job.student}.log", "ab") as fh:
            fh.write(answer["log"])
        if answer["executed"] is not None:
            target = Path(job.run.scratch) / f"s{job.index:04d}" / "autograded" / job.student
            result.executed = str(unpack(answer["executed"], target / job.run.assignment))
        return result


def noop(value=None):
    return value


def overhead(address, tasks=200, payload=0):
    """Seconds per task the scheduler adds (a no-op round trip, ``tasks`` at once) and per
    one-at-a-time round trip carrying ``payload`` bytes each way: what docs/deployment.md
    quotes."""
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        client.wait_for_workers(1, timeout=30)
        client.submit(noop, 0, pure=False).result()
        start = time.monotonic()
        client.gather([client.submit(noop, i, pure=False) for i in range(tasks)])
        batch = (time.monotonic() - start) / tasks
        blob = os.urandom(payload)
        start = time.monotonic()
        for _ in range(20):
            client.submit(noop, blob, pure=False).result()
        single = (time.monotonic() - start) / 20
    return {"tasks": tasks, "per_task_batch_s": round(batch, 5),
            "per_task_roundtrip_s": round(single, 5), "payload_bytes": payload}
