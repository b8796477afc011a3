"""``python -m autograder collect``: bring submissions into ``submitted/<student>/<assignment>/``.

Two sources:

* **an nbgrader exchange** (JupyterHub students pressed *Submit*): ``nbgrader collect`` is run on
  the course with the given exchange root; it copies each student's latest submission and its
  ``timestamp.txt``;
* **an LMS download**, a folder or a ``.zip`` of notebooks.  The naming rule is
  ``<student>_<assignment>.ipynb`` -- e.g. ``alice_ps1_linear_quantization.ipynb`` becomes
  ``submitted/alice/ps1_linear_quantization/ps1_linear_quantization.ipynb``.  The student id is
  everything before ``_<assignment>``, so it may contain underscores, and must otherwise be
  letters, digits and ``. _ @ + -``.  Sub-folders are searched; ``__MACOSX`` and hidden files are
  ignored.  Other names are listed and skipped; ``--pattern`` takes a regular expression with a
  ``(?P<student>...)`` group for an LMS that names files differently.  The file's modification
  time (or the zip entry's) becomes ``timestamp.txt``, which nbgrader uses for late penalties.

A student collected twice keeps the newer copy; a changed file is what makes ``grade`` regrade.
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .course import STUDENT_ID, UsageError, tool_env

MAX_FILE_MB = 100


@dataclass
class Collected:
    copied: list = field(default_factory=list)      #: (student, file name)
    unchanged: list = field(default_factory=list)   #: students whose copy was already there
    skipped: list = field(default_factory=list)     #: (file name, why)

    def text(self) -> str:
        lines = [f"collected {len(self.copied)} submissions ({len(self.unchanged)} unchanged, "
                 f"{len(self.skipped)} files skipped)"]
        lines += [f"  {s}: {name}" for s, name in self.copied]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


def _rule(assignment: str, pattern: str | None) -> re.Pattern:
    if pattern is None:
        return re.compile(rf"^(?P<student>.+)_{re.escape(assignment)}\.ipynb$")
    try:
        rule = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--pattern {pattern!r}: not a regular expression ({exc})") from None
    if "student" not in rule.groupindex:
        raise UsageError(f"--pattern {pattern!r}: needs a named group (?P<student>...) for the student id")
    return rule


def _place(course: Path, assignment: str, student: str, data: bytes, when: dt.datetime, out: Collected,
           name: str) -> None:
    folder = course / "submitted" / student / assignment
    target = folder / f"{assignment}.ipynb"
    if target.exists() and target.read_bytes() == data:
        out.unchanged.append(student)
        return
    folder.mkdir(parents=True, exist_ok=True)
    (course / "submitted").chmod(0o700)   # students' code must not read each other's work
    target.write_bytes(data)
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    out.copied.append((student, name))


def from_lms(course: Path, assignment: str, path: Path, pattern: str | None = None) -> Collected:
    rule = _rule(assignment, pattern)
    out = Collected()
    if not path.exists():
        raise UsageError(f"--lms {path}: no such file or folder")
    entries = []   # (name, read(), when)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError(f"--lms {path}: not a folder or a .zip file")
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = Path(info.filename).name
                if info.is_dir() or "__MACOSX" in info.filename or name.startswith("."):
                    continue
                if info.file_size > MAX_FILE_MB * 2 ** 20:
                    out.skipped.append((info.filename, f"larger than {MAX_FILE_MB} MB"))
                    continue
                entries.append((name, z.read(info), dt.datetime(*info.date_time)))
    else:
        for p in sorted(path.rglob("*")):
            if not p.is_file() or "__MACOSX" in p.parts or p.name.startswith("."):
                continue
            if p.stat().st_size > MAX_FILE_MB * 2 ** 20:
                out.skipped.append((p.name, f"larger than {MAX_FILE_MB} MB"))
                continue
            entries.append((p.name, p.read_bytes(),
                            dt.datetime.fromtimestamp(p.stat().st_mtime, dt.timezone.utc).replace(tzinfo=None)))
    latest: dict = {}
    for name, data, when in entries:
        m = rule.match(name)
        if not m:
            out.skipped.append((name, f"not named <student>_{assignment}.ipynb"))
            continue
        student = m.group("student")
        if not STUDENT_ID.match(student):
            out.skipped.append((name, f"student id {student!r} has characters other than letters, digits, . _ @ + -"))
            continue
        if student not in latest or when > latest[student][1]:
            latest[student] = (data, when, name)
    for student, (data, when, name) in sorted(latest.items()):
        _place(course, assignment, student, data, when, out, name)
    return out


def from_exchange(course: Path, assignment: str, exchange: Path) -> Collected:
    """Run ``nbgrader collect`` against the exchange root ``exchange``."""
    import subprocess
    import sys
    inbound = exchange / "quantization" / "inbound"
    if not inbound.is_dir():
        raise UsageError(f"--exchange {exchange}: no {inbound} (the exchange root holds <course_id>/inbound/)")
    before = {p: p.read_bytes() for p in (course / "submitted").glob(f"*/{assignment}/*.ipynb")}
    cmd = [str(Path(sys.executable).parent / "nbgrader"), "collect", assignment, "--update",
           f"--Exchange.root={exchange}", "--CourseDirectory.course_id=quantization"]
    proc = subprocess.run(cmd, cwd=course, env=tool_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader collect failed:\n{proc.stdout}\n{proc.stderr}")
    out = Collected()
    for p in sorted((course / "submitted").glob(f"*/{assignment}/*.ipynb")):
        student = p.parent.parent.name
        if before.get(p) == p.read_bytes():
            out.unchanged.append(student)
        else:
            out.copied.append((student, p.name))
    if (course / "submitted").is_dir():
        (course / "submitted").chmod(0o700)
    return out
