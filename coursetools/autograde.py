"""`make autograde`: grade every submission, sandboxed and in parallel (see coursetools.grading).

    python -m coursetools.autograde [--assignment ID] [--jobs N] [--course DIR]
                                    [--unsandboxed] [--limit NAME=VALUE ...]

Grades ``submitted/<student>/<assignment>/`` for the named assignment, or for every
assignment that has a release and submissions; writes ``autograded/``, the gradebook,
``grades.csv`` and ``reports/<assignment>/`` (results.json, the class report, logs).
Exit status: 0 when the tool worked (even if submissions failed: their status says why),
2 with one line of explanation when it could not (unknown assignment, nothing submitted,
release missing or stale, no sandbox), 1 with one line on an unexpected failure (``--debug``
shows the traceback), 130 when interrupted.
"""

import argparse
import os
import sys
from pathlib import Path

from coursetools.paths import COURSE_ROOT, nbgrader_env


def _assignments(course, config):
    from coursetools import gradebook

    source = gradebook.course_dir(course, config, "source")
    release = gradebook.course_dir(course, config, "release")
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (release / p.name).is_dir())


def _summary(results):
    counts = {}
    for sub in results["submissions"]:
        counts[sub["status"]] = counts.get(sub["status"], 0) + 1
    flagged = sum(1 for sub in results["submissions"] if sub["flags"])
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return (f"{results['assignment']}: {len(results['submissions'])} submissions ({parts}; "
            f"{flagged} flagged for review) in {results['seconds']:.1f} s, "
            f"{results['jobs']} jobs, sandbox: {results['sandbox']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", help="assignment id (default: all with a release)")
    parser.add_argument("--jobs", type=int, help="parallel kernels (default: number of cores)")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT,
                        help="the nbgrader course root (default: this repository)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run kernels without the sandbox (trusted submissions only)")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="override a limit of coursetools.limits, e.g. cell_timeout=120")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected failure")
    args = parser.parse_args(argv)
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader runs alembic from the venv

    from coursetools import gradebook, grading
    from coursetools.limits import parse_assignments

    try:
        if args.jobs is not None and args.jobs < 1:
            raise grading.GradingError("--jobs must be at least 1")
        limits = parse_assignments(args.limit)
        course = args.course.resolve()
        if not course.is_dir():
            raise grading.GradingError(f"no course folder {course}")
        config = gradebook.load_config(course)
        if args.assignment:
            chosen = [args.assignment]
        else:
            chosen = [a for a in _assignments(course, config)
                      if grading.submissions(course, a, config)]
            if not chosen:
                raise grading.GradingError(
                    f"nothing submitted: no {gradebook.course_dir(course, config, 'submitted')}"
                    "/<student>/<assignment>/ for an assignment with a release")
        for assignment in chosen:
            results = grading.autograde(course, assignment, jobs=args.jobs,
                                        sandbox=not args.unsandboxed, limits=limits,
                                        progress=not args.quiet)
            print(_summary(results))
            for sub in results["submissions"]:
                if sub["status"] != "graded":
                    print(f"  {sub['student']}: {sub['status']}: {sub['reason']}")
            reports = course / grading.REPORTS / assignment
            print(f"  results: {reports / 'results.json'}")
            if results.get("report"):
                print(f"  report:  {results['report']}")
        print(f"grades:  {course / 'grades.csv'}")
    except (grading.GradingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or a broken course: one line, the traceback on request
        if args.debug:
            raise
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(f"error: unexpected failure: {message} (--debug shows where)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
