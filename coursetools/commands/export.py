"""After grading by hand: grades.csv and the students' feedback, in one step.

1. ``nbgrader export``: ``grades.csv`` at the course root, every assignment and student of
   the gradebook, with the points given in formgrader;
2. the feedback of every autograded submission (``python -m coursetools feedback``: hidden
   tests hidden), with formgrader's scores and comments;
3. a warning naming the submissions that still have answers to grade by hand (and a note
   naming those graded by hand before a regrade: their points stay, formgrader asks again).

    python -m coursetools export [--assignment ID] [--show-hidden-tests]
"""

from argparse import Namespace

from coursetools.commands import feedback
from coursetools.course import CourseError


def add_arguments(parser):
    parser.add_argument("--assignment",
                        help="feedback for this assignment only (default: every autograded "
                             "one; grades.csv always has them all)")
    parser.add_argument("--show-hidden-tests", action="store_true",
                        help="show the source of hidden tests in the feedback")


def still_to_grade(course, assignment):
    """``(ungraded, to_confirm)``: the students of ``assignment`` with a cell formgrader
    shows as "needs manual grade" that has no manual score yet, and those whose cells all
    have one (given before a regrade: nbgrader keeps the points and asks for a second look,
    since the answer may have changed). Both sorted."""
    from nbgrader.api import Gradebook, MissingEntry

    ungraded, to_confirm = [], []
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            submissions = gb.assignment_submissions(assignment)
        except MissingEntry:
            return [], []
        for submission in sorted(submissions, key=lambda s: s.student.id):
            waiting = [grade for notebook in submission.notebooks for grade in notebook.grades
                       if grade.needs_manual_grade]
            if any(grade.manual_score is None for grade in waiting):
                ungraded.append(submission.student.id)
            elif waiting:
                to_confirm.append(submission.student.id)
    return ungraded, to_confirm


def run(course, args):
    database = course.sqlite_path()
    if database is not None and not database.is_file():
        raise CourseError(f"no gradebook {database}: run `make autograde` first")
    target = course.root / "grades.csv"
    course.nbgrader("export", f"--to={target}")
    print(f"grades:   {target}")
    feedback.run(course, Namespace(assignment=args.assignment, student=None,
                                   show_hidden_tests=args.show_hidden_tests))
    chosen = [args.assignment] if args.assignment else [
        a for a in course.assignments() if course.graded_students(a)]
    for assignment in chosen:
        ungraded, to_confirm = still_to_grade(course, assignment)
        if ungraded:
            print(f"warning: {assignment}: {len(ungraded)} submission(s) still have answers to "
                  f"grade by hand (make formgrade): {', '.join(ungraded)}")
        if to_confirm:
            print(f"note: {assignment}: {len(to_confirm)} submission(s) graded by hand before "
                  "the last regrade keep their points; formgrader asks to confirm them: "
                  f"{', '.join(to_confirm)}")
    return 0
