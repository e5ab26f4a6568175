"""Show or rotate the course's grading secret, which seeds every student's hidden cases.

The key is ``grading_secret.key`` beside the gradebook (git-ignored, mode 0600, made on the
first autograde). A student who had it could compute the grader's inputs in advance, so
rotate it when it may have leaked or a new term starts, then regrade: correct work keeps
its grade, the hidden cases change. ``nbgrader_config.py`` may name another file
(``c.InjectHiddenCases.secret_file``).

    python -m coursetools secret            # where it is, and a fingerprint
    python -m coursetools secret --rotate   # a new key (then: make autograde)
"""

import hashlib

from coursetools.judging.secret import SECRET_FILE, load_or_create, rotate


def add_arguments(parser):
    parser.add_argument("--rotate", action="store_true", help="replace the key by a new one")


def run(course, args):
    path = course.root / course.setting("InjectHiddenCases", "secret_file", SECRET_FILE)
    if args.rotate:
        rotate(path)
        print(f"new grading secret in {path}: regrade (make autograde) to use it")
    key = load_or_create(path)
    print(f"grading secret: {path} (fingerprint {hashlib.sha256(key).hexdigest()[:12]})")
    return 0
