"""The instructor grades by hand in formgrader, in a real browser, after `make autograde`.

On a scratch copy of the example class as `make autograde` graded it (the session fixture
``graded_example_class``), the README's grading round from `make formgrade` on:

1. `make formgrade` (``python -m coursetools formgrade``) prints a URL; JupyterLab opens on
   it with the instructor's extensions (Formgrader, Create assignment), on 127.0.0.1 only,
   nothing served without the token;
2. Formgrader > Manage Assignments > the submissions: every submission is there and none
   "needs autograding", with grades.csv's scores;
3. Manual Grading > the assignment > the notebook: the autograded scores are grades.csv's, and
   formgrader's "flagged" marks exactly the submissions the report flags or could not grade
   cleanly (timed out, crashed);
4. one student's submission: its autograded tests show the gradebook's points (their sum is
   grades.csv's score); points and a comment for each written answer (the recap questions),
   saved;
5. `make export` (``python -m coursetools export``): grades.csv has the manual points, the
   student's feedback has the comments;
6. the class report's links (``coursetools.report.formgrader_links``) open each flagged
   submission's page in formgrader.

Screenshots: test-artifacts/browser/formgrader-*.png. The tests run in this order and share
the server and the browser tab. `make test PYTEST_ARGS="-m browser"` runs them.
"""

import html
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from formgrader_lab import Formgrade, Formgrader, grades_csv, wait_until
from playwright.sync_api import expect
from student_lab import ASSIGNMENT, free_port

from coursetools.course import Course
from coursetools.report import manual_cells
from coursetools.report.formgrader_links import formgrader_links

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STUDENT = "ada"  # complete and correct: 24 of the 24 autograded points
NOTEBOOK = ASSIGNMENT
# what the instructor gives the written answers in turn, as a share of their points
SHARES = [1.0, 0.75, 0.5, 0.0]


def _share(i):
    return SHARES[i % len(SHARES)]


def _comment(grade_id):
    return f"Formgrader comment on {grade_id}: name the chain rule"


@pytest.fixture(scope="module")
def graded(graded_example_class, tmp_path_factory):
    """A private copy of the graded example class: (Course, {student: result})."""
    folder, results, _ = graded_example_class
    target = tmp_path_factory.mktemp("formgrade") / "course"
    shutil.copytree(folder, target, symlinks=True)
    return Course(target), {s["student"]: s for s in results["submissions"]}


@pytest.fixture(scope="module")
def server(graded, tmp_path_factory):
    started = Formgrade(graded[0].root, free_port(), tmp_path_factory.mktemp("formgrade-home"))
    try:
        yield started.start()
    finally:
        started.stop()


@pytest.fixture(scope="module")
def grader(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    try:
        yield Formgrader(context.new_page(), server)
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, grader):
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        grader.screenshot(f"formgrader-FAILED-{request.node.name}")


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.url
    except urllib.error.HTTPError as error:
        return error.code, url


def _listening_addresses(port):
    """The local addresses of the sockets listening on ``port`` (Linux /proc)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port and len(address) == width:
                found.add(address)
    return found


def _expected_flagged(subs):
    return {s for s, sub in subs.items() if sub["flags"] or sub["status"] != "graded"}


def _manual_ids(course):
    return [grade_id for (notebook, grade_id) in manual_cells(course, ASSIGNMENT)
            if notebook == NOTEBOOK]


def _gradebook(course, student):
    """{grade_id: (score, manual_score)} and {grade_id: manual_comment} of a submission."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        found = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        grades = {g.name: (float(g.score), g.manual_score) for g in found.grades}
        comments = {c.name: c.manual_comment for c in found.comments}
    return grades, comments


def test_1_make_formgrade_opens_the_instructors_jupyterlab_on_localhost(grader, server):
    assert server.token and len(server.token) >= 32
    assert _listening_addresses(server.port) <= {"0100007F"}, "not on 127.0.0.1 only"
    assert _listening_addresses(server.port), "nothing listens on the printed port"
    # nothing without the token: the API refuses, formgrader sends to the login page
    assert _status(f"{server.base}/api/status")[0] == 403
    status, landed = _status(f"{server.base}/formgrader")
    assert status == 200 and "/login" in landed
    grader.open_lab()
    items = grader.nbgrader_menu()
    assert "Formgrader" in items and "Create assignment" in items, items
    grader.screenshot("formgrader-0-nbgrader-menu")
    grader.page.keyboard.press("Escape")
    sidebar = grader.page.locator(".jp-SideBar.jp-mod-right")
    assert "Create Assignment" in sidebar.inner_html()


def test_2_every_submission_is_there_and_none_needs_autograding(grader, graded):
    course, subs = graded
    grades = grades_csv(course)
    grader.open_formgrader()
    grader.screenshot("formgrader-1-manage-assignments")
    row = grader.frame.locator("tr", has=grader.frame.get_by_role("link", name=ASSIGNMENT))
    row.locator("td", has_text=re.compile(rf"^{len(subs)}$")).get_by_role("link").click()
    grader.frame.locator("h1", has_text="Manage Submissions").wait_for()
    rows = {r[1]: r for r in grader.rows(len(subs))}  # name, student, timestamp, status, score, ...
    grader.screenshot("formgrader-2-manage-submissions")
    assert sorted(rows) == sorted(subs)
    statuses = {student: r[3] for student, r in rows.items()}
    assert "needs autograding" not in statuses.values(), statuses
    for student, r in rows.items():
        score, top = grades[student]
        assert r[4] == f"{score:g} / {top:g}", (student, r)


