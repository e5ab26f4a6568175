"""Hostile and broken submissions graded together with honest ones (coursetools.autograde).

One ``autograde`` run (jobs=2) over the stand-in course grades 3 honest submissions and
30+ hostile or broken ones. Each case asserts its own status and score; every case shares
the global checks: honest grades equal their grades when graded alone, nothing under
``submitted/`` changed, no canary file outside the sandbox, no connection reached the
listener, the gradebook holds every student with the scores reported, ``grades.csv`` is
complete. Then: jobs=1 and jobs=2 agree, a re-run regrades cleanly, and misuse of the
command line ends with one line and a non-zero status.
"""

import copy
import csv
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import quick_course as sc
from nbformat.v4 import new_code_cell

from coursetools.autograde import autograde
from coursetools.course import REPOSITORY as COURSE_ROOT
from coursetools.course import nbgrader_env

pytestmark = pytest.mark.slow

LIMITS = {"cell_timeout": 10, "notebook_timeout": 120, "interrupt_grace": 3}
TOKEN = "nnag-hostile-canary-9c1e"
CANARIES = [f"/tmp/{TOKEN}", f"/root/{TOKEN}", f"/var/tmp/{TOKEN}", f"/dev/shm/{TOKEN}",
            str(COURSE_ROOT / TOKEN)]
ANY = None


@dataclass
class Case:
    student: str
    build: object  # (course, ctx) -> dict(nb=..., raw=..., extra=..., links=...)
    status: object  # a status or a set of them
    score: object  # a number, a set of numbers, or ANY
    flagged: bool = False
    note: str = ""
    checks: list = field(default_factory=list)  # more (course, sub) -> None assertions


def _nb(course, sigmoid=sc.SIGMOID, relu=sc.RELU, after=None, code=None):
    nb = sc.submission(course, sigmoid, relu)
    if after is not None:
        sc.insert_after(nb, after, code)
    return {"nb": nb}


def _edit(fn, sigmoid=sc.SIGMOID, relu=sc.RELU):
    def build(course, ctx):
        nb = sc.submission(course, sigmoid, relu)
        fn(nb)
        return {"nb": nb}
    return build


def _delete_test(nb):
    del nb.cells[sc.cell_index(nb, "test_relu")]


def _edit_test(nb):
    nb.cells[sc.cell_index(nb, "test_relu")].source = "pass"


def _duplicate_test(nb):
    i = sc.cell_index(nb, "test_relu")
    fake = copy.deepcopy(nb.cells[i])
    fake.source, fake.id = "pass", "fake-test"
    nb.cells.insert(i, fake)


def _reorder_tests(nb):
    cell = nb.cells.pop(sc.cell_index(nb, "test_relu"))
    nb.cells.insert(sc.cell_index(nb, "relu"), cell)


def _points(nb):
    nb.cells[sc.cell_index(nb, "test_relu")].metadata.nbgrader["points"] = 30


def _grade_id(nb):
    nb.cells[sc.cell_index(nb, "test_relu")].metadata.nbgrader["grade_id"] = "bonus"


def _skip_tag(nb):
    nb.cells[sc.cell_index(nb, "test_relu")].metadata["tags"] = ["skip-execution"]


