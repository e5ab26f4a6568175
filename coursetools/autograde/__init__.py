"""The autograding engine: execute in parallel, record serially, on nbgrader's own gradebook.

    from coursetools.autograde import autograde
    results = autograde(Course(), "nn_from_scratch", jobs=4)      # what make autograde runs

SQLite has one writer, and a notebook with TensorFlow takes seconds to run, so the work is
split in phases; every step is nbgrader's own code, driven through its Python API.

=======  ===================================  ==================================================
phase    module                               what it does
=======  ===================================  ==================================================
0        ``prepare``                          release/ must be what source/ generates now; the
                                              gradebook gets the assignment's cells; a copy of
                                              it is the template of phase 1. Meanwhile the
                                              sandbox is probed (``coursetools.sandbox``) and
                                              the workers start (``pool``).
1        ``pool``, ``worker``, ``intake``,    a pool of ``jobs`` workers grades one submission
         ``tamper``                           each at a time in a scratch course: intake,
                                              tamper scan, ``nbgrader autograde`` with the
                                              kernel in the sandbox. Hostile or broken
                                              submissions end as a status, never as an
                                              exception. Nothing is written to the course.
2        ``record``, ``staged``               nbgrader ``Autograde`` with execution off:
                                              ``SaveAutoGrades`` writes the gradebook,
                                              ``autograded/`` gets the graded notebooks. An
                                              SQLite gradebook is recorded while phase 1 runs,
                                              into a copy put in place at the end
                                              (``staged``); any other after phase 1, in the
                                              real course. The scores are checked against the
                                              notebooks, read back and exported to
                                              ``grades.csv``.
=======  ===================================  ==================================================

``engine`` runs the phases, then writes ``reports/<assignment>/results.json`` and the class
report (``coursetools.report``); ``jobs`` holds the dataclasses that travel between them.
Why not one nbgrader run with a sandboxed kernel in the real course: nbgrader grades one
notebook at a time, and parallel nbgrader processes on one SQLite gradebook would contend
for its lock. Nothing under ``submitted/`` is modified, moved or deleted. Logs:
``reports/<assignment>/logs/`` (one per student, nbgrader's and the kernel's own output;
``_prepare.log``, ``_record.log``).

results.json::

    {"assignment": str, "started": iso8601, "seconds": float, "jobs": int,
     "sandbox": "bwrap" | "none", "max_score": float, "limits": {name: value},
     "timings": {"prepare": s, "execute": s, "record": s (after the last kernel)},
     "submissions": [{"student": str,
                      "status": "graded" | "invalid_notebook" | "kernel_died" | "timeout"
                                | "error",
                      "reason": str (a sentence, "" when fine), "flags": [str],
                      "score": float | null (null: the tool failed), "max_score": float,
                      "seconds": float, "judge_seconds": float (of which judging),
                      "peak_rss_mib": float (its kernel's sandbox),
                      "grader_rss_mib": float (the grading worker's own peak so far),
                      "tests": [{"notebook": str, "grade_id": str, "points": float,
                                 "max_points": float, "passed": bool}],
                      "judged": [{"test": str, "passed": bool, "cases": int,
                                  "failed": int, "message": str}]}]}
"""

from coursetools.autograde.engine import autograde

__all__ = ["autograde"]
