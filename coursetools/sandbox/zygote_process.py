"""The kernel template (zygote): runs INSIDE a sandbox, imports the course's trusted packages
once, and forks every grading kernel of its job slot from there, ready.

This file runs as ``python -c <its source> <marker> <fd>``: the sandbox hides the repository, so it
imports nothing of ``coursetools``. It never runs student code. Its sandbox is the usual one
(``coursetools.sandbox.command``) with two differences: it keeps its capabilities inside the
sandbox's own user namespace (W), which owns the sandbox's mount, pid and network namespaces
and nothing of the host, and it may create one user namespace more. Each kernel it forks
then builds the rest of bubblewrap's guarantees for itself, before any student code runs:

1. ``unshare`` new mount, pid, network, ipc, uts and cgroup namespaces (owned by W), and
   fork: pid 1 of the new pid namespace is a small init (as bubblewrap's is in a cold
   sandbox: it reaps orphans and ends as the kernel does), the kernel is its pid 2; it sees
   only its own processes, has only a loopback of its own (up), and when it ends, every
   process it started ends with it;
2. a fresh ``/proc``, ``/tmp`` and ``/dev/shm``; the slot's working and socket folders are
   covered, read-only, except this kernel's own two;
3. W's limit of user namespaces is set to 1, and the kernel enters a user namespace of its
   own (B, the same uid outside): the one allowed, so neither it nor anything it starts can
   create another, and B owns none of the namespaces above, so capabilities in B could change
   nothing; then every capability is dropped anyway (bounding set, ambient, effective),
   ``no_new_privs`` is set, and the kernel checks it holds none before it goes on;
4. a session keyring of its own (the inherited one is the grader's), the rlimits of
   ``coursetools.sandbox.limits``, a new session, no file descriptor but its log, the
   kernel's own working folder as cwd, its own random seeds, then ``ipykernel``.

A template whose imports leave writable shared memory (which every kernel would share)
refuses to serve: the kernels then start cold. Any failure while a kernel builds its sandbox
ends it with status 126 before a line of the notebook runs.

Protocol on the socket (file descriptor ``argv[1]``), one JSON object per message: the grader
sends ``{"imports": [...], "import_env": {...}, "limits": {...}, "work_root": .., "ipc_root":
..}``; the template answers ``{"ready": seconds}`` or ``{"failed": "one line"}``. Then each
``{"fork": {"work": .., "ipc": .., "connection_file": ..}}`` with the kernel's log file as an
attached descriptor is answered ``{"forked": pid}``, and a kernel's end is reported as
``{"exited": pid, "status": code}`` (a signal: ``128 + number``, as bubblewrap reports it).
"""

import ctypes
import gc
import importlib
import json
import os
import platform
import resource
import select
import signal
import socket
import sys
import time

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (0x08000000, 0x10000000, 0x20000000,
                                                           0x40000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SANDBOX_FAILED = 126  # the exit status of a kernel that could not build its sandbox
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine())
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
KEYCTL_JOIN_SESSION_KEYRING = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
RLIMITS = {"memory_bytes": "RLIMIT_AS", "cpu_seconds": "RLIMIT_CPU",
           "max_processes": "RLIMIT_NPROC", "max_file_bytes": "RLIMIT_FSIZE",
           "max_open_files": "RLIMIT_NOFILE"}
# what bubblewrap's --proc leaves read-only
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(text):
    return None if text is None else os.fsencode(text)


def _mount(source, target, fstype=None, flags=0, data=None):
    _check(libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)),
           f"mount {target}")


def _unshare(flags):
    _check(libc.unshare(flags), "unshare")


def _prctl(option, arg):
    _check(libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)), f"prctl {option}")


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def _tmpfs(path, size, read_only=False):
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    if read_only:
        _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _read_only(path):
    """Make the bind mount at ``path`` read-only (bound from the template's read-only view
    it mostly is already); its locked flags (nosuid, nodev, noexec) are kept, as a remount
    that dropped them would be refused."""
    flags = os.statvfs(path).f_flag
    if flags & os.ST_RDONLY:
        return
    keep = [(os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC)]
    extra = sum(ms for st, ms in keep if flags & st)
    _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra, None)


