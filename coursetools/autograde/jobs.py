"""What travels between the engine and its workers: one run's settings, jobs and results.

A :class:`Job` is one submission to grade; every job of a run shares one :class:`Run`. A
worker answers with a :class:`SubmissionResult`, which the engine completes from the
gradebook (``score``, ``tests``) and writes, through :meth:`SubmissionResult.public`, to
``reports/<assignment>/results.json`` (its schema is in ``coursetools.autograde``).
"""

from dataclasses import dataclass, field

STATUSES = ("graded", "invalid_notebook", "kernel_died", "timeout", "error")


@dataclass(frozen=True)
class Run:
    """The settings every job of one grading run shares (all plain data: it is pickled)."""

    assignment: str
    config: object  # the course's nbgrader configuration (a traitlets Config), read once
    source_dir: str  # the course's source/ folder (nbgrader restores test cells from it)
    scratch: str  # the run's scratch root: each job grades in a folder of its own there
    gradebook: str  # the gradebook template (a copy of the course's, with the assignment)
    logs: str  # reports/<assignment>/logs: one log per student
    sandbox: bool  # False: kernels run without isolation (trusted submissions only)
    limits: dict  # {limit name: value}, resolved once (coursetools.sandbox.limits)
    hidden: tuple  # folders hidden from every kernel besides the sandbox's own list
    threads: int  # BLAS/TensorFlow threads of each kernel
    released: dict  # {notebook name: text of the released notebook}
    secret: str = ""  # the course's grading secret (hex): seeds the hidden cases
    judges: str = ""  # the course's judges/ folder (coursetools.judging)
    # (imports, import_env) of the kernel templates (coursetools.autograde.warm_start), or
    # None: every kernel starts cold
    warm: tuple | None = None


@dataclass(frozen=True)
class Job:
    """One submission of a run."""

    run: Run
    index: int  # its number in the run: names its scratch folder
    student: str
    submission: str  # submitted/<student>/<assignment>/ (only read)


@dataclass
class TestResult:
    """One autograded cell of a graded notebook, as the gradebook holds it."""

    notebook: str
    grade_id: str
    points: float
    max_points: float
    passed: bool


@dataclass
class SubmissionResult:
    """How one submission went. A worker fills the first block; the engine the rest."""

    student: str
    status: str = "graded"  # one of STATUSES
    reason: str = ""  # a sentence when something went wrong, "" when fine
    flags: list = field(default_factory=list)  # findings for a person to look at
    notebooks: list = field(default_factory=list)  # the assignment's notebooks it holds
    executed: str | None = None  # folder of its executed notebooks (None: nothing to record)
    seconds: float = 0.0  # wall time of its phase 1
    judge_seconds: float = 0.0  # of which drawing its hidden cases and judging them
    # where its kernel's time went: start-up, import-only cells, the other cells
    timing: dict = field(default_factory=dict)
    peak_rss: int = 0  # bytes: its kernel's sandbox at its largest
    peak_pss: int = 0  # the same, pages shared with the kernel template counted once
    kernel_start: str = ""  # "warm" (forked from a template) or "cold"
    cold_reason: str = ""  # why its kernel started cold although warm kernels were asked for
    grader_peak_rss: int = 0  # bytes: the grading worker's own peak so far
    # from the gradebook, after recording
    score: float | None = None  # None: the tool failed on it (status "error")
    max_score: float | None = None
    tests: list = field(default_factory=list)  # TestResult, in notebook order
    judged: list = field(default_factory=list)  # the grader's verdict of each hidden test

    def fail(self, reason):
        """Mark this result as the tool's failure (not the submission's)."""
        self.status, self.reason = "error", reason
        return self

    def public(self):
        """The entry of ``results.json``."""
        return {
            "student": self.student, "status": self.status, "reason": self.reason,
            "flags": list(self.flags), "score": self.score, "max_score": self.max_score,
            "seconds": round(float(self.seconds or 0.0), 3),
            "judge_seconds": round(self.judge_seconds, 3),
            "timing": {name: round(value, 3) for name, value in self.timing.items()},
            "tests": [vars(test).copy() for test in self.tests],
            "judged": [verdict.public() for verdict in self.judged],
            "peak_rss_mib": round(self.peak_rss / 1024**2, 1),
            "peak_pss_mib": round(self.peak_pss / 1024**2, 1),
            "kernel_start": self.kernel_start,
            "grader_rss_mib": round(self.grader_peak_rss / 1024**2, 1),
        }