def test_3_manual_grading_shows_grades_csv_scores_and_the_reports_flags(grader, graded):
    course, subs = graded
    grades = grades_csv(course)
    grader.nav("Manual Grading")
    grader.frame.get_by_role("link", name=ASSIGNMENT, exact=True).click()
    grader.frame.locator("tbody a", has_text=re.compile(f"^{NOTEBOOK}$")).click()
    with_notebook = set(course.graded_students(ASSIGNMENT))
    grader.reveal_names(len(with_notebook))
    shown, flagged = {}, set()
    for student in with_notebook:
        row = grader.submission_row(student)
        overall = row.locator("td.score").inner_text().strip()
        code = row.locator("td.code-score").inner_text().strip()
        shown[student] = (overall, code)
        if row.locator("td.flagged").get_attribute("data-search") == "flagged":
            flagged.add(student)
    grader.screenshot("formgrader-3-manual-grading-submissions")
    written = sum(manual_cells(course, ASSIGNMENT).values())
    for student, (overall, code) in shown.items():
        score, top = grades[student]  # nothing graded by hand yet: all autograded points
        autograded_max = top - written
        assert overall == f"{score:g} / {top:g}", (student, overall)
        assert code == f"{score:g} / {autograded_max:g}", (student, code)
    expected = _expected_flagged(subs) & with_notebook
    assert expected, "the example class should have flagged submissions"
    assert flagged == expected


def test_4_points_and_a_comment_for_each_written_answer(grader, graded):
    course, subs = graded
    grader.submission_row(STUDENT).locator("a.name-shown").click()
    grader.frame.locator("input.score").first.wait_for()
    manual = manual_cells(course, ASSIGNMENT)
    recap = _manual_ids(course)
    assert recap, "the assignment has no written answer to grade by hand"
    # the autograded tests show the gradebook's points, which add up to grades.csv's score
    before, _ = _gradebook(course, STUDENT)
    tests = {t["grade_id"]: t["points"] for t in subs[STUDENT]["tests"]}
    shown = {}
    for grade_id in tests:
        if grade_id in recap:
            continue
        # formgrader shows the autograder's points as the placeholder of the manual score
        box = grader.frame.locator(f"input.score[id='{grade_id}']")
        expect(box).to_have_attribute("placeholder", re.compile(r"^\d"))
        assert box.input_value() == "", f"{grade_id} has a manual score already"
        shown[grade_id] = float(box.get_attribute("placeholder"))
    assert shown == {g: p for g, p in tests.items() if g not in recap}
    assert shown == {g: before[g][0] for g in shown}
    assert sum(shown.values()) == grades_csv(course)[STUDENT][0]

    given = {}
    for i, grade_id in enumerate(recap):
        points = _share(i) * manual[(NOTEBOOK, grade_id)]
        grader.give(grade_id, points, _comment(grade_id))
        given[grade_id] = points

    def saved():
        grades, comments = _gradebook(course, STUDENT)
        return all(grades[g][1] == p and comments.get(g) == _comment(g) for g, p in given.items())

    wait_until(saved, "formgrader to save the points and comments in the gradebook")
    first = grader.frame.locator(f"input.score[id='{recap[0]}']")
    grader.screenshot("formgrader-4-written-answers-graded", first)
    grader.frame.locator(f"input.score[id='{recap[-1]}']").scroll_into_view_if_needed()
    grader.screenshot("formgrader-5-written-answers-graded-last")


def test_5_export_writes_the_manual_points_and_the_comments(graded):
    course, subs = graded
    before = grades_csv(course)
    recap = _manual_ids(course)
    manual = manual_cells(course, ASSIGNMENT)
    expected_manual = sum(_share(i) * manual[(NOTEBOOK, g)] for i, g in enumerate(recap))
    # what `make export` runs
    done = subprocess.run([sys.executable, "-m", "coursetools", "export", "--course",
                           str(course.root)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = grades_csv(course)
    assert after[STUDENT][0] == before[STUDENT][0] + expected_manual
    assert {s: v for s, v in after.items() if s != STUDENT} == {
        s: v for s, v in before.items() if s != STUDENT}
    page = (course.path("feedback", STUDENT, ASSIGNMENT) / f"{NOTEBOOK}.html").read_text()
    for grade_id in recap:
        assert html.escape(_comment(grade_id)) in page, grade_id
    waiting = done.stdout.split("still have answers to grade by hand")
    assert len(waiting) == 2 and STUDENT not in waiting[1].split("\n")[0], done.stdout


def test_6_report_links_open_each_flagged_submission_in_formgrader(grader, graded, server):
    course, subs = graded
    flagged = sorted(_expected_flagged(subs))
    links = formgrader_links(course, ASSIGNMENT, flagged, base_url=server.base)
    assert sorted(links) == flagged
    for student in flagged:
        grader.page.goto(links[student])
        if student in course.graded_students(ASSIGNMENT):
            grader.page.locator("input.score").first.wait_for()
            name = grader.page.locator(".live-notebook a.name-shown")
            assert name.text_content().strip() == student, links[student]
        else:  # nothing was executed: the student's page of the assignment
            grader.page.locator("h1", has_text="Manage Students").wait_for()
            assert student in grader.page.locator(".breadcrumb").inner_text()
            # as nbgrader shows a missing notebook: 0 points, nothing to open
            expect(grader.page.locator("tbody")).to_contain_text(f"{NOTEBOOK} (file missing)")
        grader.screenshot(f"formgrader-6-report-link-{student}")
