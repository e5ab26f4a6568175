"""A Dask cluster of separate processes on this machine, and what docs/deployment.md measures.

    python -m coursetools.autograde.cluster_bench [--workers 1 2] [--tasks 500] [--out f.json]

starts ``dask scheduler`` and N ``dask worker --nthreads 1`` processes on localhost
(:class:`LocalProcesses`; the tests use it too), grades the example class on them for each N,
and measures the scheduler's own cost per task (no-op tasks) and the bytes each submission
moves. Prints one JSON document.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")
ENV = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}


class LocalProcesses:
    """``dask scheduler`` and ``workers`` × ``dask worker --nthreads 1``, each a process of
    its own (a session of its own: killing one kills its process group only)."""

    def __init__(self, folder, workers=2, worker_env=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.folder / "scheduler.json"
        self.workers = []
        self.scheduler = self._start("scheduler", [
            DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(self.file)])
        try:
            deadline = time.monotonic() + 60
            while not self.file.exists() or not self.file.read_text().strip():
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    raise RuntimeError(f"the scheduler did not start:\n{self.log('scheduler')}")
                time.sleep(0.2)
            time.sleep(0.2)  # the file is written whole, but let it settle
            self.address = json.loads(self.file.read_text())["address"]
            self.workers = [self.add_worker(f"w{i}", worker_env) for i in range(workers)]
            self.wait_for(workers)
        except BaseException:
            self.close()
            raise

    def _start(self, name, argv, env=None):
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the child holds it
        try:
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    env=env or ENV, cwd=self.folder, start_new_session=True)
        finally:
            log.close()

    def add_worker(self, name, env=None):
        return self._start(name, [
            DASK, "worker", "--scheduler-file", str(self.file), "--nworkers", "1",
            "--nthreads", "1", "--no-dashboard", "--name", name,
            "--local-directory", str(self.folder / name),
            "--preload", "coursetools.autograde.cluster"], {**ENV, **(env or {})})

    def log(self, name):
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=10, set_as_default=False)

    def wait_for(self, n, timeout=180):
        with self.client() as client:
            client.wait_for_workers(n, timeout=timeout)

    def names(self):
        """{worker address: its --name}."""
        with self.client() as client:
            return {w: i["name"] for w, i in
                    client.scheduler_info(n_workers=-1)["workers"].items()}

    def processing(self):
        """{worker address: [keys it is processing now]}."""
        with self.client() as client:
            return client.processing()

    def kill(self, name):
        """SIGKILL the worker process (and its nanny) started as ``name``."""
        index = int(str(name).lstrip("w"))
        os.killpg(self.workers[index].pid, signal.SIGKILL)

    def close(self):
        procs = [*self.workers, self.scheduler]
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def measure(worker_counts=(1, 2), tasks=500):
    """The figures of docs/deployment.md (see the module docstring)."""
    import shutil

    from coursetools.autograde import autograde, cluster
    from coursetools.commands import demo

    out = {"cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="nnag-bench-") as scratch:
        origin = demo.prepare(Path(scratch) / "origin").root
        for n in worker_counts:
            course = Path(scratch) / f"course{n}"
            shutil.copytree(origin, course, symlinks=True)
            with LocalProcesses(Path(scratch) / f"dask{n}", workers=n) as running:
                results = autograde(course, "nn_from_scratch", progress=False, report=False,
                                    scheduler=running.address)
                subs = len(results["submissions"])
                info = results["cluster"]
                out["runs"].append({
                    "workers": n, "submissions": subs, "timings": results["timings"],
                    "seconds": results["seconds"],
                    "throughput_per_min": round(60 * subs / results["timings"]["execute"], 2),
                    "worker_seconds_per_submission": round(info["worker_seconds"] / subs, 2),
                    "sent_bytes_per_submission": info["sent_bytes"] // subs,
                    "received_bytes_per_submission": info["received_bytes"] // subs,
                    "shared_bytes_per_worker": info["shared_bytes"],
                    "record_seconds_per_submission": round(
                        results["timings"]["record"] / subs, 3)})
                print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
                if n == max(worker_counts):
                    out["scheduler"] = cluster.overhead(running.address, tasks=tasks,
                                                        payload=64 * 1024)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", type=int, default=500, help="no-op tasks timed")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    figures = measure(args.workers, args.tasks)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
