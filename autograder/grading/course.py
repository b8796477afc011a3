"""The course folder, the gradebook's address, and the names and hashes the pipeline relies on."""
from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_COURSE = ROOT / "course"

#: A student id becomes a folder name and a database key: letters, digits and ``. _ @ + -``.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


class UsageError(Exception):
    """Bad input on the command line: the message names the argument and the fix."""


def check_course(course: Path) -> Path:
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file() or not (course / "source").is_dir():
        raise UsageError(f"--course {course}: not an nbgrader course folder (it needs nbgrader_config.py and "
                         f"source/); pass the folder that holds them")
    return course


def assignments(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def check_assignment(course: Path, name: str) -> str:
    known = assignments(course)
    if name not in known:
        raise UsageError(f"assignment {name!r} is not in {course / 'source'}; choose one of: {', '.join(known)}")
    return name


def check_student(name: str, what: str = "--student") -> str:
    if not STUDENT_ID.match(name):
        raise UsageError(f"{what} {name!r}: a student id is 1-100 letters, digits and . _ @ + - "
                         f"(it becomes a folder name); rename it")
    return name


def default_db_url(course: Path) -> str:
    return f"sqlite:///{Path(course) / 'gradebook.db'}"


def check_db_url(url: str) -> str:
    """Accept ``sqlite:///PATH`` and ``postgresql://...``; say what to install or type otherwise."""
    if url.startswith("sqlite:///"):
        return url
    if re.match(r"^postgres(ql)?(\+psycopg)?://", url):
        # name the driver: SQLAlchemy's default for a bare postgresql:// differs between versions
        url = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UsageError("--db postgresql://...: the PostgreSQL driver is missing; "
                             "run `pip install \"psycopg[binary]\"`") from None
        return url
    raise UsageError(f"--db {url!r}: expected sqlite:///PATH/gradebook.db or "
                     f"postgresql://USER@HOST:PORT/DATABASE")


def redact(url: str) -> str:
    """The database URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def files_hash(folder: Path, ignore: tuple = (".ipynb_checkpoints",)) -> str:
    """SHA-256 over a folder's files (relative names and bytes), in a fixed order."""
    h = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(part in ignore for part in rel.parts):
                h.update(str(rel).encode() + b"\0")
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def source_hash(course: Path, assignment: str) -> str:
    """What the grading of ``assignment`` depends on in the course: its source and nbgrader config."""
    h = hashlib.sha256(files_hash(course / "source" / assignment).encode())
    h.update((course / "nbgrader_config.py").read_bytes())
    return h.hexdigest()


def tool_env() -> dict:
    """This interpreter's ``bin`` first on PATH: nbgrader runs ``alembic`` from PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def exercise_of(grade_id: str) -> str:
    """The exercise a test cell belongs to, by the course's convention ``name_visible`` / ``name_hidden``."""
    return re.sub(r"_(visible|hidden)$", "", grade_id)
