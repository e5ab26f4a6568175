"""Links from the class report to each student's files: graded notebook, feedback, log.

The links are relative to ``reports/<assignment>/index.html``, so the page keeps working
when the course folder is moved, copied or opened from a file share. Only files that exist
are linked: feedback exists once ``make feedback`` ran, a graded notebook once the
submission was recorded.
"""

import os
from pathlib import Path
from urllib.parse import quote

LOGS = "logs"  # reports/<assignment>/logs/<student>.log (coursetools.autograde.engine)


def _href(target, page_dir):
    return quote(Path(os.path.relpath(target, page_dir)).as_posix())


def student_files(course, assignment, student, page_dir):
    """``[(label, href)]`` of the student's graded notebooks, feedback pages and log."""
    found = []
    notebooks = sorted(course.path("autograded", student, assignment).glob("*.ipynb"))
    feedback = sorted(course.path("feedback", student, assignment).glob("*.html"))
    for kind, paths in (("notebook", notebooks), ("feedback", feedback)):
        for path in paths:
            label = kind if len(paths) == 1 else f"{kind} {path.stem}"
            found.append((label, _href(path, page_dir)))
    log = course.reports(assignment) / LOGS / f"{student}.log"
    if log.is_file():
        found.append(("log", _href(log, page_dir)))
    return found
