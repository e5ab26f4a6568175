"""Grade every submission, sandboxed and in parallel; export grades.csv and the class report.

Grades ``submitted/<student>/<assignment>/`` for the named assignment, or for each
assignment that has a release and submissions in turn, with the engine of
``coursetools.autograde``; writes ``autograded/``, the gradebook, ``grades.csv`` and
``reports/<assignment>/`` (results.json, the class report, logs). A broken submission is
reported, never fatal: its status says why.

    python -m coursetools autograde [--assignment ID] [--jobs N] [--unsandboxed]
                                    [--limit NAME=VALUE ...] [--quiet]
                                    [--scheduler tcp://HOST:8786 | local]

``--scheduler`` grades on that Dask cluster (default: ``NN_GRADING_SCHEDULER``, else
``c.GradingCluster.scheduler_address``, else the local process pool; see
docs/deployment.md).
"""

import argparse

from coursetools.course import CourseError


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser):
    parser.add_argument("--assignment", help="assignment id (default: all with a release)")
    parser.add_argument("--jobs", type=_positive,
                        help="parallel kernels (default: number of cores)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run kernels without the sandbox (trusted submissions only)")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="override a limit of coursetools.sandbox.limits, e.g. "
                             "cell_timeout=120")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on this Dask scheduler (tcp://host:8786), or `local` for "
                             "the local pool (default: $NN_GRADING_SCHEDULER, else "
                             "GradingCluster.scheduler_address, else local)")


def summary(results):
    """One line about a run: how many submissions ended how, and how long it took."""
    counts = {}
    for sub in results["submissions"]:
        counts[sub["status"]] = counts.get(sub["status"], 0) + 1
    flagged = sum(1 for sub in results["submissions"] if sub["flags"])
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return (f"{results['assignment']}: {len(results['submissions'])} submissions ({parts}; "
            f"{flagged} flagged for review) in {results['seconds']:.1f} s, "
            f"{results['jobs']} jobs, sandbox: {results['sandbox']}")


def run(course, args):
    from coursetools.autograde import autograde
    from coursetools.sandbox.limits import parse_assignments

    try:
        limits = parse_assignments(args.limit)
    except ValueError as exc:
        raise CourseError(str(exc)) from None
    if args.assignment:
        chosen = [args.assignment]
    else:
        chosen = [a for a in course.assignments(released_only=True) if course.submissions(a)]
        if not chosen:
            raise CourseError(f"nothing submitted: no {course.path('submitted')}"
                              "/<student>/<assignment>/ for an assignment with a release")
    for assignment in chosen:
        results = autograde(course, assignment, jobs=args.jobs, sandbox=not args.unsandboxed,
                            limits=limits, progress=not args.quiet,
                            scheduler=args.scheduler)
        print(summary(results))
        if results["kernels"]["cold_reason"]:
            print(f"  kernels started cold ({results['kernels']['cold_reason']}): the grades "
                  "are the same, grading is slower")
        for sub in results["submissions"]:
            if sub["status"] != "graded":
                print(f"  {sub['student']}: {sub['status']}: {sub['reason']}")
        print(f"  results: {course.reports(assignment) / 'results.json'}")
        print(f"  report:  {results['report']}")
    print(f"grades:  {course.root / 'grades.csv'}")
    return 0
