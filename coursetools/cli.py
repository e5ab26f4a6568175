"""The one command line: ``python -m coursetools [--debug] <verb> [options]``.

Each verb is a module of ``coursetools.commands`` with a docstring (its help), an
``add_arguments(parser)`` and a ``run(course, args)`` that returns the exit status.

Exit status, the same for every verb:

- 0: done (``autograde``: also when submissions failed; their status says why);
- 1: the verb could not do its job, said in one line (``error: ...``): misuse, an unusable
  course or input, a failed nbgrader step, a stale release found by ``release --check``;
  an unexpected failure also says its type, and ``--debug`` shows its traceback;
- 2: the command line itself is wrong (an unknown option or verb, a malformed value);
- 130: interrupted (Ctrl-C).
"""

import argparse
import importlib
import os
import sys
from pathlib import Path

from coursetools.course import REPOSITORY, Course, CourseError, nbgrader_env

VERBS = ("release", "collect", "autograde", "feedback", "report", "demo", "bench",
         "catalogue", "secret", "formgrade", "export")


def _command(verb):
    return importlib.import_module(f"coursetools.commands.{verb}")


def parser_for(verbs=VERBS):
    parser = argparse.ArgumentParser(
        prog="python -m coursetools", description="The course's tools around nbgrader.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected failure")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in verbs:
        module = _command(verb)
        doc = (module.__doc__ or verb).strip()
        command = sub.add_parser(verb, help=doc.splitlines()[0], description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_argument("--course", type=Path, default=REPOSITORY,
                             help="the nbgrader course folder (default: this repository)")
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the traceback of an unexpected failure")
        module.add_arguments(command)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # only the verb asked for is imported (and its help built): nbgrader is slow to import
    verbs = [a for a in argv if a in VERBS][:1] or VERBS
    args = parser_for(verbs).parse_args(argv)
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader runs alembic from the venv
    try:
        return int(_command(args.verb).run(Course(args.course), args) or 0)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or a broken environment: one line, the traceback on request
        if args.debug:
            raise
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(f"error: unexpected failure: {message} (--debug shows where)", file=sys.stderr)
        return 1
