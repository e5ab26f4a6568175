"""Rebuild the class report (reports/<assignment>/index.html) from results.json.

``make autograde`` writes the report itself; this rebuilds it, e.g. after a change to the
report's code, for the named assignment or for every one with results.

    python -m coursetools report [--assignment ID]
"""

import json

from coursetools.course import CourseError


def add_arguments(parser):
    parser.add_argument("--assignment", help="assignment id (default: every one with results)")


def run(course, args):
    from coursetools.report import write_report

    chosen = [args.assignment] if args.assignment else [
        a for a in course.assignments() if (course.reports(a) / "results.json").is_file()]
    if not chosen:
        raise CourseError(f"no {course.reports('<assignment>')}/results.json: run "
                          "`make autograde` first")
    for assignment in chosen:
        path = course.reports(assignment) / "results.json"
        if not path.is_file():
            raise CourseError(f"no {path}: run `make autograde` first")
        print(f"report: {write_report(course, assignment, json.loads(path.read_text()))}")
    return 0
