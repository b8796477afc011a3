"""The course secret: what makes the hidden cases of a graded class unknown to its students.

The hidden cases' *kinds* are written in ``autograder/psN/cases.py`` for anyone to read; their
random values are drawn from a seed that grading derives from a secret, so reading the
repository (or the student bundle) does not give them:

    seed(assignment) = first 8 bytes of HMAC-SHA256(secret, assignment), as a big-endian integer

The secret is the environment variable ``AUTOGRADER_SECRET`` when set, else the file
``.autograder-secret`` in the course folder (64 hex digits, mode 0600, ignored by git), written
by ``python -m autograder build`` when missing.  The same secret gives the same cases, so a
regrade is reproducible; a new secret (delete the file) gives new ones.  A hard-coded answer for
one of the few fixed edge cases (ties, constant input) gains nothing: a hidden test cell passes
only when every hidden case does, the random ones included.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV = "AUTOGRADER_SECRET"
FILENAME = ".autograder-secret"


class SecretMissing(RuntimeError):
    """No course secret: the message says how to make one."""


def secret_path(course: Path) -> Path:
    return Path(course) / FILENAME


def ensure_secret(course: Path) -> Path:
    """Write a new random secret for ``course`` unless it has one; return the file."""
    path = secret_path(course)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path


def load_secret(course: Path) -> bytes:
    """The course secret (environment first, then the course's file)."""
    text = os.environ.get(ENV) or (secret_path(course).read_text() if secret_path(course).is_file() else "")
    text = text.strip()
    if len(text) < 32:
        raise SecretMissing(f"no course secret for the hidden cases: run `python -m autograder build` (it writes "
                            f"{secret_path(course)}), or set {ENV} to at least 32 random characters")
    return text.encode()


def hidden_seed(secret: bytes, assignment: str) -> int:
    """The seed of ``assignment``'s hidden cases: HMAC-SHA256(secret, assignment), 64 bits."""
    return int.from_bytes(hmac.new(secret, assignment.encode(), hashlib.sha256).digest()[:8], "big")
