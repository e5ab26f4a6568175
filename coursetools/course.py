"""One course: its ``nbgrader_config.py`` read once, and nbgrader's ``CourseDirectory`` on it.

Every command and the engine take a :class:`Course`. Paths come from nbgrader's own
``CourseDirectory`` (so ``directory_structure`` and the ``*_directory`` settings are
honoured), the gradebook URL from its ``db_url``, the assignments from ``source/``.
nbgrader converters run through :meth:`Course.convert`, the one way this package runs them.

    course = Course()                      # this repository
    course = Course("/srv/ml101")          # any nbgrader course folder
    course.path("submitted", "alice", "ps1")
    course.convert(GenerateFeedback, "ps1", "alice", log_path=...)
"""

import copy
import functools
import logging
import os
import re
import sys
from pathlib import Path

from traitlets.config import Config

REPOSITORY = Path(__file__).resolve().parent.parent  # this repository: the default course
CONFIG_FILE = "nbgrader_config.py"
REPORTS = "reports"  # reports/<assignment>/: results.json, the class report, the logs
STEPS = ("source", "release", "submitted", "autograded", "feedback", "solution")


class CourseError(Exception):
    """What a command cannot do, said in one line for the person who asked (misuse, an
    unusable course, a failed nbgrader step). The command line prints it and exits 1."""


def nbgrader_env(base=None):
    """An environment for nbgrader: the venv's bin/ first on PATH (nbgrader runs alembic)."""
    env = dict(os.environ if base is None else base)
    bindir = str(Path(sys.executable).parent)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def load_config(root):
    """``root/nbgrader_config.py`` as a traitlets Config (empty when there is none)."""
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return Config()
    try:
        return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    except Exception as exc:  # noqa: BLE001 - a broken config file is the user's to fix
        raise CourseError(f"{path} cannot be loaded: {exc}".splitlines()[0]) from None


