"""Links from the class report to each submission's page in nbgrader's formgrader.

``formgrader_links(course, assignment, students)`` returns ``{student: url}``:

- a submission with an autograded notebook: formgrader's grading page of that notebook,
  ``<base>/formgrader/submissions/<id>/`` (``id``: the gradebook's SubmittedNotebook id),
  where its tests, answers and flag are and its written answers are graded;
- one without (an invalid notebook: nothing was executed): the student's page of the
  assignment, ``<base>/formgrader/manage_students/<student>/<assignment>``.

``base`` defaults to where ``make formgrade`` listens (``coursetools.commands.formgrade``);
the links work while it runs, in the browser that opened the URL it printed (the token in
that URL logs the browser in). A student missing from the gradebook gets no link.

``link_cell(url, text)`` is the HTML of one table cell's link, escaped.
"""

import html

from coursetools.course import Course


def formgrader_links(course, assignment, students, base_url=None):
    """``{student: formgrader URL}`` of each of ``students`` found in the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    from coursetools.commands.formgrade import base_url as default_base

    course = Course.of(course)
    base = (base_url or default_base()).rstrip("/")
    database = course.sqlite_path()
    if database is not None and not database.is_file():
        return {}
    links = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for student in students:
            try:
                found = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            graded = [nb for nb in sorted(found.notebooks, key=lambda nb: nb.name)
                      if (course.path("autograded", student, assignment)
                          / f"{nb.name}.ipynb").is_file()]
            if graded:
                links[student] = f"{base}/formgrader/submissions/{graded[0].id}/"
            else:
                links[student] = f"{base}/formgrader/manage_students/{student}/{assignment}"
    return links


def link_cell(url, text):
    """``<a href=url>text</a>``, both escaped; plain ``text`` when there is no url."""
    if not url:
        return html.escape(str(text))
    return f'<a href="{html.escape(url)}">{html.escape(str(text))}</a>'
