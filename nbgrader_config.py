"""nbgrader configuration of the course. The course root is this folder."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.root = "."
# The executed solutions are committed in solutions/ (nbgrader's default is solution/).
c.CourseDirectory.solution_directory = "solutions"

# Notebooks are executed by the student's kernel name, whatever it says in the file.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Hidden tests: judged by the grader, outside the student's kernel ---------------------------
# Each test cell's hidden block only calls the student's functions on inputs the grader sends
# and sends back the results (nnscratch.hidden); judges/<assignment>.py draws those inputs
# from the course's secret (grading_secret.key, made on first use, git-ignored) and holds the
# reference answers. InjectHiddenCases and JudgeHiddenCases run around the kernel, so that
# `nbgrader autograde` run by hand (or formgrader's Autograde button) and `nbgrader
# generate_solution` judge the same way as `make autograde`; without them a hidden test fails.
# Rotate the secret with `python -m coursetools secret --rotate`, then regrade.
c.Autograde.autograde_preprocessors = [
    "coursetools.preprocessors.InjectHiddenCases",
    "nbgrader.preprocessors.Execute",
    "coursetools.preprocessors.JudgeHiddenCases",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GenerateSolution.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.ClearMarkScheme",
    "coursetools.preprocessors.InjectHiddenCases",
    "nbgrader.preprocessors.Execute",
    "coursetools.preprocessors.JudgeHiddenCases",
]

# --- Kernels that start warm (`make autograde`) ----------------------------------------------
# Each parallel job's grading kernels are forked from a template process (in the sandbox too)
# that has imported these once, instead of each kernel importing them again (about half of a
# submission's time). Without this list: what the assignment's locked cells import. An entry
# is a module, or `module:name,name` for `from module import name, name`.
# Keras and TensorFlow are imported by cells students may edit, so they are listed here, with
# the settings the notebook makes before importing TensorFlow (TensorFlow reads them when it
# is imported: a kernel forked from a template imported otherwise would compute differently).
# Only the instructor's configuration decides what a template imports; no student code runs
# there. `c.WarmKernels.enabled = False` starts every kernel cold (the grades are the same).
c.WarmKernels.imports = [
    "numpy", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
    "nnscratch.data", "nnscratch.gradcheck", "nnscratch.plotting",  # (`import nnscratch` is lazy)
    "nnscratch.testing", "nnscratch.progress", "nnscratch.explore", "nnscratch.hidden",
    "keras", "tensorflow",
]
c.WarmKernels.import_env = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}

# --- Feedback (`make feedback`, or `nbgrader generate_feedback` run by hand) ---------------------
# nbgrader shows students the full source of every test cell, hidden tests included. This course
# replaces each "### BEGIN HIDDEN TESTS" ... "### END HIDDEN TESTS" block with a one-line note
# (and the traceback of a failing hidden test with its error message), so feedback still shows
# every test's result and points. To show the hidden tests anyway, add
# `--HideHiddenTests.enabled=False` (`python -m coursetools feedback --show-hidden-tests`).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.preprocessors.HideHiddenTests",  # imported only when feedback is generated
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The page is nbgrader's feedback template, extended (coursetools/feedback_template/): its
# contents name every graded cell and its points ("test_sigmoid — 0 / 2"), long outputs wrap
# instead of scrolling, and formulas are drawn into the page as it is made (matplotlib's
# mathtext), so it needs no MathJax and no network. Without this line: nbgrader's own page.
c.GenerateFeedback.exporter_class = "coursetools.feedback_template.FeedbackExporter"

# --- Validate (the notebook toolbar's button, or `nbgrader validate` by hand) ---------------------
# nbgrader counts every written answer still "YOUR ANSWER HERE" as a failed cell, ahead of the
# real test failures. Ignoring checksums stops that; it also drops nbgrader's "THE CONTENTS OF
# n TEST CELL(S) HAVE CHANGED" warning, which the notebook's progress summary gives instead
# (nnscratch.progress: the written answers still empty, and the locked cells changed, compared
# with release/). The grader restores changed test cells whatever this says. What nbgrader
# cannot be configured to do: its JupyterLab dialog has no summary line and shows each failing
# test's source (its layout is fixed in the extension's code); the progress summary is that
# summary.
c.Validator.ignore_checksums = True

# --- Collecting an LMS download (`make collect ZIP=file`, i.e. `nbgrader zip_collect`) -----------
# Which student and which notebook each file of the download is, read from its name, e.g.
#   alice_nn_from_scratch.ipynb, alice_nn_from_scratch_2024-05-01_attempt2.ipynb
#   -> submitted/alice/<assignment>/nn_from_scratch.ipynb
# i.e. "<student>_<notebook>[_<anything>].ipynb", where the notebooks are those the assignment's
# release/ holds (Canvas/Moodle-style exports renamed to this). Student ids are letters,
# digits, "." and "-" (no "_"). `make collect` makes this pattern from release/ for each
# assignment. To use another one, set it here: it is matched against each file's full path,
# with (?P<student_id>...) and (?P<file_id>...) groups, and a (?P<timestamp>...) group when
# the LMS puts the submission time in the name (nbgrader then writes timestamp.txt, which the
# late-submission policy below uses), e.g.
#   c.FileNameCollectorPlugin.named_regexp = (
#       r".*/(?P<student_id>[A-Za-z0-9.-]+)_(?P<file_id>nn_from_scratch)(?:_[^/]*)?\.ipynb$")

# --- Grading on a Dask cluster (docs/deployment.md) -------------------------------------------
# By default `make autograde` grades in a process pool on this machine. To grade on a Dask
# distributed cluster instead (one task per submission, each graded on a worker in the same
# sandbox; the workers need no shared file system), name its scheduler here, or for one run
# with `python -m coursetools autograde --scheduler tcp://host:8786` or the environment
# variable NN_GRADING_SCHEDULER (the flag wins, then the variable, then this file;
# `--scheduler local` forces the local pool), e.g.
#   c.GradingCluster.scheduler_address = "tcp://grading-scheduler:8786"
#   c.GradingCluster.connect_timeout = 10   # seconds to reach the scheduler (default 10)
#   c.GradingCluster.worker_timeout = 60    # seconds to wait for a first worker (default 60)
#   c.GradingCluster.retries = 2            # tries more for a task whose worker was lost

# --- Late submissions --------------------------------------------------------------------------
# A submission is late when its timestamp.txt is after the assignment's due date
# (`nbgrader db assignment add nn_from_scratch --duedate="2025-05-01 23:59:00 UTC"`).
# "none": no penalty (the course default); "zero": a late notebook scores 0. For anything else
# (e.g. -10% a day) subclass nbgrader.plugins.LateSubmissionPlugin, override
# late_submission_penalty(student_id, score, total_seconds_late) to return the points to take
# off, and set c.AssignLatePenalties.plugin_class = "yourmodule.YourPlugin".
c.LateSubmissionPlugin.penalty_method = "none"

# --- Autograding (`make autograde`, i.e. python -m coursetools autograde) ----------------------
# Each submission runs in its own bubblewrap sandbox, as many at once as there are cores.
# Every limit and its default is in one table in coursetools/sandbox/limits.py; change one here
# (or for one run: python -m coursetools autograde --limit cell_timeout=120), e.g.
#   c.GradingLimits.cell_timeout = 120            # seconds a cell may run (default 60)
#   c.GradingLimits.notebook_timeout = 900        # seconds a notebook may take (default 600)
#   c.GradingLimits.memory_bytes = 3 * 1024**3    # memory of one kernel (default 2 GiB)
# The engine sets some nbgrader options itself, whatever this file says: the Autograde
# preprocessor lists (sandboxed execution, hidden tests judged, cell metadata rebuilt from the
# gradebook) and
# OverwriteCells.add_missing_cells = False (a deleted test cell scores 0, as in stock nbgrader;
# nbgrader 0.9.6 fails on re-inserting it when its neighbour is gone too).
