"""The repository's interface: pinned requirements, Make verbs, ignored student data, CI entry."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERBS = ["help", "demo", "test", "release", "autograde", "collect", "feedback", "lab", "bench"]


def _requirements(name):
    lines = (ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for requirement in _requirements(name):
            spec = requirement.split(";")[0]
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", spec.strip()), (
                f"{name}: '{requirement}' is not pinned with =="
            )


def test_tensorflow_cpu_on_linux_x86_and_full_tensorflow_elsewhere():
    requirements = _requirements("requirements.txt")
    cpu = [r for r in requirements if r.startswith("tensorflow-cpu==")]
    full = [r for r in requirements if r.startswith("tensorflow==")]
    assert len(cpu) == 1 and 'platform_machine == "x86_64"' in cpu[0]
    assert len(full) == 1 and 'platform_machine != "x86_64"' in full[0]
    assert cpu[0].split("==")[1].split(";")[0] == full[0].split("==")[1].split(";")[0]


def test_runtime_requirements_cover_the_card():
    names = {r.split("==")[0].lower() for r in _requirements("requirements.txt")}
    for package in ("numpy", "matplotlib", "scikit-learn", "nbgrader", "jupyterlab"):
        assert package in names
    dev = {r.split("==")[0].lower() for r in _requirements("requirements-dev.txt")}
    assert {"pytest", "playwright", "ruff"} <= dev
    assert not dev & names, "test tools stay out of the runtime requirements"


def _make(*args):
    command = ["make", "--no-print-directory", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_help_lists_every_verb_with_a_line():
    out = _make("help")
    for verb in VERBS:
        assert re.search(rf"^\s+{verb}\s+\S", out, re.MULTILINE), f"make help misses {verb}"


def test_make_help_is_the_default_goal():
    assert "make <verb>" in _make()


def test_student_data_is_ignored_by_git():
    for path in ("submitted/x/a/n.ipynb", "autograded/x", "feedback/x", "gradebook.db",
                 "grades.csv", "reports/a/index.html", ".venv/bin/python"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 0, f"{path} is not ignored"
    for path in ("source/a/n.ipynb", "release/a/n.ipynb", "solutions/a/n.ipynb"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 1, f"{path} must be committed, but is ignored"


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script and re.search(r"^make test$", script, re.MULTILINE)
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111
