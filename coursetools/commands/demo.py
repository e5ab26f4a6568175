"""The whole instructor loop on the bundled example class, in a scratch course.

1. rebuild release/ and solutions/ when missing or stale (``coursetools.commands.release``);
2. make a scratch course under ``.scratch/demo/`` (git-ignored, wiped on every run; the
   course's own submitted/ is never touched);
3. write the example class there (``coursetools.example_class``);
4. autograde it, sandboxed and in parallel (``coursetools.autograde``), which writes
   grades.csv and the class report;
5. generate the students' feedback (hidden tests hidden);
6. print the grade table and where the report and feedback are.

    python -m coursetools demo [--assignment ID] [--jobs N]
"""

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

from coursetools import example_class
from coursetools.commands import feedback, release
from coursetools.course import REPOSITORY, Course, CourseError
from coursetools.judging.cases import judges_dir

SCRATCH = REPOSITORY / ".scratch" / "demo"


def add_arguments(parser):
    parser.add_argument("--assignment", default=example_class.ASSIGNMENT,
                        help=f"the assignment of the example class (default "
                             f"{example_class.ASSIGNMENT})")
    parser.add_argument("--jobs", type=int, help="parallel grading jobs (default: the engine's)")


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
            raise CourseError(f"another {what} is using {folder} (pid {holder}): "
                              "wait for it to finish") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_release(course):
    """Rebuild release/ and solutions/ when they are missing or out of step with source/."""
    found = course.chosen()
    missing = [a for a in found if not course.notebooks("release", a)]
    if missing:
        print(f"release/ lacks {', '.join(missing)}: building it (make release)...", flush=True)
        release.build(course)
        return
    print("checking that release/ and solutions/ are up to date with source/...", flush=True)
    stale = release.stale_files(course)
    if stale:
        print(f"{len(stale)} generated file(s) stale: rebuilding (make release)...", flush=True)
        release.build(course)


def make_course(target, origin=REPOSITORY):
    """A fresh nbgrader course at ``target``: ``origin``'s configuration, source/, release/
    and judges/, and a gradebook that knows every assignment. Never ``origin`` itself."""
    from nbgrader.converters import GenerateAssignment

    origin = Course.of(origin)
    target = Path(target).resolve()
    if target == origin.root or target in origin.root.parents:
        raise CourseError(f"refusing to wipe {target}: the demo needs a scratch folder")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(origin.root / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(origin.path("source"), target / "source")
    shutil.copytree(origin.path("release"), target / "release")
    if judges_dir(origin).is_dir():
        shutil.copytree(judges_dir(origin), target / "judges")
    course = Course(target)
    for assignment in course.assignments():
        # records the assignment's cells (hidden tests included) in the scratch gradebook
        course.convert(GenerateAssignment, assignment)
    return course


def prepare(target, assignment=example_class.ASSIGNMENT, origin=REPOSITORY):
    """A fresh scratch course at ``target`` with the example class in its submitted/."""
    course = make_course(target, origin)
    written = example_class.write_class(course, assignment, origin)
    print(f"example class: {len(written)} submissions in {course.path('submitted')}/",
          flush=True)
    return course


def grade_and_feedback(course, assignment=example_class.ASSIGNMENT, jobs=None):
    """Autograde the course's submissions, then feedback for every autograded notebook (a
    timed-out or crashed one too: its feedback shows where it stopped); the results."""
    from coursetools.autograde import autograde

    course = Course.of(course)
    results = autograde(course, assignment, jobs=jobs)
    if course.graded_students(assignment):
        feedback.generate(course, assignment)
    return results


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


def run(course, args):
    from coursetools.report import manual_cells

    assignment = course.check_assignment(args.assignment)
    with scratch_lock(SCRATCH, "make demo"):
        ensure_release(course)
        scratch = prepare(SCRATCH, assignment, course)
        results = grade_and_feedback(scratch, assignment, args.jobs)
    print()
    print(table(results))
    print()
    rel = SCRATCH.relative_to(REPOSITORY)
    manual = manual_cells(scratch, assignment)
    if manual:
        print(f"{sum(manual.values()):g} of the {results['max_score']:g} points are written "
              "answers graded by hand (make formgrade, then make export): not in these scores yet.")
    print(f"graded {len(results['submissions'])} submissions in {results['seconds']:.0f} s "
          f"({results['jobs']} jobs, sandbox: {results['sandbox']})")
    print(f"report:   {rel}/reports/{assignment}/index.html")
    print(f"grades:   {rel}/grades.csv")
    print(f"feedback: {rel}/feedback/<student>/{assignment}/")
    return 0
