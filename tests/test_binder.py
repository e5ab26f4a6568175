"""Binder's configuration (binder/): Python pin, requirements, postBuild, student extensions.

Fast, no browser. What repo2docker does with these files is taken from its source
(jupyterhub/repo2docker, repo2docker/buildpacks/python/__init__.py and utils.py):
- binder/ exists, so repo2docker reads only binder/ (runtime.txt, requirements.txt, postBuild);
- a requirements.txt with a local reference (`-r`, `-c`, `-e .`) is not "preassembled"
  alone: it is installed after the whole repository has been copied into the image, with
  `pip install -r binder/requirements.txt`, and pip resolves `-r ../requirements.txt`
  relative to binder/;
- postBuild runs last, from the repository root, with NB_PYTHON_PREFIX set to the
  environment that runs Jupyter.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
CONFIG = BINDER / "jupyter_config"

STUDENT_SERVER = {"nbgrader.server_extensions.validate_assignment"}
# Off for students: the instructor's tools, and the assignment list, which needs a JupyterHub
# exchange that Binder and a laptop do not have (it would only show errors there).
OFF_SERVER = {
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
}
STUDENT_LAB = {"@jupyter/nbgrader:validate-assignment"}
OFF_LAB = {
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
}


def read_requirements(path, seen=()):
    """The requirement lines of ``path``, following ``-r`` as pip does (relative to the file)."""
    path = Path(path).resolve()
    assert path not in seen, f"{path} includes itself"
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        option = re.match(r"(-r|--requirement)[\s=]+(\S+)$", line)
        if option:
            lines += read_requirements(path.parent / option.group(2), (*seen, path))
        else:
            assert not line.startswith("-"), f"{path.name}: unexpected pip option {line!r}"
            lines.append(line)
    return lines


def as_set(lines):
    return {str(Requirement(line)) for line in lines}


def test_runtime_pins_the_python_of_pyproject():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11", f"binder/runtime.txt says {runtime!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    supported = SpecifierSet(requires)
    version = runtime.removeprefix("python-")
    assert Version(f"{version}.0") in supported and Version(f"{version}.99") in supported, (
        f"runtime.txt's {version} is outside pyproject's requires-python {requires}"
    )
    major, minor = map(int, version.split("."))
    assert Version(f"{major}.{minor + 1}") not in supported, "requires-python allows a newer minor"


def test_binder_requirements_resolve_to_exactly_the_pinned_set():
    binder = read_requirements(BINDER / "requirements.txt")
    root = read_requirements(ROOT / "requirements.txt")
    assert as_set(binder) == as_set(root)
    assert len(binder) == len(root)
    for line in root:
        specifier = Requirement(line).specifier
        assert len(specifier) == 1 and next(iter(specifier)).operator == "==", (
            f"requirements.txt: {line!r} is not pinned with =="
        )


def test_binder_requirements_are_installed_after_the_repository_is_copied():
    # repo2docker preassembles (installs before copying the repository) only files without
    # local references; ours must have one, or `-r ../requirements.txt` would be missing.
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    local = [line for line in lines if line.strip().startswith(("-r", "--requirement", "-e"))]
    assert local, "binder/requirements.txt has no local reference: repo2docker would preassemble it"


def test_postbuild_is_executable_in_git_and_on_disk():
    postbuild = BINDER / "postBuild"
    assert postbuild.stat().st_mode & stat.S_IXUSR, "binder/postBuild is not executable"
    assert postbuild.read_text().startswith("#!/bin/bash\n")
    if (ROOT / ".git").exists() and shutil.which("git"):
        staged = subprocess.run(
            ["git", "ls-files", "-s", "binder/postBuild"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
        if staged:  # committed or added: the mode Binder will check out
            assert staged.startswith("100755"), f"git stores postBuild as {staged.split()[0]}"


@pytest.fixture(scope="module")
def binder_prefix(tmp_path_factory):
    """Run binder/postBuild as repo2docker does, into a copy of this environment's etc/jupyter.

    ``pip`` is replaced by a recorder (the real one would change the shared .venv); the
    configuration step runs for real. The copy holds nbgrader's own extension config, so the
    result is the directory Binder's Jupyter reads.
    """
    tmp = tmp_path_factory.mktemp("binder")
    prefix = tmp / "prefix"
    shutil.copytree(Path(sys.prefix) / "etc" / "jupyter", prefix / "etc" / "jupyter")
    bindir = tmp / "bin"
    bindir.mkdir()
    log = tmp / "pip-calls.txt"
    stub = bindir / "python"
    stub.write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> {log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
           "NB_PYTHON_PREFIX": str(prefix)}
    # postBuild works in the repository it runs in (work/ is made there): a copy of its parts
    repository = tmp / "repository"
    for name in ("binder", "release"):
        shutil.copytree(ROOT / name, repository / name)
    result = subprocess.run(
        ["./binder/postBuild"], cwd=repository, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {"prefix": prefix, "pip": log.read_text().splitlines(), "tmp": tmp,
            "repository": repository}


def test_postbuild_installs_the_helper_package(binder_prefix):
    assert any(
        call.split()[:3] == ["-m", "pip", "install"] and call.split()[-2:] == ["-e", "."]
        for call in binder_prefix["pip"]
    ), binder_prefix["pip"]


def test_postbuild_makes_the_students_own_copy(binder_prefix):
    repository = binder_prefix["repository"]
    released = sorted(p.relative_to(repository / "release")
                      for p in (repository / "release").rglob("*.ipynb"))
    assert released
    for path in released:
        work = repository / "work" / path
        assert work.read_bytes() == (repository / "release" / path).read_bytes(), path


def test_postbuild_installs_the_student_config(binder_prefix):
    etc = binder_prefix["prefix"] / "etc" / "jupyter"
    for source in CONFIG.rglob("*.json"):
        installed = json.loads((etc / source.relative_to(CONFIG)).read_text())
        wanted = json.loads(source.read_text())
        for section, values in wanted.items():
            assert installed[section] == {**installed[section], **values}, source.name


def test_config_names_the_extensions_off_and_the_student_ones_on():
    server = json.loads((CONFIG / "jupyter_server_config.json").read_text())
    enabled = server["ServerApp"]["jpserver_extensions"]
    assert {name for name, on in enabled.items() if on} == STUDENT_SERVER
    assert {name for name, on in enabled.items() if not on} == OFF_SERVER
    page = json.loads((CONFIG / "labconfig" / "page_config.json").read_text())
    disabled = {name for name, off in page["disabledExtensions"].items() if off}
    assert {name for name in disabled if name.startswith("@jupyter/nbgrader:")} == OFF_LAB
    assert not disabled & STUDENT_LAB


EFFECTIVE = """
import json, logging
from jupyter_core.paths import jupyter_path
from jupyter_server.serverapp import ServerApp
from jupyterlab_server.config import get_page_config

