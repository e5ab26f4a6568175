"""The worker processes of phase 1, and what happens when one of them dies.

Each worker is long-lived, forked ready from a fork server that imported nbgrader once
(``WORKER_IMPORTS``), and grades one submission at a time with its own job slot (sandbox
uid and folders). A worker process that dies (killed from outside, out of memory) breaks
the whole pool: what it held is graded again once, in a new pool.
"""

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from coursetools.autograde.jobs import SubmissionResult
from coursetools.autograde.worker import grade_submission, init_worker
from coursetools.course import CourseError
from coursetools.sandbox.watchdog import descendants

# What the workers import before their first submission. A fork server (Linux, macOS) imports
# it once and forks every worker from there, instead of each spawned worker paying about two
# seconds of CPU for nbgrader (its package imports its Jupyter server extensions) while the
# kernels need the cores. The fork server holds no threads or sockets, so forking it is safe.
# coursetools first: its package spares jsonschema's slow optional import (see its __init__).
WORKER_IMPORTS = ["coursetools.autograde.worker", "coursetools.preprocessors",
                  "nbgrader.converters"]


def kernel_threads(jobs, submissions):
    """BLAS/TensorFlow threads of each grading kernel: its share of the cores among the
    kernels that run at once (kernels whose pools are each the size of the machine fight
    over its cores)."""
    running = max(1, min(jobs, submissions))
    return max(1, len(usable_cores()) // running)


def usable_cores():
    """The cores this process may run on (a container or ``taskset`` may allow fewer than
    the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def slot_cores(jobs, threads):
    """The cores of each job slot, at least ``threads`` each (the ones left over go to the
    first slots), or None when the slots do not fit on the cores apart (more jobs than
    cores: the scheduler shares them out)."""
    cores = usable_cores()
    if not hasattr(os, "sched_setaffinity") or jobs * threads > len(cores):
        return None
    share, extra = divmod(len(cores), jobs)
    bounds = [slot * share + min(slot, extra) for slot in range(jobs + 1)]
    return [cores[bounds[slot]:bounds[slot + 1]] for slot in range(jobs)]


def _context():
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_IMPORTS)
    return context


def start_pool(workers, warm_up=None, threads=None):
    """``workers`` processes, each with its own job slot, started now (they import nbgrader,
    and start their kernel templates when ``warm_up`` says how, while the caller goes on).
    With ``threads`` (each kernel's), each slot keeps to cores of its own (``slot_cores``)."""
    context = _context()
    slots = context.Queue()
    for slot in range(workers):
        slots.put(slot)
    cores = slot_cores(workers, threads) if threads else None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=init_worker, initargs=(slots, warm_up, cores))
    for _ in range(workers):
        pool.submit(int)
    return pool


@contextlib.contextmanager
def spawnable_main():
    """Workers are spawned, and spawning re-imports the caller's ``__main__`` from its file:
    when there is none (``python - < script``, ``<stdin>``), let them skip it."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or os.path.isfile(path) or \
            getattr(getattr(main, "__spec__", None), "name", None):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def grade_all(pool, jobs, workers, on_result=None):
    """Grade ``jobs`` in ``pool``; a result per job, by student. A job whose worker died is
    graded once more in a new pool of ``workers``; ``on_result(job, result)`` follows
    progress."""
    results, pending, pools = {}, list(jobs), [pool]
    try:
        for attempt in (1, 2):
            broken = _run(pools[-1], pending, results, on_result)
            if not broken:
                break
            if attempt == 2:
                if not results:
                    raise CourseError(
                        "the grading workers died before grading anything (a script calling "
                        "autograde() needs `if __name__ == \"__main__\":`)")
                for job in broken:
                    results[job.student] = SubmissionResult(job.student).fail(
                        "the grading worker died twice while grading this submission")
            else:
                pools.append(start_pool(min(workers, len(broken))))
                pending = broken
    except BaseException:  # Ctrl-C: no submission more, none finished (nothing is written)
        for each in pools:
            stop(each)
        raise
    finally:
        for extra in pools[1:]:
            extra.shutdown(wait=True, cancel_futures=True)
    return results


def stop(pool):
    """Cancel what ``pool`` has not begun and end its workers and their kernels now (the jobs
    wrote only into the scratch folder, which the engine removes). A kernel would end by
    itself once its worker is gone (bubblewrap's --die-with-parent), a moment later: it is
    killed here, so that nothing of the run outlives it."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API
    kernels = [child for process in processes if process.pid
               for child in descendants(process.pid)]
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for pid in kernels:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.join(timeout=10)


def _running(pid):
    """Whether ``pid`` is still a live process (a zombie waiting for its parent is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _run(pool, jobs, results, on_result):
    """Grade ``jobs`` in ``pool`` into ``results``; return the jobs a broken pool lost."""
    broken = []
    try:
        futures = {pool.submit(grade_submission, job): job for job in jobs}
    except BrokenProcessPool:
        return list(jobs)
    for future in as_completed(futures):
        job = futures[future]
        try:
            result = future.result()
        except BrokenProcessPool:
            broken.append(job)
            continue
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is this submission's
            result = SubmissionResult(job.student).fail(
                f"the grading worker failed: {type(exc).__name__}: {exc}")
        results[job.student] = result
        if on_result is not None:
            on_result(job, result)
    return broken
