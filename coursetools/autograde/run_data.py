"""One grading run's shared data as a Dask worker plugin (imported on the cluster path only:
distributed is not a cost of local runs)."""

from distributed.diagnostics.plugin import WorkerPlugin


class RunData(WorkerPlugin):
    """Carries the data every task of one run needs (``cluster.DaskPool.shared``). The
    scheduler keeps the plugin and installs it on every worker that joins, so a worker started
    to replace a lost one has the data too; tasks read it from ``get_worker().plugins``."""

    def __init__(self, name, shared):
        self.name, self.shared = name, shared