def _only_own(folders, size=64 * 1024):
    """Cover each root (the slot's folder of working copies, of sockets) with an empty tmpfs,
    bind this kernel's own folder of it back (``folders``: [(root, own, fd of own)]), then
    make the covers read-only (one root may lie inside the other)."""
    covers = []
    for root, own, fd in folders:
        os.makedirs(root, exist_ok=True)  # the new /tmp, or an earlier cover, hid it
        if root not in covers:
            _tmpfs(root, size)
            covers.append(root)
        point = os.path.join(root, os.path.relpath(own, root))
        os.makedirs(point, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", point, None, MS_BIND | MS_REC)
        os.close(fd)
    for root in covers:
        _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _enter_own_user_namespace(uid, gid):
    """B: the only user namespace W allows, entered once the previous kernel's is gone."""
    deadline = time.monotonic() + 10
    while True:
        if libc.unshare(CLONE_NEWUSER) == 0:
            break
        errno = ctypes.get_errno()
        if errno != 28 or time.monotonic() > deadline:  # ENOSPC: the last one is still freed
            raise OSError(errno, f"unshare(CLONE_NEWUSER): {os.strerror(errno)}")
        time.sleep(0.01)
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _loopback_up():
    """Its network namespace's loopback, up as bubblewrap leaves it (127.0.0.1 works inside)."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(
            "16sH14x", b"lo", 0)))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _own_session_keyring():
    """A new, empty session keyring: kernel keyrings are not namespaced, and the one it
    inherited is the grader's (where the kernel could leave keys for a later one)."""
    if SYS_KEYCTL is not None:
        libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)  # no keyctl: none to share


