"""Every limit the autograder puts on a submission, with its default, in this one place.

=====================  =========  ================================================================
limit                  default    what happens at the limit
=====================  =========  ================================================================
cell_timeout           60 s       the cell is interrupted (KeyboardInterrupt) and scores 0; a
                                  kernel that ignores the interrupt is killed ("timeout")
interrupt_grace        5 s        after that interrupt, the kernel must answer again within this or
                                  it is killed (cells after it: not run, 0)
notebook_timeout       600 s      wall clock of one notebook, kernel start included: the sandbox
                                  is killed, cells not run score 0 ("timeout")
startup_timeout        60 s       the kernel must answer within this after it starts ("error")
memory_bytes           2 GiB      address space of every process in the sandbox (RLIMIT_AS:
                                  allocations fail, MemoryError) and resident memory of the whole
                                  sandbox (a watchdog kills it: "kernel_died")
cpu_seconds            900 s      CPU time of every process (RLIMIT_CPU: SIGXCPU kills it)
max_processes          256        processes + threads of the sandbox's user (RLIMIT_NPROC; fork
                                  and thread creation fail). Each parallel job runs as its own
                                  user when the grader is root, so jobs do not share this budget
max_file_bytes         64 MiB     size of any one file a kernel writes (RLIMIT_FSIZE: EFBIG)
max_open_files         1024       file descriptors per process (RLIMIT_NOFILE)
tmp_bytes              256 MiB    size of the sandbox's private /tmp and of its /dev/shm
output_bytes_per_cell  1 MiB      output the grader keeps while a cell runs; beyond it stdout
                                  and displays are dropped (errors, results and the fact that
                                  stderr was written are always kept: they decide the grade)
max_message_bytes      16 MiB     largest message the grader accepts from a kernel (ZeroMQ
                                  MAXMSGSIZE: the kernel's connection drops, the grader's memory
                                  stays bounded)
output_lines           1000       lines of stream output kept per cell in the graded notebook
                                  (nbgrader ``LimitOutput.max_lines``)
traceback_lines        100        lines of a traceback kept (``LimitOutput.max_traceback``)
max_notebook_bytes     32 MiB     a larger submitted notebook is an "invalid_notebook"
=====================  =========  ================================================================

Override a limit in ``nbgrader_config.py`` (``c.GradingLimits.cell_timeout = 120``), on the
command line (``python -m coursetools.autograde --limit cell_timeout=120 --limit memory_bytes=3G``)
or from Python (``grading.autograde(course, "ps1", limits={"cell_timeout": 120})``); later ones
win. nbgrader's own settings that a limit stands for (``Execute.timeout``,
``Execute.startup_timeout``, ``LimitOutput.max_lines``, ``LimitOutput.max_traceback``) are
honoured when ``nbgrader_config.py`` sets them and ``GradingLimits`` does not.
"""

import re

from traitlets import Integer
from traitlets.config import Config, Configurable

KIB, MIB, GIB = 1024, 1024**2, 1024**3

# GradingLimits trait -> the nbgrader (Class, trait) it is passed to
_NBGRADER_TRAITS = {
    "cell_timeout": ("Execute", "timeout"),
    "startup_timeout": ("Execute", "startup_timeout"),
    "output_lines": ("LimitOutput", "max_lines"),
    "traceback_lines": ("LimitOutput", "max_traceback"),
}


class GradingLimits(Configurable):
    """The limits of one grading run (see the module docstring for what each one does)."""

    cell_timeout = Integer(60, help="seconds one cell may run before it is interrupted").tag(
        config=True)
    interrupt_grace = Integer(5, help="seconds an interrupted kernel has to answer again").tag(
        config=True)
    notebook_timeout = Integer(600, help="seconds one notebook may take, kernel start included"
                               ).tag(config=True)
    startup_timeout = Integer(60, help="seconds the kernel may take to start").tag(config=True)
    memory_bytes = Integer(2 * GIB, help="address space per process and resident memory of the "
                           "whole sandbox").tag(config=True)
    cpu_seconds = Integer(900, help="CPU seconds per process").tag(config=True)
    max_processes = Integer(256, help="processes and threads of the sandbox user").tag(config=True)
    max_file_bytes = Integer(64 * MIB, help="largest file a kernel may write").tag(config=True)
    max_open_files = Integer(1024, help="open file descriptors per process").tag(config=True)
    tmp_bytes = Integer(256 * MIB, help="size of the sandbox's /tmp and /dev/shm").tag(config=True)
    output_bytes_per_cell = Integer(MIB, help="output kept by the grader per cell").tag(config=True)
    max_message_bytes = Integer(16 * MIB, help="largest kernel message the grader accepts").tag(
        config=True)
    output_lines = Integer(1000, help="stream lines kept per cell (LimitOutput)").tag(config=True)
    traceback_lines = Integer(100, help="traceback lines kept (LimitOutput)").tag(config=True)
    max_notebook_bytes = Integer(32 * MIB, help="largest submitted notebook file").tag(config=True)


NAMES = tuple(sorted(GradingLimits.class_trait_names(config=True)))


def parse_value(text):
    """``"120"`` -> 120, ``"2G"``/``"512MiB"``/``"64k"`` -> bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", str(text))
    if not match:
        raise ValueError(f"not a whole number (optionally with k/M/G): {text!r}")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number * {"": 1, "K": KIB, "M": MIB, "G": GIB}[unit]


def parse_assignments(items):
    """``["cell_timeout=5", "memory_bytes=1G"]`` -> ``{"cell_timeout": 5, ...}`` (ValueError)."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in NAMES:
            raise ValueError(f"unknown limit {name!r} (known: {', '.join(NAMES)})")
        out[name] = parse_value(value)
    return out


def resolve(course_config=None, overrides=None):
    """The effective limits: defaults < ``course_config`` (nbgrader_config.py) < ``overrides``."""
    config = Config()
    course_config = course_config or Config()
    for name, (klass, trait) in _NBGRADER_TRAITS.items():
        own = course_config.get("GradingLimits", {})
        theirs = course_config.get(klass, {})
        if name not in own and trait in theirs:
            config.GradingLimits[name] = theirs[trait]
    config.merge(Config({"GradingLimits": dict(course_config.get("GradingLimits", {}))}))
    for name, value in (overrides or {}).items():
        if name not in NAMES:
            raise ValueError(f"unknown limit {name!r} (known: {', '.join(NAMES)})")
        config.GradingLimits[name] = value
    return GradingLimits(config=config)


def nbgrader_config(limits):
    """The nbgrader settings that carry ``limits`` (GradingLimits, or ``{name: value}`` of
    every limit), as a Config to merge into nbgrader's."""
    values = limits if isinstance(limits, dict) else {n: getattr(limits, n) for n in NAMES}
    config = Config()
    for name, (klass, trait) in _NBGRADER_TRAITS.items():
        config[klass][trait] = values[name]
    config.GradingLimits = Config({name: values[name] for name in NAMES})
    return config