app = ServerApp()
app.load_config_file()
app.find_server_extensions()
page = get_page_config(jupyter_path("labextensions"), logger=logging.getLogger())
print(json.dumps({
    "server": {k: v for k, v in app.jpserver_extensions.items() if k.startswith("nbgrader")},
    "disabled": sorted(page["disabledExtensions"]),
    "lab": [e["name"] for e in page["federated_extensions"]],
}))
"""


def test_jupyter_reads_the_installed_config_as_binder_would(binder_prefix):
    """What Jupyter itself makes of postBuild's result (nbgrader's defaults + ours, one dir)."""
    user = binder_prefix["tmp"] / "empty-user-config"
    user.mkdir(exist_ok=True)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(user),
           "JUPYTER_CONFIG_PATH": str(binder_prefix["prefix"] / "etc" / "jupyter")}
    out = subprocess.run(
        [sys.executable, "-c", EFFECTIVE], env=env, capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout
    effective = json.loads(out.strip().splitlines()[-1])
    assert effective["server"] == {
        **dict.fromkeys(STUDENT_SERVER, True), **dict.fromkeys(OFF_SERVER, False)
    }
    assert OFF_LAB <= set(effective["disabled"])
    assert not STUDENT_LAB & set(effective["disabled"])
    assert "@jupyter/nbgrader" in effective["lab"], "nbgrader's lab extension is not installed"


def test_make_lab_uses_the_same_config():
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "no lab target in the Makefile"
    assert "JUPYTER_CONFIG_PATH=$(CURDIR)/binder/jupyter_config" in recipe.group(1)
    assert "notebooks/index.ipynb" in recipe.group(1)
    # the student's own copy first: JupyterLab opens the index, which links to work/
    assert recipe.group(1).index("nnscratch.workspace") < recipe.group(1).index("jupyter lab")


def lab_command(as_nobody=False):
    """The `jupyter lab` line `make lab` would run, as this user or as uid 65534."""
    become = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
    out = subprocess.run([*become, "make", "-s", "-n", "lab"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return next(line for line in out.splitlines() if "jupyter lab" in line)


def test_make_lab_allows_root_only_for_root():
    if os.geteuid() != 0:
        assert "--allow-root" not in lab_command()
        pytest.skip("not root: the root half needs root")
    assert "--allow-root" in lab_command()
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to run make as another user")
    assert "--allow-root" not in lab_command(as_nobody=True)
