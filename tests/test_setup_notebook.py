"""notebooks/: the setup check reports each package and says how to fix a missing one; the index.

The setup check is executed with nbclient in a real kernel, as a student runs it: once in
this environment (everything passes), and with stub packages on PYTHONPATH that make an
import fail the way a missing or broken install does.
"""

import re
import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SETUP = NOTEBOOKS / "00_setup_check.ipynb"
INDEX = NOTEBOOKS / "index.ipynb"
RELEASED = "release/nn_from_scratch/nn_from_scratch.ipynb"
WORK_COPY = "work/nn_from_scratch/nn_from_scratch.ipynb"
CARD = ["numpy", "scipy", "matplotlib", "sklearn", "tensorflow", "keras", "nbgrader", "jupyterlab"]
REQUIREMENTS_FIX = (
    "run `pip install -r requirements.txt` in the course folder (or `make lab`), "
    "then restart the kernel"
)


def student_copy(target):
    """What a student has, copied into ``target`` (the setup check makes work/ there)."""
    for name in ("notebooks", "release"):
        shutil.copytree(ROOT / name, target / name)
    shutil.copy2(ROOT / "requirements.txt", target / "requirements.txt")
    return target


def execute(path, env_path=None, monkeypatch=None, folder=None):
    """Run the notebook in a fresh kernel from its own folder, or from ``folder`` when the
    notebook writes there; return the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    folder = Path(folder or path.parent)
    if monkeypatch is not None:
        # Set by the Makefile, never in a student's kernel: the notebook must do without.
        for name in ("MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
            monkeypatch.delenv(name, raising=False)
        if env_path is not None:
            monkeypatch.setenv("PYTHONPATH", str(env_path))
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return nb


def outputs(nb, kind=None):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if kind is None or output.output_type == kind:
                yield cell, output


def stdout_lines(nb):
    return [
        line
        for _, output in outputs(nb, "stream")
        if output.name == "stdout"
        for line in output.text.splitlines()
    ]


def check_line(lines, name):
    pattern = rf"(OK|WARN|FAIL|SKIP)\s+{re.escape(name)}\s"
    found = [line for line in lines if re.match(pattern, line)]
    assert len(found) == 1, f"expected one line about {name}, got {found}\n" + "\n".join(lines)
    return found[0]


@pytest.mark.parametrize("path", [SETUP, INDEX], ids=lambda p: p.name)
def test_notebook_format(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids), "cell ids must be unique"
    assert all(re.fullmatch(r"[a-z0-9-]+", cell_id) for cell_id in ids), f"unstable ids: {ids}"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{cell.id} has outputs"
    assert nb.metadata.kernelspec.name == "python3"


def test_setup_check_covers_the_card_and_the_pinned_python():
    source = "\n".join(cell.source for cell in nbformat.read(SETUP, as_version=4).cells)
    for name in CARD:
        assert f'"{name}": [' in source, f"the setup check does not import {name}"
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f'PYTHON = "{runtime}"' in source
    # TensorFlow reads its logging settings at import: they must come before any import of it.
    assert source.index('os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"') < source.index("import_module")


def test_index_links_to_the_setup_check_and_the_assignment():
    text = "\n".join(cell.source for cell in nbformat.read(INDEX, as_version=4).cells)
    links = re.findall(r"\]\(([^)#]+\.ipynb)\)", text)
    assert links[:2] == ["00_setup_check.ipynb", f"../{WORK_COPY}"]
    for link in links:
        # work/ is made from release/ (setup check, make lab, Binder): a fresh clone has none
        target = (NOTEBOOKS / link).resolve().relative_to(ROOT).as_posix()
        target = target.replace("work/", "release/", 1) if target.startswith("work/") else target
        assert (ROOT / target).is_file(), f"index.ipynb links to missing {link}"
    assert "Validate" in text and "NotImplementedError" in text


@pytest.mark.slow
def test_setup_check_passes_here(monkeypatch, tmp_path):
    course = student_copy(tmp_path)
    nb = execute(SETUP, monkeypatch=monkeypatch, folder=course / "notebooks")
    lines = stdout_lines(nb)
    for name in ["python", *CARD, "nnscratch", "plot"]:
        assert check_line(lines, name).startswith("OK"), "\n".join(lines)
    for name in CARD:  # the installed version beside the pinned one
        assert re.match(rf"OK\s+{name}\s+(\S+)\s+pinned \1$", check_line(lines, name)), name
    assert lines[-1].startswith("All checks passed")
    assert not list(outputs(nb, "error"))
    assert not [o for _, o in outputs(nb, "stream") if o.name == "stderr"], "stderr output"
    images = [c.id for c, o in outputs(nb, "display_data") if "image/png" in o.data]
    assert images == ["check-plot"]
    # the student's own copy of the assignment, made from release/ and linked from the index
    made = [line for line in lines if line.startswith("OK    your copy   made ")]
    assert made == ["OK    your copy   made work/nn_from_scratch/nn_from_scratch.ipynb"], lines
    work = course / "work" / "nn_from_scratch" / "nn_from_scratch.ipynb"
    assert work.read_bytes() == (ROOT / RELEASED).read_bytes()


@pytest.mark.slow
def test_setup_check_never_replaces_the_students_copy(monkeypatch, tmp_path):
    course = student_copy(tmp_path)
    work = course / "work" / "nn_from_scratch" / "nn_from_scratch.ipynb"
    work.parent.mkdir(parents=True)
    work.write_text("my answers")
    lines = stdout_lines(execute(SETUP, monkeypatch=monkeypatch, folder=course / "notebooks"))
    assert check_line(lines, "your copy") == "OK    your copy   already in work/ (left as it is)"
    assert work.read_text() == "my answers"


@pytest.fixture
def stubs(tmp_path):
    """A PYTHONPATH folder whose packages shadow real ones and fail on import."""

    def make(name, body):
        package = tmp_path / name
        package.mkdir()
        (package / "__init__.py").write_text(body)
        return tmp_path

    return make


def missing(name):
    return f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"


@pytest.mark.slow
def test_setup_check_names_the_fix_for_a_missing_package(monkeypatch, stubs):
    nb = execute(SETUP, env_path=stubs("sklearn", missing("sklearn")), monkeypatch=monkeypatch)
    lines = stdout_lines(nb)
    sklearn = check_line(lines, "sklearn")
    assert sklearn.startswith("FAIL")
    assert f"`No module named 'sklearn'`: {REQUIREMENTS_FIX}" in sklearn
    # nnscratch needs sklearn: same cause, same fix; the plot waits for both.
    assert f"`No module named 'sklearn'`: {REQUIREMENTS_FIX}" in check_line(lines, "nnscratch")
    assert check_line(lines, "plot").startswith("SKIP")
    assert check_line(lines, "your copy").startswith("SKIP")
    for name in ["numpy", "tensorflow", "jupyterlab"]:
        assert check_line(lines, name).startswith("OK")
    assert "2 check(s) FAILED: sklearn, nnscratch." in lines
    assert "All checks passed" not in "\n".join(lines)
    assert not list(outputs(nb, "error")), "a failed check is reported, not raised"


@pytest.mark.slow
def test_setup_check_names_the_fix_for_the_helper_and_a_broken_package(monkeypatch, stubs):
    stubs("nnscratch", missing("nnscratch"))
    path = stubs("tensorflow", 'raise ImportError("libtensorflow.so: cannot open shared object")\n')
    lines = stdout_lines(execute(SETUP, env_path=path, monkeypatch=monkeypatch))
    helper = check_line(lines, "nnscratch")
    assert helper.startswith("FAIL") and "`No module named 'nnscratch'`" in helper
    assert "run `pip install -e .` in the course folder (or `make lab`)" in helper
    tensorflow = check_line(lines, "tensorflow")
    assert tensorflow.startswith("FAIL")
    assert f"`ImportError: libtensorflow.so: cannot open shared object`: {REQUIREMENTS_FIX}" in (
        tensorflow
    )
    # Keras 3 runs on TensorFlow here: it breaks with it, and says so.
    assert "libtensorflow.so" in check_line(lines, "keras")
    assert "3 check(s) FAILED: tensorflow, keras, nnscratch." in lines