def _strip(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def _retype(nb):
    cell = nb.cells[sc.cell_index(nb, "test_relu")]
    cell.cell_type = "markdown"
    for key in ("outputs", "execution_count"):
        cell.pop(key, None)


WRITE_OUTSIDE = """
import os
for path in TARGETS:
    try:
        with open(path, "w") as fh:
            fh.write("pwned")
        print("wrote", path)
    except OSError as exc:
        print(type(exc).__name__, path)
"""

SECRETS = """
for path in ["/etc/shadow", GRADEBOOK]:
    try:
        print(open(path, "rb").read(200))
    except OSError as exc:
        print(type(exc).__name__)
"""

NETWORK = """
import socket
for host in ("127.0.0.1", HOST):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, PORT))
        print("connected", host)
    except OSError as exc:
        print(type(exc).__name__, host)
    s.close()
"""

FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
"""

MEMORY_FORK = """
import os, time
for _ in range(4):
    if os.fork() == 0:
        hog = b"x" * (1200 << 20)
        time.sleep(60)
time.sleep(60)
"""

KILL_EVERYTHING = """
import os
for target in (-1, os.getppid(), os.getpid()):  # all it may signal, bwrap's init, itself
    try:
        os.kill(target, 9)
    except OSError:
        pass
"""

PATCH_NUMPY = """
import builtins
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.ones(np.shape(a[0]), dtype=bool)
np.all = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
builtins.round = lambda x, *a: 0
builtins.abs = lambda x: 0
builtins.all = lambda x: True
def sigmoid(z):
    return 0.5 + 0 * z
"""

NDARRAY_SUBCLASS = """
import numpy as np
class Liar(np.ndarray):
    def __eq__(self, other):
        return True
    def __round__(self, n=0):
        return self
    def __abs__(self):
        return np.zeros(self.shape).view(Liar)
def sigmoid(z):
    return np.asarray(z, dtype=float).view(Liar)
"""

REDEFINE_CHECKS = """
def check_close(*args, **kwargs):
    return None
def check_shape(*args, **kwargs):
    return None
def sigmoid(z):
    return z
"""

PATCH_NNSCRATCH = """
import nnscratch.testing
nnscratch.testing.check_close = lambda *args, **kwargs: None
def sigmoid(z):
    return z
"""

HIDE_ERRORS = """
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
def sigmoid(z):
    return z
"""

# --- in-kernel tampering with the tests: the kernel computes, the grader judges ---------------
# Each targets the hidden tests of sigmoid (and relu) from inside the kernel, with a sigmoid
# that is right on the visible input only; none may score more than a blank notebook there.
WRONG_BUT_VISIBLE = "def sigmoid(z):\n    return 0.5 + 0 * z\n"

PATCH_TESTING_SYS_MODULES = """
import sys
testing = sys.modules["nnscratch.testing"]
testing.check_close = testing.check_shape = lambda value, *args, **kwargs: value
testing._fail = lambda *args, **kwargs: None
""" + WRONG_BUT_VISIBLE

FAKE_TESTING_MODULE = """
import sys, types
fake = types.ModuleType("nnscratch.testing")
fake.check_close = fake.check_shape = lambda value, *args, **kwargs: value
sys.modules["nnscratch.testing"] = fake
""" + WRONG_BUT_VISIBLE

COMPUTED_NAMES = """
_m = getattr(__import__("s" + "ys"), "mod" + "ules")
for _name in ["nnscratch." + "testing", "nnscratch." + "hidden"]:
    for _key in list(vars(_m[_name])):
        if _key.startswith(("check", "_fail", "run_")):
            setattr(_m[_name], _key, lambda *args, **kwargs: None)
""" + WRONG_BUT_VISIBLE

# the kernel side of the hidden test replaced by one that answers the grader's request itself
FORGER = """
import json
import nnscratch.hidden as hidden
from IPython.display import display

def publish(payload):
    display({hidden.RESULT_MIME: payload}, raw=True)

def forge(test_id, functions):
    request = json.loads(hidden._requests.pop())
    for case in request["cases"]:
        args = hidden.decode(case["args"])
        for payload in FORGED(test_id, request, case, args):
            publish(payload)

hidden.run_hidden_cases = forge
"""
FORGED_VALUES = FORGER + """
def FORGED(test_id, request, case, args):  # the right format and shapes, wrong values
    yield {"v": 1, "test": test_id, "nonce": request["nonce"], "case": case["id"],
           "result": hidden.encode(args[0] * 0 + 0.5), "args": hidden.encode(args)}
""" + WRONG_BUT_VISIBLE
REPLAYED = FORGER + """
import numpy as np
def FORGED(test_id, request, case, args):  # an honest answer, to another run's inputs
    other = np.random.default_rng(case["id"]).normal(size=np.shape(args[0]))
    yield {"v": 1, "test": test_id, "nonce": "0123456789abcdef", "case": case["id"],
           "result": hidden.encode(1 / (1 + np.exp(-other))), "args": hidden.encode([other])}
""" + WRONG_BUT_VISIBLE
ANOTHER_TEST = FORGER + """
def FORGED(test_id, request, case, args):  # answers labelled as another test's
    other = "test_relu" if test_id == "test_sigmoid" else "test_sigmoid"
    yield {"v": 1, "test": other, "nonce": request["nonce"], "case": case["id"],
           "result": hidden.encode(args[0]), "args": hidden.encode(args)}
""" + WRONG_BUT_VISIBLE
HUGE_PAYLOAD = FORGER + """
def FORGED(test_id, request, case, args):  # one result of 100 MB
    if case["id"] == 0:
        yield {"v": 1, "test": test_id, "nonce": request["nonce"], "case": 0,
               "result": "x" * 100_000_000, "args": hidden.encode(args)}
""" + WRONG_BUT_VISIBLE
MANY_PAYLOADS = FORGER + """
def FORGED(test_id, request, case, args):  # 10,000 small results
    for _ in range(10_000 if case["id"] == 0 else 0):
        yield {"v": 1, "test": test_id, "nonce": request["nonce"], "case": 0,
               "result": 0.5, "args": hidden.encode(args)}
""" + WRONG_BUT_VISIBLE

SHOWTRACEBACK = """
get_ipython().showtraceback = lambda *args, **kwargs: None
""" + WRONG_BUT_VISIBLE
INPUT_TRANSFORMER = """
def _no_hidden(lines):
    return ["pass\\n"] if any("run_hidden_cases" in line for line in lines) else lines
get_ipython().input_transformers_post.append(_no_hidden)
""" + WRONG_BUT_VISIBLE
POST_RUN_CELL = """
from IPython.display import clear_output
get_ipython().events.register("post_run_cell", lambda result: clear_output())
def sigmoid(z):
    return z
"""
FRAME_REWRITE = """
import sys
def sigmoid(z):
    frame = sys._getframe(1)
    while frame is not None:  # every caller: the test cell, the hidden test's kernel side
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and "nonce" in value:
                value["case"] = 0
        frame.f_globals["check_close"] = lambda value, *args, **kwargs: value
        frame = frame.f_back
    return 0.5 + 0 * z
"""
GC_REFERENCES = """
import gc
import numpy as np
def sigmoid(z):
    z = np.asarray(z, dtype=float)
    for obj in gc.get_objects():  # any array of the right shape that is not the input
        if isinstance(obj, np.ndarray) and obj.shape == z.shape and obj is not z:
            return obj.copy()
    return 0.5 + 0 * z
"""

IGNORE_INTERRUPT = """
import signal
def relu(z):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
"""

MEMORY_BOMB = """
def sigmoid(z):
    hog = [b"x" * (64 << 20) for _ in range(100)]
    return hog
"""

SHADOW_FILES = {
    "nnscratch.py": "raise SystemExit('the shadowing nnscratch.py was imported')\n",
    "nnscratch/__init__.py": "",
    "nnscratch/testing.py": "def check_close(*args, **kwargs):\n    return None\n",
}


def _targets(course):
    return [str(course / "gradebook.db"),
            str(course / "submitted" / "honest_full" / sc.ASSIGNMENT / "standin.ipynb"),
            "../../source/standin/standin.ipynb",
            str(course / "source" / sc.ASSIGNMENT / "standin.ipynb"),
            str(course / "evil.txt"), str(COURSE_ROOT / "evil.txt")] + CANARIES


def _prelude(course, ctx):
    return (f"TARGETS = {_targets(course)!r}\nGRADEBOOK = {str(course / 'gradebook.db')!r}\n"
            f"HOST = {ctx['host']!r}\nPORT = {ctx['port']!r}\n")


def _code_case(code, after="test_sigmoid", **kw):
    return lambda course, ctx: _nb(course, after=after, code=_prelude(course, ctx) + code, **kw)


def _no_secret_in_output(course, sub):
    text = (course / "autograded" / sub["student"] / sc.ASSIGNMENT / "standin.ipynb").read_text()
    assert "SQLite format" not in text
    assert "root:" not in text


def _kernel_memory_bounded(course, sub):
    # resident memory of the whole sandbox, as the watchdog sampled it (every 0.2 s: a
    # fast allocator gets a little past the limit before the kill)
    assert sub["peak_rss_mib"] <= 2048 + 1536


def _output_capped(course, sub):
    assert any("output" in f for f in sub["flags"])
    assert sub["grader_rss_mib"] < 1024
    path = course / "autograded" / sub["student"] / sc.ASSIGNMENT / "standin.ipynb"
    assert path.stat().st_size < 3 * 1024**2


def _grader_bounded(course, sub):
    assert sub["grader_rss_mib"] < 1024


def _in_kernel(name, code, relu, score):
    """A submission whose sigmoid cell tampers from inside the kernel (``code``)."""
    checks = [_grader_bounded] if name in ("huge_result", "many_results") else []
    # 10,000 outputs may take longer than the test's cell limit: interrupted, still 0
    status = {"graded", "timeout"} if name == "many_results" else "graded"
    return Case(name, lambda c, x: _nb(c, sigmoid=code, relu=relu), status, score,
                flagged=True, checks=checks)


HONEST = [
    Case("honest_full", lambda c, x: _nb(c), "graded", 5.0),
    Case("honest_partial", lambda c, x: _nb(c, relu=sc.WRONG_RELU), "graded", 2.0),
    Case("honest_sigmoid_wrong", lambda c, x: _nb(c, sigmoid=sc.WRONG_SIGMOID), "graded", 3.0),
]

HOSTILE = [
    # the world outside the sandbox
    Case("write_outside", _code_case(WRITE_OUTSIDE, after="setup"), "graded", 5.0),
    Case("read_secrets", _code_case(SECRETS, after="setup"), "graded", 5.0,
         checks=[_no_secret_in_output]),
    Case("network", _code_case(NETWORK, after="setup"), "graded", 5.0, flagged=True),
    Case("symlinks", lambda c, x: dict(_nb(c), links={
        "shadow.txt": "/etc/shadow", "gradebook.db": str(c / "gradebook.db"),
        "other": str(c / "submitted" / "honest_full")}), "graded", 5.0, flagged=True),
    Case("plant_link", _code_case(
        "import os\nos.symlink(GRADEBOOK, 'standin.ipynb.link')\nos.symlink(GRADEBOOK, 'x')",
        after="setup"), "graded", 5.0, flagged=True),
    # processes and resources
    Case("fork_bomb", _code_case(FORK_BOMB), "kernel_died", 2.0, flagged=True),
    Case("memory_fork", _code_case(MEMORY_FORK), "kernel_died", 2.0, flagged=True,
         checks=[_kernel_memory_bounded]),
    Case("memory_bomb", lambda c, x: _nb(c, sigmoid=MEMORY_BOMB),
         {"graded", "timeout", "kernel_died"}, {0.0, 3.0}, checks=[_kernel_memory_bounded],
         note="MemoryError at the address-space limit (or a stuck traceback, interrupted)"),
    Case("infinite_loop", lambda c, x: _nb(c, sigmoid="def sigmoid(z):\n    while True:\n"
                                                       "        pass\n"), "timeout", 3.0),
    Case("ignore_interrupt", lambda c, x: _nb(c, relu=IGNORE_INTERRUPT), "timeout", 2.0,
         flagged=True),
    Case("output_flood", _code_case("for i in range(60000):\n    print('y' * 1000)"),
         {"graded", "timeout"}, 5.0, checks=[_output_capped]),
    Case("output_bigline", _code_case("print('z' * 60_000_000)"), "graded", 5.0,
         checks=[_output_capped]),
    Case("sys_exit", lambda c, x: _nb(c, relu="import sys\ndef relu(z):\n    sys.exit(0)\n",
                                      after="setup", code="import sys\nsys.exit(1)"),
         "graded", 2.0, flagged=True),
    Case("os_exit", _code_case("import os\nos._exit(3)"), "kernel_died", 2.0, flagged=True),
    Case("kill_everything", _code_case(KILL_EVERYTHING), "kernel_died", 2.0, flagged=True),
    Case("exit_builtin", _code_case("exit()\nquit()"), "graded", 5.0, flagged=True),
    # the tests themselves
    Case("patch_numpy", lambda c, x: _nb(c, sigmoid=PATCH_NUMPY, relu=sc.WRONG_RELU),
         "graded", 0.0, flagged=True),
    Case("ndarray_subclass", lambda c, x: _nb(c, sigmoid=NDARRAY_SUBCLASS, relu=sc.WRONG_RELU),
         "graded", 0.0, flagged=True),
    Case("redefine_checks", lambda c, x: _nb(c, sigmoid=REDEFINE_CHECKS, relu=sc.WRONG_RELU),
         "graded", 0.0, flagged=True),
    Case("patch_nnscratch", lambda c, x: _nb(c, sigmoid=PATCH_NNSCRATCH, relu=sc.WRONG_RELU),
         "graded", 0.0, flagged=True),
    Case("hide_errors", lambda c, x: _nb(c, sigmoid=HIDE_ERRORS, relu=sc.WRONG_RELU),
         "graded", 0.0, flagged=True),
    # in-kernel tampering with the tests and the results (judged outside the kernel)
    *[_in_kernel(name, code, relu, score) for name, code, relu, score in [
          ("patch_testing_sys_modules", PATCH_TESTING_SYS_MODULES, sc.WRONG_RELU, 0.0),
          ("fake_testing_module", FAKE_TESTING_MODULE, sc.RELU, 3.0),
          ("computed_names", COMPUTED_NAMES, sc.WRONG_RELU, 0.0),
          ("forged_values", FORGED_VALUES, sc.WRONG_RELU, 0.0),
          ("replayed_results", REPLAYED, sc.WRONG_RELU, 0.0),
          ("results_for_another_test", ANOTHER_TEST, sc.WRONG_RELU, 0.0),
          ("huge_result", HUGE_PAYLOAD, sc.WRONG_RELU, 0.0),
          ("many_results", MANY_PAYLOADS, sc.WRONG_RELU, 0.0),
          ("showtraceback", SHOWTRACEBACK, sc.WRONG_RELU, 0.0),
          ("input_transformer", INPUT_TRANSFORMER, sc.WRONG_RELU, 0.0),
          ("post_run_cell", POST_RUN_CELL, sc.WRONG_RELU, 0.0),
          ("frame_rewrite", FRAME_REWRITE, sc.WRONG_RELU, 0.0),
          ("gc_references", GC_REFERENCES, sc.RELU, 3.0),
    ]],
    Case("shadow_package", lambda c, x: dict(_nb(c, sigmoid=sc.WRONG_SIGMOID,
                                                 relu=sc.WRONG_RELU), extra=SHADOW_FILES),
         "graded", 0.0, flagged=True),
    # the notebook's structure
    Case("delete_test", _edit(_delete_test), "graded", 2.0, flagged=True),
    Case("edit_test", _edit(_edit_test, relu=sc.WRONG_RELU), "graded", 2.0, flagged=True),
    Case("duplicate_test", _edit(_duplicate_test, relu=sc.WRONG_RELU), "graded", 2.0,
         flagged=True),
    Case("reorder_tests", _edit(_reorder_tests), "graded", 2.0, flagged=True),
    Case("change_points", _edit(_points), "graded", 5.0, flagged=True),
    Case("change_grade_id", _edit(_grade_id), "graded", 2.0, flagged=True),
    Case("strip_metadata", _edit(_strip), "graded", 0.0, flagged=True),
    Case("skip_execution_tag", _edit(_skip_tag, relu=sc.WRONG_RELU), "graded", 2.0,
         flagged=True, note="stock nbgrader + nbclient: 5 points without running the test"),
    Case("retype_test", _edit(_retype, relu=sc.WRONG_RELU), "graded", 2.0, flagged=True),
    Case("invalid_json", lambda c, x: {"raw": '{"cells": [ not json'}, "invalid_notebook",
         0.0),
    Case("not_a_notebook", lambda c, x: {"raw": '{"hello": "world"}'}, "invalid_notebook",
         0.0),
    Case("nbformat_v3", lambda c, x: {"raw": nbformat.writes(
        nbformat.convert(sc.submission(c), 3), version=3)}, "graded", 5.0, flagged=True),
]

CASES = {case.student: case for case in HONEST + HOSTILE}


def _populate(course, cases, ctx):
    for case in cases:
        parts = case.build(course, ctx)
        sc.submit(course, case.student, parts.get("nb"), raw=parts.get("raw"),
                  extra=parts.get("extra"), links=parts.get("links"))


@pytest.fixture(scope="module")
def ctx(tcp_listener):
    return {"host": sc.host_address(), "port": tcp_listener.port}


@pytest.fixture(scope="module")
def graded(standin_template, tmp_path_factory, ctx, tcp_listener):
    for path in CANARIES:
        assert not os.path.exists(path)
    course = sc.copy_course(standin_template, tmp_path_factory.mktemp("hostile") / "course")
    _populate(course, CASES.values(), ctx)
    before = sc.snapshot(course / "submitted")
    results = autograde(course, sc.ASSIGNMENT, jobs=2, limits=LIMITS, progress=False)
    return course, results, before


@pytest.fixture(scope="module")
def alone(standin_template, tmp_path_factory, ctx):
    course = sc.copy_course(standin_template, tmp_path_factory.mktemp("alone") / "course")
    _populate(course, HONEST, ctx)
    return autograde(course, sc.ASSIGNMENT, jobs=1, limits=LIMITS, progress=False)


def _subs(results):
    return {sub["student"]: sub for sub in results["submissions"]}


def _points(sub):
    return {(t["notebook"], t["grade_id"]): t["points"] for t in sub["tests"]}


@pytest.mark.parametrize("student", sorted(CASES))
def test_each_submission_has_its_outcome(graded, student):
    course, results, _ = graded
    case, sub = CASES[student], _subs(results)[student]
    statuses = case.status if isinstance(case.status, set) else {case.status}
    assert sub["status"] in statuses, (sub["reason"], sub["flags"])
    if case.score is not ANY:
        scores = case.score if isinstance(case.score, set) else {case.score}
        assert sub["score"] in scores, (sub["reason"], sub["tests"])
    assert sub["score"] is None or sub["score"] <= sc.MAX_SCORE
    if case.flagged:
        assert sub["flags"], "expected the tamper scan or the checks to flag this"
    if student.startswith("honest"):
        assert sub["flags"] == [] and sub["reason"] == ""
    if sub["status"] != "graded":
        assert sub["reason"]
    for check in case.checks:
        check(course, sub)


def test_honest_grades_equal_their_grades_alone(graded, alone):
    together, by_themselves = _subs(graded[1]), _subs(alone)
    for case in HONEST:
        assert _points(together[case.student]) == _points(by_themselves[case.student])
        assert together[case.student]["score"] == by_themselves[case.student]["score"]


def test_nothing_under_submitted_changed(graded):
    course, _, before = graded
    assert sc.snapshot(course / "submitted") == before


def test_no_canary_outside_the_sandbox(graded):
    course, _, _ = graded
    for path in CANARIES + [str(course / "evil.txt"), str(COURSE_ROOT / "evil.txt")]:
        assert not os.path.exists(path), path
    assert (course / "source" / sc.ASSIGNMENT / "standin.ipynb").read_text() != "pwned"


def test_the_listener_received_nothing(graded, tcp_listener):
    assert tcp_listener.connections == 0


def test_gradebook_and_grades_csv_are_complete(graded):
    course, results, _ = graded
    db = sqlite3.connect(course / "gradebook.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        students = {row[0] for row in db.execute("SELECT id FROM student")}
    finally:
        db.close()
    assert students == set(CASES)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name, sub in _subs(results).items():
            recorded = gb.find_submission(sc.ASSIGNMENT, name).score
            assert sub["score"] in (recorded, None), name
    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(CASES)
    for name, sub in _subs(results).items():
        if sub["score"] is not None:
            assert float(rows[name]["score"]) == sub["score"], name


def test_results_json_is_written_with_its_schema(graded):
    course, results, _ = graded
    saved = json.loads((course / "reports" / sc.ASSIGNMENT / "results.json").read_text())
    assert saved["submissions"] == results["submissions"]
    assert {"assignment", "started", "seconds", "jobs", "sandbox", "max_score",
            "submissions"} <= set(saved)
    assert saved["jobs"] == 2 and saved["sandbox"] == "bwrap" and saved["max_score"] == 5.0
    for sub in saved["submissions"]:
        assert {"student", "status", "reason", "flags", "score", "max_score", "seconds",
                "tests"} <= set(sub)
        for test in sub["tests"]:
            assert set(test) == {"notebook", "grade_id", "points", "max_points", "passed"}


# --- jobs, re-runs ----------------------------------------------------------------------------

SMALL = ["honest_full", "honest_partial", "os_exit", "sys_exit", "delete_test",
         "invalid_json"]


@pytest.fixture(scope="module")
def small_course(standin_template, tmp_path_factory, ctx):
    course = sc.copy_course(standin_template, tmp_path_factory.mktemp("small") / "course")
    _populate(course, [CASES[name] for name in SMALL], ctx)
    return course


def test_jobs_two_and_one_give_the_same_grades_and_a_rerun_regrades_cleanly(small_course):
    first = autograde(small_course, sc.ASSIGNMENT, jobs=2, limits=LIMITS,
                              progress=False)
    second = autograde(small_course, sc.ASSIGNMENT, jobs=1, limits=LIMITS,
                               progress=False)
    for name in SMALL:
        a, b = _subs(first)[name], _subs(second)[name]
        assert (a["status"], a["score"], _points(a)) == (b["status"], b["score"], _points(b))
    assert second["jobs"] == 1

    # the full-marks student hands in again, without the relu test: the old points go
    folder = small_course / "submitted" / "honest_full" / sc.ASSIGNMENT
    nb = sc.submission(small_course)
    _delete_test(nb)
    nbformat.write(nb, folder / "standin.ipynb")
    third = autograde(small_course, sc.ASSIGNMENT, jobs=2, limits=LIMITS,
                              progress=False)
    assert _subs(third)["honest_full"]["score"] == 2.0
    for name in SMALL[1:]:
        assert _subs(third)[name]["score"] == _subs(first)[name]["score"]
    db = sqlite3.connect(small_course / "gradebook.db")
    try:
        rows = db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0]
    finally:
        db.close()
    assert rows == len(SMALL)
    graded_folder = small_course / "autograded" / "honest_full" / sc.ASSIGNMENT
    assert sorted(p.name for p in graded_folder.iterdir()) == ["standin.ipynb",
                                                                "timestamp.txt"]


def test_a_course_without_a_gradebook_is_graded(standin_template, tmp_path):
    # a fresh clone: release/ is committed, gradebook.db (git-ignored) is not there yet
    course = sc.copy_course(standin_template, tmp_path / "course")
    (course / "gradebook.db").unlink()
    sc.submit(course, "first", sc.submission(course))
    results = autograde(course, sc.ASSIGNMENT, jobs=1, limits=LIMITS, progress=False,
                                report=False)
    sub = _subs(results)["first"]
    assert (sub["status"], sub["score"]) == ("graded", sc.MAX_SCORE), sub
    db = sqlite3.connect(course / "gradebook.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == 1
    finally:
        db.close()


# --- the command line -------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "coursetools", "autograde", "--quiet", *args],
                          capture_output=True, text=True, env=nbgrader_env(), timeout=300)


def _one_line_error(result, words):
    assert result.returncode == 1, result.stderr  # coursetools.cli: 1 = could not do it
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert words in lines[0]


def test_cli_refuses_an_unknown_assignment(small_course):
    _one_line_error(_cli("--course", str(small_course), "--assignment", "nope"),
                    "unknown assignment")


def test_cli_refuses_when_nothing_is_submitted(standin_template, tmp_path):
    course = sc.copy_course(standin_template, tmp_path / "course")
    _one_line_error(_cli("--course", str(course)), "nothing submitted")
    _one_line_error(_cli("--course", str(course), "--assignment", sc.ASSIGNMENT),
                    "nothing submitted")


def test_cli_refuses_a_stale_or_missing_release(standin_template, tmp_path):
    course = sc.copy_course(standin_template, tmp_path / "course")
    sc.submit(course, "someone", sc.submission(course))
    source = course / "source" / sc.ASSIGNMENT / "standin.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(new_code_cell("x = 1"))
    nbformat.write(nb, source)
    before = sc.snapshot(course / "submitted")
    _one_line_error(_cli("--course", str(course), "--assignment", sc.ASSIGNMENT),
                    "out of date")
    for path in (course / "release" / sc.ASSIGNMENT).iterdir():
        path.unlink()
    _one_line_error(_cli("--course", str(course), "--assignment", sc.ASSIGNMENT),
                    "make release")
    assert sc.snapshot(course / "submitted") == before


def test_cli_grades_and_says_where_the_results_are(small_course):
    result = _cli("--course", str(small_course), "--jobs", "2",
                  *[f"--limit={k}={v}" for k, v in LIMITS.items()])
    assert result.returncode == 0, result.stderr
    assert "results.json" in result.stdout and "grades.csv" in result.stdout
    assert "Traceback" not in result.stderr
    assert Path(small_course / "grades.csv").is_file()


# --- the static tamper scan on its own ---------------------------------------------------------


@pytest.mark.parametrize("code", [
    "np.allclose = lambda *a, **k: True", "import numpy\nnumpy.testing.assert_allclose = f",
    "import builtins\nbuiltins.round = f", "__builtins__.abs = f", "setattr(np, 'all', f)",
    "import sys\nsys.modules['nnscratch.testing'] = m", "globals()['check_close'] = f",
    "import sys\nt = sys.modules['nnscratch.testing']",
    "def check_close(*a):\n    pass", "abs = lambda x: 0", "np = None",
    "class A(np.ndarray):\n    pass", "class B:\n    def __eq__(self, other):\n        return True",
    "get_ipython().events.register('post_run_cell', f)", "!ls /", "%load_ext foo",
    "import sys\nsys.settrace(f)", "import ctypes", "import gc\ngc.get_referrers(x)",
    "import os\nos._exit(0)", "exec('x = 1')", "(1).__class__.__subclasses__()",
    "import nnscratch.testing as t\nt.check_close = f",
])
def test_tamper_scan_flags(code):
    from coursetools.autograde import tamper

    nb = nbformat.v4.new_notebook(cells=[new_code_cell("import numpy as np"),
                                         new_code_cell(code)])
    assert tamper.scan(nb), code


def test_tamper_scan_leaves_ordinary_solutions_alone():
    from coursetools.autograde import tamper

    honest = """
import numpy as np
import matplotlib.pyplot as plt
plt.rcParams["figure.figsize"] = (6, 4)
def sigmoid(z, *, clip=500.0):
    z = np.clip(z, -clip, clip)
    total = np.sum(z)
    for i, value in enumerate(np.ravel(z)):
        total = total + abs(value)
    return 1.0 / (1.0 + np.exp(-z))
class Layer:
    def __init__(self, n):
        self.w = np.zeros(n)
    def __call__(self, x):
        return x @ self.w
result = sigmoid(np.array([0.0]))
print(result, max(result), round(float(result[0]), 3))
"""
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(honest)])
    assert tamper.scan(nb) == []


# --- limits ------------------------------------------------------------------------------------


def test_limits_come_from_defaults_then_the_config_then_the_caller():
    from traitlets.config import Config

    from coursetools.sandbox import limits

    assert limits.resolve().cell_timeout == 60
    config = Config()
    config.Execute.timeout = 90  # nbgrader's own name for it counts when ours is unset
    config.LimitOutput.max_lines = 50
    assert limits.resolve(config).cell_timeout == 90
    config.GradingLimits.cell_timeout = 120
    assert limits.resolve(config).cell_timeout == 120
    resolved = limits.resolve(config, {"cell_timeout": 7})
    assert resolved.cell_timeout == 7 and resolved.output_lines == 50
    nbgrader = limits.nbgrader_config(resolved)
    assert nbgrader.Execute.timeout == 7 and nbgrader.LimitOutput.max_lines == 50
    assert limits.parse_assignments(["memory_bytes=3G", "cell_timeout=5"]) == {
        "memory_bytes": 3 * 1024**3, "cell_timeout": 5}
    with pytest.raises(ValueError):
        limits.parse_assignments(["no_such_limit=1"])
