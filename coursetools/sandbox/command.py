"""The sandbox's command line (see the package docstring), who it runs as, and ``probe()``."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from coursetools.course import REPOSITORY
from coursetools.sandbox.limits import GradingLimits

UID_BASE = 2_000_000_000  # far above login users and the usual /etc/subuid ranges
ALWAYS_HIDDEN = ("/root", "/home", "/run", "/var/tmp", "/mnt", "/media")
PRIVATE_MOUNTS = ("/tmp", "/dev")  # fresh in every sandbox (bwrap_args), never the host's
PASS_ENV = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND", "MPLBACKEND",
            "NBGRADER_EXECUTION")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_uid(slot=0, sandboxed=True, base=UID_BASE):
    """The uid a kernel of job ``slot`` runs as: its own unprivileged one when the grader is
    root and the kernel is sandboxed, else None (the kernel keeps the grader's uid)."""
    return base + slot if sandboxed and is_root() else None

def real_path(path):
    return os.path.realpath(os.fspath(path))


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _traversable(path):
    """Whether any user may reach and list ``path`` (o+x on every ancestor, o+rx on it)."""
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        try:
            mode = os.stat(Path(*parts[:i])).st_mode
        except OSError:
            return False
        need = stat.S_IXOTH | (stat.S_IROTH if i == len(parts) else 0)
        if mode & need != need:
            return False
    return True


def python_paths():
    """What a kernel needs from outside: the venv, the Python installation, ``nnscratch``."""
    import importlib.util

    paths = {real_path(sys.prefix), real_path(sys.base_prefix)}
    paths.add(str(Path(real_path(sys.executable)).parent.parent))  # the interpreter's own prefix
    spec = importlib.util.find_spec("nnscratch")
    if spec and spec.submodule_search_locations:
        paths.update(real_path(p) for p in spec.submodule_search_locations)
    elif spec and spec.origin:
        paths.add(real_path(Path(spec.origin).parent))
    return sorted(paths)


def hidden_paths(extra=()):
    """Folders the kernel must not see (existing ones, real paths, outermost first)."""
    candidates = [*ALWAYS_HIDDEN, os.environ.get("HOME", ""), str(REPOSITORY),
                  tempfile.gettempdir(), *extra]
    found = []
    for c in candidates:
        if c and os.path.isdir(c):
            real = real_path(c)
            if real != "/" and real not in found and real != "/tmp":
                found.append(real)
    return sorted(found, key=lambda p: (p.count("/"), p))


def bwrap_args(*, work, ipc, hidden, visible, staged, tmp_bytes, env, threads, template=False):
    """The bubblewrap part of the command line (see the module docstring). A kernel
    ``template`` keeps its capabilities in the sandbox's own user namespace and may create
    one more: each kernel it forks finishes its own sandbox with them (``zygote_process``)."""
    userns = ["--cap-add", "ALL"] if template else ["--disable-userns"]
    args = ["bwrap", "--unshare-all", "--unshare-user", *userns,
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--ro-bind", "/", "/", "--dev", "/dev",
            "--size", str(tmp_bytes), "--tmpfs", "/dev/shm", "--proc", "/proc",
            "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    for path in hidden:
        args += ["--size", str(64 * 1024), "--tmpfs", path]
    for path in visible:
        args += ["--ro-bind", staged.get(path, path), path]
    args += ["--bind", work, work, "--bind", ipc, ipc]
    for path in [*hidden, "/dev"]:
        if path not in (work, ipc):  # a template's folder of working copies may be hidden
            args += ["--remount-ro", path]
    args += ["--chdir", work, "--clearenv"]
    for key, value in sandbox_env(env, threads).items():
        args += ["--setenv", key, value]
    return args + ["--"]


def sandbox_env(env, threads):
    """The kernel's whole environment (nothing else of the grader's leaks in)."""
    venv_bin = str(Path(sys.executable).parent)
    out = {
        "PATH": f"{venv_bin}:{SYSTEM_PATH}", "HOME": "/tmp", "USER": "student",
        "LOGNAME": "student", "LANG": "C.UTF-8", "PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib", "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/.jupyter", "JUPYTER_DATA_DIR": "/tmp/.jupyter/data",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter/runtime", "TF_CPP_MIN_LOG_LEVEL": "3",
        "MALLOC_ARENA_MAX": "2",
    }
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        out[key] = str(threads)
    for key in PASS_ENV:
        if key in env:
            out[key] = env[key]
    return out


def rlimit_args(limits):
    """``prlimit`` in front of everything: the rlimits every sandboxed process inherits."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        return []
    return [prlimit, f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
            f"--nproc={limits.max_processes}", f"--fsize={limits.max_file_bytes}",
            f"--nofile={limits.max_open_files}", "--core=0", "--"]


def drop_privileges_args(uid):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


_STAGE_SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; ' \
                'mount -o remount,bind,ro "$2"; shift 2; n=$((n-1)); done; exec "$@"'


def stage_args(pairs):
    """Root only: bind each (source, mount point) in a private mount namespace, then go on."""
    if not pairs:
        return []
    flat = [p for pair in pairs for p in pair]
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            _STAGE_SCRIPT, "stage", str(len(pairs)), *flat]


def sandbox_command(argv, *, work, ipc, stage_dir, uid, limits, hidden_extra=(), env=None,
                    threads=1, template=False):
    """The full command line that runs ``argv`` in the sandbox."""
    env = os.environ if env is None else env
    hidden = hidden_paths(hidden_extra)
    # the sandbox's own /tmp and /dev are empty too: a repository (and its .venv) cloned
    # under /tmp must come back like one under a hidden folder
    covered = [*hidden, *PRIVATE_MOUNTS]
    visible = [p for p in python_paths() if any(_inside(p, h) for h in covered)]
    staged, pairs = {}, []
    if uid is not None:
        for i, path in enumerate(visible):
            if not _traversable(path):
                point = os.path.join(stage_dir, f"v{i}")
                os.makedirs(point, exist_ok=True)
                staged[path] = point
                pairs.append((path, point))
    command = rlimit_args(limits) + stage_args(pairs)
    if uid is not None:
        command += drop_privileges_args(uid)
    command += bwrap_args(work=work, ipc=ipc, hidden=hidden, visible=visible, staged=staged,
                          tmp_bytes=limits.tmp_bytes, env=env, threads=threads,
                          template=template)
    return command + list(argv)


def unsandboxed_command(argv, *, limits):
    return rlimit_args(limits) + list(argv)


@cache
def probe(uid=None):
    """None when the sandbox works here, else a one-line reason. Runs the real command line."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    for tool in ("bwrap",) + (("setpriv", "unshare") if uid is not None else ()):
        if not shutil.which(tool):
            return f"`{tool}` is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    base = tempfile.mkdtemp(prefix="nnag-probe-")
    try:
        os.chmod(base, 0o711)
        work, ipc, stage = (os.path.join(base, n) for n in ("w", "i", "s"))
        for folder in (work, ipc, stage):
            os.mkdir(folder, 0o755)
        if uid is not None:
            os.chown(work, uid, uid)
        command = sandbox_command(
            [sys.executable, "-c", "import nnscratch.testing"], work=work, ipc=ipc,
            stage_dir=stage, uid=uid, limits=GradingLimits(), hidden_extra=[base])
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                    env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the sandbox could not start: {exc}"
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            return f"the sandbox does not work here (user namespaces disabled?): {last}"
        return None
    finally:
        shutil.rmtree(base, ignore_errors=True)
