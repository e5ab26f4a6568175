"""The kernel sandbox: each grading kernel runs in bubblewrap, as its own unprivileged user.

Only the KERNEL is sandboxed. The grader (nbgrader and nbclient, outside) talks to it over
ZeroMQ ``ipc`` sockets (path-based unix sockets work across network namespaces) in a
per-kernel folder that is bind-mounted into the sandbox. The command line is::

    prlimit --as=.. --cpu=.. --nproc=.. --fsize=.. --nofile=.. --core=0 --
      [unshare --mount --propagation private -- sh -c 'mount --bind ..'   (root, see below)]
      [setpriv --reuid=U --regid=U --clear-groups --no-new-privs --inh-caps=-all
               --bounding-set=-all --]                                       (root only)
      bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session
            --ro-bind / /  --dev /dev  --size T --tmpfs /dev/shm  --proc /proc
            --size T --tmpfs /tmp  --tmpfs <hidden> ...   --ro-bind <v> <v> ...
            --bind <work> <work>  --bind <ipc> <ipc>  --remount-ro <hidden> ...
            --chdir <work>  --clearenv --setenv ...  -- python -m ipykernel_launcher -f ..

What the kernel sees:

- the whole root filesystem, read-only;
- hidden behind empty read-only tmpfs: the course root, the repository root, the grader's
  scratch area (every other submission), ``/root``, ``/home``, ``$HOME``, ``/run`` (sockets),
  ``/var/tmp``, ``/mnt``, ``/media``; of these only the Python installation, the virtual
  environment and the course's ``nnscratch`` package come back, read-only (also when they
  live under ``/tmp``, which the sandbox replaces with its own);
- a private ``/tmp`` and ``/dev/shm`` (``tmp_bytes`` each), a minimal ``/dev``, its own ``/proc``;
- writable: its working folder only (a scratch copy of the submission folder, its cwd), plus
  the folder of its own ipc sockets;
- no network (own network namespace: only a loopback of its own), own pid, ipc and uts
  namespaces, no further user namespaces, no capabilities, no new privileges;
- a clean environment: ``PYTHONSAFEPATH=1`` (a ``nnscratch.py`` beside the notebook cannot
  shadow the course package), ``HOME=/tmp``, one BLAS/TensorFlow thread pool sized to its
  share of the cores, ``MALLOC_ARENA_MAX=2`` (TensorFlow fits the address-space limit).

Who it runs as: when the grader is root, as an unprivileged uid of its own per parallel job
(``uid_base + slot``: jobs share no process budget, cannot signal or read each other, and
cannot read root's files). bubblewrap resolves bind sources as that uid, so a path it cannot
traverse (here: a Python installed under ``/root``) is first bind-mounted, as root, in a
private mount namespace (``unshare``) onto a traversable point. ``bwrap --unshare-user
--uid N`` run directly by root was rejected: it maps the kernel to uid 0 outside, so the
kernel owns every root file it can see (it could read ``/etc/shadow`` and SSH host keys and
print them into its feedback). When the grader is not root, the kernel keeps the grader's
uid (bubblewrap's unprivileged mode) with the same hiding.

Limits (``coursetools.limits``): rlimits through ``prlimit``; a watchdog thread kills the
whole sandbox when its processes together hold more than ``memory_bytes`` resident or the
notebook has run ``notebook_timeout`` seconds (``kill_reason`` says which); interrupts are
sent as ``interrupt_request`` messages (a signal to bwrap would not reach the kernel); the
grader's sockets refuse messages over ``max_message_bytes``.

``probe()`` runs the real command line with ``true``: where it fails (not Linux, no bwrap,
user namespaces disabled) the grader refuses to run unless told ``--unsandboxed``

Warm kernels: by default each job slot runs one kernel template in this sandbox (with its
capabilities kept inside the sandbox's own user namespace), which imports the course's
packages once and forks every kernel of the slot; each forked kernel then builds its own pid
(under an init), mount, network, ipc, uts and cgroup namespaces, ``/proc``, ``/tmp``, a user
namespace from which no other can be made, drops every capability and sets the same rlimits
before any student code runs (``zygote_process``, which says how). The probes of
``tests/test_sandbox.py`` run in both.

Modules: ``command`` (the command line above, the sandbox uid rule and ``probe()``),
``watchdog`` (memory and wall clock of a running sandbox), ``kernel`` (the jupyter_client
KernelManager and client the grader uses), ``limits`` (every limit, with its default),
``zygote`` (a job slot's kernel template, the grader's side) and ``zygote_process`` (the
template itself, run in the sandbox).
"""
