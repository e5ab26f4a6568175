"""Kill one worker of a local Dask cluster (cluster_bench.LocalProcesses) while it grades."""

import threading
import time


class KillWhenBusy:
    """A thread that waits for a worker with a task, lets it work ``after`` seconds into it,
    then kills it; ``killed`` is its name (None until then). With ``replace``, a new worker
    joins once it is dead."""

    def __init__(self, running, after=1.0, timeout=300, replace=False):
        self.running, self.after, self.timeout = running, after, timeout
        self.replace = replace
        self.killed = None
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            busy = sorted(w for w, keys in self.running.processing().items() if keys)
            if busy:
                name = self.running.names()[busy[0]]
                time.sleep(self.after)  # into the grading of its first submission
                self.running.kill(name)
                self.killed = name
                if self.replace:
                    self.running.workers[int(name[1:])].wait(timeout=30)
                    self.running.workers.append(
                        self.running.add_worker(f"w{len(self.running.workers)}"))
                return
            time.sleep(0.1)

    def join(self, timeout=5):
        self.thread.join(timeout=timeout)
        return self.killed

    def is_dead(self):
        return self.killed is not None and self.running.workers[
            int(self.killed[1:])].poll() is not None