def file_logger(name, path, fmt="[%(levelname)s] %(message)s"):
    """The logger ``name``, writing to the file ``path`` only (never to the console) until
    ``close_logger``: nbgrader's chatter goes to the logs of reports/, not to the terminal."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
    return logger


def close_logger(logger):
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


class Course:
    """An nbgrader course folder and its configuration (see the module docstring)."""

    def __init__(self, root=REPOSITORY, config=None):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise CourseError(f"no course folder {self.root}")
        self.config = load_config(self.root) if config is None else config
        # nbgrader_config.py says root = "."; the course is where the file is, whatever the cwd
        self.config.CourseDirectory.root = str(self.root)

    @classmethod
    def of(cls, course):
        """``course`` itself when it is a Course, else the Course in that folder."""
        return course if isinstance(course, cls) else cls(course)

    def __repr__(self):
        return f"Course({str(self.root)!r})"

    # a Course reads as its folder: course / "grades.csv", open(course / ...), os.fspath(course)
    def __truediv__(self, other):
        return self.root / other

    def __fspath__(self):
        return str(self.root)

    @functools.cached_property
    def coursedir(self):
        """nbgrader's CourseDirectory of this course (nbgrader is imported on first use)."""
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config)

    def setting(self, section, name, default=None):
        """A value of nbgrader_config.py (``default`` when it does not set it)."""
        part = self.config[section] if section in self.config else {}
        return part[name] if name in part else default

    # --- where things are ------------------------------------------------------------------

    def path(self, step, student=".", assignment="."):
        """nbgrader's folder of ``step`` (source, release, submitted, autograded, feedback,
        solution) for one student and assignment, by the course's ``directory_structure``."""
        if step not in STEPS:
            raise ValueError(f"unknown nbgrader step {step!r}")
        folder = getattr(self.coursedir, f"{step}_directory")
        return Path(os.path.normpath(self.coursedir.format_path(folder, student, assignment)))

    def reports(self, assignment):
        """``reports/<assignment>/`` of this course (the engine's results and logs)."""
        return self.root / REPORTS / assignment

    @property
    def db_url(self):
        return self.coursedir.db_url

    @property
    def course_id(self):
        return self.coursedir.course_id

    def sqlite_path(self):
        """The gradebook's file when it is SQLite, else None."""
        url = self.db_url
        return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None

    # --- the assignments ---------------------------------------------------------------------

    def assignments(self, released_only=False):
        """The assignment ids (folders of ``source/``); with a release only, if asked."""
        source = self.path("source")
        if not source.is_dir():
            return []
        found = sorted(p.name for p in source.iterdir()
                       if p.is_dir() and not p.name.startswith("."))
        if released_only:
            found = [a for a in found if any(self.path("release", ".", a).glob("*.ipynb"))]
        return found

    def check_assignment(self, assignment):
        """``assignment`` when source/ has it, else a CourseError naming the ones it has."""
        if assignment not in self.assignments():
            raise CourseError(f"unknown assignment {assignment!r}: no folder "
                              f"{self.path('source', '.', assignment)} (the course has "
                              f"{', '.join(self.assignments()) or 'none'})")
        return assignment

    def chosen(self, assignment=None, released_only=False):
        """``[assignment]`` when one is named, else every assignment of the course."""
        if assignment:
            return [self.check_assignment(assignment)]
        found = self.assignments(released_only)
        if not found:
            raise CourseError(f"no assignment under {self.path('source')}/"
                              + (" with a release: run `make release`" if released_only else ""))
        return found

    def notebooks(self, step, assignment, student="."):
        """``{notebook name: path}`` of an assignment's notebooks at ``step``."""
        folder = self.path(step, student, assignment)
        return {p.stem: p for p in sorted(folder.glob("*.ipynb"))}

    def released_notebooks(self, assignment):
        """``{notebook name: text}`` of what the students were given."""
        return {name: path.read_text(encoding="utf-8")
                for name, path in self.notebooks("release", assignment).items()}

    def submissions(self, assignment):
        """``{student: folder}`` of ``submitted/<student>/<assignment>/`` (hidden names and
        links skipped)."""
        base = self.path("submitted")
        if not base.is_dir():
            return {}
        found = {}
        for student in sorted(os.listdir(base)):
            folder = self.path("submitted", student, assignment)
            if not student.startswith(".") and folder.is_dir() and not folder.is_symlink():
                found[student] = folder
        return found

    def graded_students(self, assignment):
        """Students with an autograded notebook of ``assignment``."""
        base = self.path("autograded")
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir()
                      if any(self.path("autograded", p.name, assignment).glob("*.ipynb")))

    # --- nbgrader ----------------------------------------------------------------------------

    def derive(self, **settings):
        """A copy of the configuration with ``{"Class.trait": value}`` settings on top."""
        config = copy.deepcopy(self.config)
        for dotted, value in settings.items():
            section, _, name = dotted.partition(".")
            config[section][name] = value
        return config

    def convert(self, converter, assignment, student="*", config=None, log=None, check=True,
                before_start=None):
        """Run the nbgrader converter class ``converter`` (GenerateAssignment, Autograde, ...)
        for ``assignment`` with this course's configuration (or ``config``) and return it.

        nbgrader's log goes to ``log`` (a file path or a Logger; silenced when None).
        ``before_start(converter)`` may adjust the instance first (its preprocessors). A
        failure raises a CourseError naming the log, unless ``check=False``: then the
        converter is returned, and what it wrote says what worked."""
        from nbgrader.converters import NbGraderException
        from nbgrader.coursedir import CourseDirectory

        os.environ["PATH"] = nbgrader_env()["PATH"]  # its Gradebook runs alembic
        config = copy.deepcopy(self.config if config is None else config)
        config.CourseDirectory.assignment_id = assignment
        config.CourseDirectory.student_id = student
        config.BaseConverter.force = True
        owned = not isinstance(log, logging.Logger)
        if owned:
            name = f"coursetools.nbgrader.{converter.__name__}.{id(config)}"
            logger = file_logger(name, log) if log is not None else _silent_logger(name)
        else:
            logger = log
        instance = converter(coursedir=CourseDirectory(config=config), config=config,
                             log=logger)
        if before_start is not None:
            before_start(instance)
        try:
            instance.start()
        except NbGraderException:
            if check:
                who = "" if student == "*" else f" / {student}"
                raise CourseError(f"nbgrader {converter.__name__} failed for {assignment}"
                                  f"{who}{_last_error(log) if owned else ''}") from None
        finally:
            if owned:
                close_logger(logger)
        return instance

    def nbgrader(self, *args):
        """``nbgrader <args>`` in the course folder, as an instructor types it (the apps that
        are not converters, such as zip_collect; and stock nbgrader, to compare with).
        A failure is a CourseError with nbgrader's last line."""
        import shutil
        import subprocess

        env = nbgrader_env()
        command = shutil.which("nbgrader", path=env["PATH"]) or "nbgrader"
        done = subprocess.run([command, *args], cwd=self.root, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise CourseError(f"nbgrader {args[0]} failed (exit {done.returncode}): "
                              f"{_last_line(done.stderr or done.stdout)}")
        return done


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no message"


def _last_error(log_path):
    """``: <what went wrong> (see <log>)``: the last exception a traceback in nbgrader's log
    ends with, else its first error line."""
    if log_path is None:
        return ""
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f" (see {log_path})"
    raised = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", line)]
    errors = [line[len("[ERROR]"):].strip() for line in lines if line.startswith("[ERROR]")]
    last = (raised[-1] if raised else errors[0] if errors else "")[:300]
    return f"{': ' + last if last else ''} (see {log_path})"


def _silent_logger(name):
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.CRITICAL)
    return logger