def _drop_capabilities():
    if SYS_CAPSET is None:
        raise OSError(38, f"capset: no system call number for {platform.machine()}")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(libc.syscall(SYS_CAPSET, ctypes.byref(header), data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    status = open("/proc/self/status").read()
    held = [line for line in status.splitlines()
            if line.startswith(("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"))]
    if any(int(line.split()[1], 16) for line in held) or "NoNewPrivs:\t1" not in status:
        raise OSError(1, "capabilities still held: " + "; ".join(held))


def _build_sandbox(request, log_fd, settings):
    """In the kernel's own pid namespace, as its pid 1: the rest of its sandbox."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    _write("/proc/sys/user/max_user_namespaces", "1")
    for path in PROC_READ_ONLY:
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND | MS_REC, None)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
    own = {key: os.open(request[key], os.O_PATH | os.O_DIRECTORY) for key in ("work", "ipc")}
    # Python, the venv, nnscratch: bound back read-only where they live under /tmp (a clone
    # of the repository there), which its new /tmp would hide, as bubblewrap does
    reveal = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in settings["reveal"]]
    size = settings["limits"]["tmp_bytes"]
    _tmpfs("/tmp", size)
    _tmpfs("/dev/shm", size)
    # the hidden folders there (the repository, the scratch area) come back as bubblewrap
    # makes them: empty, read-only, with only what is revealed and the kernel's own inside
    covers = []
    for path in settings["hidden"]:
        os.makedirs(path, exist_ok=True)
        _tmpfs(path, 64 * 1024)
        covers.append(path)
    for path, fd in reveal:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
        _read_only(path)
    for key in ("work", "ipc"):
        if os.path.relpath(request[key], settings[f"{key}_root"]).startswith((".", "/")):
            raise ValueError(f"{request[key]} is not a folder in {settings[f'{key}_root']}")
    _only_own([(settings[f"{key}_root"], request[key], own[key]) for key in ("work", "ipc")])
    for path in reversed(covers):
        _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    socket.sethostname("sandbox")
    _loopback_up()
    _own_session_keyring()
    _enter_own_user_namespace(os.getuid(), os.getgid())
    _drop_capabilities()
    os.setsid()
    for key, name in RLIMITS.items():
        value = settings["limits"][key]
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.chdir(request["work"])


def _be_init(kernel):
    """Pid 1 of the kernel's namespace, as bubblewrap's init is in a cold sandbox: reap
    whatever is orphaned there, and end as the kernel does (which ends the namespace)."""
    while True:
        pid, status = os.wait()
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _run_ipykernel(request, environment):
    """Pid 2: the kernel itself, with a cold kernel's environment and its own randomness."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.environ.clear()
    os.environ.update(environment)
    import random

    random.seed()  # not the template's state: every kernel draws its own
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", request["connection_file"]]
    IPKernelApp.launch_instance(argv=sys.argv[3:])


def _fork_kernel(request, log_fd, settings, environment):
    """The first child: new namespaces, then the kernel as their pid 1; exits as it does."""
    code = 127
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                 CLONE_NEWCGROUP)
        pid = os.fork()
        if pid == 0:
            try:
                _build_sandbox(request, log_fd, settings)
            except BaseException as exc:  # noqa: BLE001 - say why in the kernel's log
                import traceback

                os.write(log_fd, f"warm kernel failed to start: {exc!r}\n"
                                 f"{traceback.format_exc()}".encode())
                os._exit(SANDBOX_FAILED)
            kernel = os.fork()
            if kernel:
                _be_init(kernel)
            try:
                _run_ipykernel(request, environment)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - as an uncaught error ends python
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(log_fd)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
    finally:
        os._exit(code)


def _send(sock, message):
    sock.sendall(json.dumps(message).encode() + b"\n")


def _serve(sock, settings, environment):
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        ready, _, _ = select.select([sock, wakeup_r], [], [])
        if wakeup_r in ready:
            os.read(wakeup_r, 4096)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                code = os.waitstatus_to_exitcode(status)
                _send(sock, {"exited": pid, "status": 128 - code if code < 0 else code})
        if sock in ready:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
            if not data:
                return  # the grader is gone
            try:
                request = json.loads(data)["fork"]
                if len(fds) != 1:
                    raise ValueError(f"{len(fds)} file descriptors with the request")
            except (ValueError, KeyError, TypeError) as exc:
                for fd in fds:
                    os.close(fd)
                print(f"kernel template: bad request {data[:200]!r}: {exc}", file=sys.stderr,
                      flush=True)
                _send(sock, {"refused": str(exc)})
                continue
            pid = os.fork()
            if pid == 0:
                sock.close()
                _fork_kernel(request, fds[0], settings, environment)
            for fd in fds:
                os.close(fd)
            _send(sock, {"forked": pid})


def _import(name):
    """``module`` as ``import module`` does, ``module:a,b`` as ``from module import a, b``
    and ``module:*`` as ``from module import *`` (which load what a lazy package, such as
    ``nnscratch``, loads on first use). A name the module lacks is the kernel's error to
    raise, when a cell asks for it: the template goes on without it."""
    module_name, _, names = name.partition(":")
    module = importlib.import_module(module_name)
    wanted = [n for n in names.split(",") if n]
    if wanted == ["*"]:
        wanted = list(getattr(module, "__all__", ()))
    for attribute in wanted:
        try:
            getattr(module, attribute)
        except AttributeError:  # a submodule not imported yet, as `from` finds it
            try:
                importlib.import_module(f"{module_name}.{attribute}")
            except ImportError:
                pass


def main(fd):
    sock = socket.socket(fileno=fd)
    received = b""
    while not received.endswith(b"\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            return
        received += chunk
    settings = json.loads(received)
    environment = dict(os.environ)
    started = time.monotonic()
    try:
        os.environ.update(settings["import_env"])
        for name in ["ipykernel.kernelapp", *settings["imports"]]:
            _import(name)
    except BaseException as exc:  # noqa: BLE001 - any failure means: grade cold
        _send(sock, {"failed": f"importing {name} failed: {type(exc).__name__}: {exc}"
                               .splitlines()[0]})
        return
    os.environ.clear()
    os.environ.update(environment)
    shared = [line.split()[-1] for line in open("/proc/self/maps")
              if line.split()[1].startswith("rw") and line.split()[1][3] == "s"]
    if shared:  # memory every kernel would share, to write into for the next one to read
        _send(sock, {"failed": f"the imports left writable shared memory: {shared[0]}"})
        return
    gc.collect()
    _send(sock, {"ready": time.monotonic() - started})
    _serve(sock, settings, environment)


if __name__ == "__main__":
    main(int(sys.argv[-1]))
