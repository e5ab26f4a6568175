"""Generate the students' feedback HTML, without the source of hidden tests.

nbgrader's ``GenerateFeedback`` renders each autograded notebook to
``feedback/<student>/<assignment>/<notebook>.html`` with the course's configuration, whose
``HideHiddenTests`` preprocessor (``coursetools.preprocessors``) replaces every hidden-test
block with a one-line note; ``--show-hidden-tests`` restores nbgrader's own behaviour.
Results and points are untouched. The page is the course's (``coursetools.feedback_template``,
also set in ``nbgrader_config.py``): contents by test name and points, formulas drawn into
the page, no network needed.

    python -m coursetools feedback [--assignment ID] [--student ID] [--show-hidden-tests]
"""

from coursetools.course import Course, CourseError


def add_arguments(parser):
    parser.add_argument("--assignment", help="assignment id (default: every autograded one)")
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument("--show-hidden-tests", action="store_true",
                        help="show the source of hidden tests (nbgrader's own behaviour)")


def generate(course, assignment, students=None, show_hidden=False, progress=True):
    """Feedback for ``students`` (default: every autograded one) of ``assignment``.

    Returns ``{student: [html paths]}``; a CourseError names the student whose feedback
    nbgrader could not generate."""
    from nbgrader.converters import GenerateFeedback
    from tqdm import tqdm

    course = Course.of(course)
    students = list(students) if students is not None else course.graded_students(assignment)
    if not students:
        raise CourseError(f"nothing autograded for {assignment} under "
                          f"{course.path('autograded')}: run `make autograde` first")
    # the page's template and exporter are the course's configuration (nbgrader_config.py)
    config = course.derive(**({"HideHiddenTests.enabled": False} if show_hidden else {}))
    written = {}
    for student in tqdm(students, desc="feedback", unit="student", disable=not progress):
        course.convert(GenerateFeedback, assignment, student, config=config)
        written[student] = sorted(course.path("feedback", student, assignment).glob("*.html"))
    return written


def run(course, args):
    if args.assignment:  # feedback is made from autograded/, whatever source/ holds now
        chosen = [args.assignment]
    else:
        chosen = [a for a in course.assignments() if course.graded_students(a)]
        if not chosen:
            raise CourseError(f"nothing autograded under {course.path('autograded')}: run "
                              "`make autograde` first")
    hidden = "shown" if args.show_hidden_tests else "hidden"
    for assignment in chosen:
        written = generate(course, assignment, args.student, args.show_hidden_tests)
        files = sum(len(v) for v in written.values())
        print(f"feedback: {files} file(s) for {len(written)} student(s) in "
              f"{course.path('feedback')}/<student>/{assignment}/ (hidden test source {hidden})")
    return 0
