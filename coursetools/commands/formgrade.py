"""Start JupyterLab on the course with nbgrader's formgrader, to grade written answers by hand.

nbgrader 0.9.6 has no ``nbgrader formgrader`` command: the formgrader is a JupyterLab
extension. This starts JupyterLab with the instructor's configuration
(``binder/instructor_config/``: formgrader, course list and create-assignment on; the
student's configuration, ``binder/jupyter_config/``, switches them off), in the course
folder, where formgrader reads ``nbgrader_config.py`` and the gradebook that ``make
autograde`` wrote. It listens on 127.0.0.1 only, with a new token each start (given to the
server in ``JUPYTER_TOKEN``, never on its command line), and prints the URL to open once the
server answers. In JupyterLab: Nbgrader > Formgrader > Manual Grading. Ctrl-C stops it;
then ``make export`` writes grades.csv and the feedback with the manual grades.

    python -m coursetools formgrade [--port N] [--allow-root]
"""

import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from coursetools.course import REPOSITORY, CourseError, nbgrader_env

INSTRUCTOR_CONFIG = REPOSITORY / "binder" / "instructor_config"
HOST = "127.0.0.1"
# Not Jupyter's 8888, so that `make lab` can run beside it; the class report's links to
# formgrader (coursetools.report.formgrader_links) point here.
DEFAULT_PORT = 8890
START_TIMEOUT = 120  # seconds for JupyterLab to answer


def add_arguments(parser):
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on {HOST} (default {DEFAULT_PORT})")
    parser.add_argument("--allow-root", action="store_true",
                        help="let JupyterLab run as root (`make formgrade` passes it when root)")


def base_url(port=DEFAULT_PORT):
    return f"http://{HOST}:{port}"


def command(course, port, allow_root=False):
    """The JupyterLab command line (the token is not on it: see ``environment``)."""
    jupyter = Path(sys.executable).parent / "jupyter"
    line = [str(jupyter), "lab", "--no-browser", f"--ServerApp.ip={HOST}", f"--port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={course.root}"]
    return line + (["--allow-root"] if allow_root else [])


def environment(token):
    """nbgrader's environment with the instructor's configuration and the token; inline plots
    (no Agg) as in ``make lab``."""
    env = nbgrader_env()
    env.pop("MPLBACKEND", None)
    env["JUPYTER_CONFIG_PATH"] = str(INSTRUCTOR_CONFIG)
    env["JUPYTER_TOKEN"] = token
    return env


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _answers(url, token):
    request = urllib.request.Request(f"{url}/api/status",
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _stop(process):
    if process.poll() is None:
        process.terminate()  # the server shuts its kernels down
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(course, args):
    if not (course.root / "nbgrader_config.py").is_file():
        raise CourseError(f"{course.root} has no nbgrader_config.py: not an nbgrader course")
    if not _port_free(args.port):
        raise CourseError(f"port {args.port} on {HOST} is in use (another `make formgrade`?): "
                          "choose another with PORT=n (python -m coursetools formgrade --port n)")
    token = secrets.token_hex(24)
    url = base_url(args.port)
    # the server's working directory is the course: formgrader reads nbgrader_config.py there
    process = subprocess.Popen(command(course, args.port, args.allow_root), cwd=course.root,
                               env=environment(token))
    signal.signal(signal.SIGTERM, _interrupted)  # `kill` of this process stops the server too
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url, token):
            if process.poll() is not None:
                raise CourseError(f"JupyterLab exited with status {process.returncode} before "
                                  "it answered (its log is above)")
            if time.monotonic() > deadline:
                raise CourseError(f"JupyterLab did not answer on {url} in {START_TIMEOUT} s")
            time.sleep(0.5)
        print(f"\nformgrader of {course.root}:\n"
              f"  open  {url}/lab?token={token}\n"
              "        then Nbgrader > Formgrader > Manual Grading\n"
              f"  (or the formgrader alone: {url}/formgrader?token={token})\n"
              "Ctrl-C stops it; then `make export` writes grades.csv and the feedback.\n",
              flush=True)
        process.wait()
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CourseError(f"JupyterLab exited with status {process.returncode}")
    except KeyboardInterrupt:
        print("formgrader: stopping JupyterLab...", file=sys.stderr, flush=True)
    finally:
        _stop(process)
    return 0

