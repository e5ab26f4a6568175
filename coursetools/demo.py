"""`make demo`: the whole instructor loop on the bundled example class, in a scratch course.

1. rebuild ``release/`` and ``solutions/`` when missing or stale (``coursetools.release``);
2. make a scratch course under ``.scratch/demo/`` (git-ignored, wiped on every run; the
   repository's own ``submitted/`` is never touched);
3. write the example class there (``coursetools.example_class``);
4. autograde it, sandboxed and in parallel (``coursetools.grading.autograde``), which
   writes ``grades.csv`` and the class report;
5. generate the students' feedback (``coursetools.feedback``, hidden tests hidden);
6. print the grade table and where the report and feedback are.
"""

import argparse
import contextlib
import fcntl
import os
import shutil
import sys
from pathlib import Path

from coursetools import example_class, feedback, release, report
from coursetools.gradebook import GradingError
from coursetools.paths import COURSE_ROOT, RELEASE, SOURCE, assignments, run_nbgrader

SCRATCH = COURSE_ROOT / ".scratch" / "demo"


class DemoError(Exception):
    """Something the demo cannot go on without, said in one line."""


@contextlib.contextmanager
def scratch_lock(folder, what):
    """Hold ``<folder>.lock`` while using ``folder``: a second run would wipe it mid-way."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise DemoError(f"another {what} is using {folder} (pid {holder}): "
                            "wait for it to finish") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_release(root=COURSE_ROOT):
    """Rebuild release/ and solutions/ when they are missing or out of step with source/."""
    found = assignments(root)
    if not found:
        raise DemoError(f"no assignment under {Path(root) / SOURCE}/")
    missing = [a for a in found if not any((Path(root) / RELEASE / a).glob("*.ipynb"))]
    if missing:
        print(f"release/ lacks {', '.join(missing)}: building it (make release)...", flush=True)
        release.build(root)
        return
    print("checking that release/ and solutions/ are up to date with source/...", flush=True)
    stale = release.stale_files(root)
    if stale:
        print(f"{len(stale)} generated file(s) stale: rebuilding (make release)...", flush=True)
        release.build(root)


def make_course(course, root=COURSE_ROOT):
    """A fresh nbgrader course at ``course``: the repository's config, source/ and release/,
    and a gradebook that knows every assignment. Never the repository itself."""
    course, root = Path(course).resolve(), Path(root).resolve()
    if course == root or course in root.parents:
        raise DemoError(f"refusing to wipe {course}: the demo needs a scratch folder")
    shutil.rmtree(course, ignore_errors=True)
    course.mkdir(parents=True)
    shutil.copy2(root / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(root / SOURCE, course / SOURCE)
    shutil.copytree(root / RELEASE, course / RELEASE)
    for assignment in assignments(course):
        # records the assignment's cells (hidden tests included) in the scratch gradebook
        run_nbgrader(["generate_assignment", assignment, "--force"], cwd=course)
    return course


def grade(course, assignment, jobs=None):
    """Autograde ``course/submitted`` with the course's engine (sandboxed, parallel), which
    also writes grades.csv and the class report; return its results dict."""
    from coursetools import grading

    return grading.autograde(Path(course), assignment, jobs=jobs)


def prepare(course, assignment=example_class.ASSIGNMENT, root=COURSE_ROOT):
    """A fresh scratch course at ``course`` with the example class in its submitted/."""
    course = make_course(course, root)
    example_class.write_class(course, assignment, root)
    print(f"example class: {len(example_class.STUDENTS)} submissions in {course / 'submitted'}/",
          flush=True)
    return course


def grade_and_feedback(course, assignment=example_class.ASSIGNMENT, jobs=None):
    """Autograde the course's submissions, then feedback for every autograded notebook (a
    timed-out or crashed one too: its feedback shows where it stopped); the results."""
    results = grade(course, assignment, jobs)
    if feedback.graded_students(course, assignment):
        feedback.generate(course, assignment)
    return results


def run_class(course, assignment=example_class.ASSIGNMENT, root=COURSE_ROOT, jobs=None):
    """Scratch course + example class + autograde + feedback; return the results dict."""
    return grade_and_feedback(prepare(course, assignment, root), assignment, jobs)


def table(results):
    """The grade table as text: student, score / max, status, reason."""
    rows = [("student", "score", "status", "reason")]
    for sub in sorted(results["submissions"], key=lambda s: s["student"]):
        score = "-" if sub.get("score") is None else f"{sub['score']:g}"
        why = [sub.get("reason") or ""] + ([f"[flagged: {'; '.join(sub['flags'])}]"]
                                           if sub.get("flags") else [])
        rows.append((sub["student"], f"{score} / {sub.get('max_score', results['max_score']):g}",
                     sub["status"], " ".join(w for w in why if w)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    )


def call_with_one_line_errors(action):
    """``(True, action())``, or ``(False, None)`` after printing the error as one line.

    The commands' expected failures say what is wrong; anything else (a bug, a broken
    environment) says its type too, and NN_TRACEBACK=1 re-raises it with the traceback.
    """
    try:
        return True, action()
    except (DemoError, example_class.ExampleClassError, GradingError, RuntimeError,
            OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except Exception as exc:
        if os.environ.get("NN_TRACEBACK"):
            raise
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(NN_TRACEBACK=1 shows the traceback)", file=sys.stderr)
    return False, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, help="parallel grading jobs (default: the engine's)")
    args = parser.parse_args(argv)
    assignment = example_class.ASSIGNMENT

    def grade():
        with scratch_lock(SCRATCH, "make demo"):
            ensure_release()
            return run_class(SCRATCH, assignment, jobs=args.jobs)

    ok, results = call_with_one_line_errors(grade)
    if not ok:
        return 1
    print()
    print(table(results))
    print()
    rel = SCRATCH.relative_to(COURSE_ROOT)
    manual = report.manual_cells(SCRATCH, assignment)
    if manual:
        print(f"{sum(manual.values()):g} of the {results['max_score']:g} points are written "
              "answers graded by hand (nbgrader formgrader): not in these scores yet.")
    print(f"graded {len(results['submissions'])} submissions in {results['seconds']:.0f} s "
          f"({results['jobs']} jobs, sandbox: {results['sandbox']})")
    print(f"report:   {rel}/reports/{assignment}/index.html")
    print(f"grades:   {rel}/grades.csv")
    print(f"feedback: {rel}/feedback/<student>/{assignment}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
