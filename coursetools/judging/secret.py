"""The course's grading secret: what makes hidden cases unpredictable, and regrades repeatable.

One random key per course, in ``grading_secret.key`` beside the gradebook (``CourseDirectory
.root``; git-ignored, readable by the instructor only, hidden from every grading kernel).
The inputs of a student's hidden cases are drawn from a generator seeded by an HMAC of the
key and (course, assignment, notebook, student, test): the same student gets the same cases
at every regrade, another student other ones, and nobody without the key can compute them.

To rotate the key (it leaked, or a new term starts): ``python -m coursetools secret
--rotate``, then regrade (``make autograde``). Correct work keeps its grade; the cases change.
"""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np

SECRET_FILE = "grading_secret.key"


def course_key(course):
    """The key of ``course`` (a Course): the configured one, or its key file (made when
    missing)."""
    given = course.setting("InjectHiddenCases", "secret", "")
    if given:
        return bytes.fromhex(given)
    name = course.setting("InjectHiddenCases", "secret_file", SECRET_FILE)
    return load_or_create(course.root / name)


def load_or_create(path):
    """The key in ``path``, created (32 random bytes, mode 0600) when there is none yet."""
    path = Path(path)
    if not path.exists():
        write(path, secrets.token_bytes(32))
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < 16:
        raise ValueError(f"{path} holds no usable key: delete it to make a new one")
    return key


def write(path, key):
    """Write ``key`` to ``path`` atomically, readable by its owner only."""
    path = Path(path)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    os.replace(tmp, path)


def rotate(path):
    """A new key in ``path`` (the old one is gone: regrade to use the new one)."""
    write(path, secrets.token_bytes(32))


def case_rng(key, *parts):
    """The generator of one test's hidden cases for one student (``parts`` name them)."""
    message = "\0".join(str(p) for p in parts).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))
