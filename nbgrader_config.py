"""nbgrader configuration of the course. The course root is this folder."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.root = "."

# Notebooks are executed by the student's kernel name, whatever it says in the file.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Feedback (`make feedback`, or `nbgrader generate_feedback` run by hand) ---------------------
# nbgrader shows students the full source of every test cell, hidden tests included. This course
# replaces each "### BEGIN HIDDEN TESTS" ... "### END HIDDEN TESTS" block with a one-line note
# (and the traceback of a failing hidden test with its error message), so feedback still shows
# every test's result and points. To show the hidden tests anyway, add
# `--HideHiddenTests.enabled=False` (`python -m coursetools.feedback --show-hidden-tests`).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.feedback.HideHiddenTests",  # imported only when feedback is generated
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# --- Collecting an LMS download (`make collect ZIP=file`, i.e. `nbgrader zip_collect`) -----------
# Which student and which notebook each file of the download is, read from its name, e.g.
#   alice_nn_from_scratch.ipynb, alice_nn_from_scratch_2024-05-01_attempt2.ipynb
#   -> submitted/alice/<assignment>/nn_from_scratch.ipynb
# i.e. "<student>_<notebook>[_<anything>].ipynb" (Canvas/Moodle-style exports renamed to this).
# Student ids are letters, digits, "." and "-" (no "_"). The regex is matched against the
# file's full path. Add notebooks as alternatives: (?P<file_id>nb_one|nb_two). Add a
# (?P<timestamp>...) group when the LMS puts the submission time in the name: nbgrader then
# writes timestamp.txt, which the late-submission policy below uses.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.-]+)_(?P<file_id>nn_from_scratch)(?:_[^/]*)?\.ipynb$"
)

# --- Late submissions --------------------------------------------------------------------------
# A submission is late when its timestamp.txt is after the assignment's due date
# (`nbgrader db assignment add nn_from_scratch --duedate="2025-05-01 23:59:00 UTC"`).
# "none": no penalty (the course default); "zero": a late notebook scores 0. For anything else
# (e.g. -10% a day) subclass nbgrader.plugins.LateSubmissionPlugin, override
# late_submission_penalty(student_id, score, total_seconds_late) to return the points to take
# off, and set c.AssignLatePenalties.plugin_class = "yourmodule.YourPlugin".
c.LateSubmissionPlugin.penalty_method = "none"
