"""One submission, one job: the unit that local workers and Dask workers run.

A job is a plain dict (it travels to a Dask worker by pickle) holding everything needed to
grade one student's submission anywhere: the submission's files, a *template* course (the
nbgrader config, the assignment's source, and a private gradebook that knows the assignment),
the student versions for :mod:`.preflight`, and the limits.  :func:`run_job` never raises: every
outcome, including a submission that cannot be graded, is a *result* dict with zero or more
points and the reasons, for the parent to merge into the real gradebook
(:func:`autograder.grading.gradebook.merge`).
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import pwd  # noqa: F401 - documents that this is POSIX-only
import shutil
import signal
import socket
import sys
import tarfile
import tempfile
import time
import traceback
from pathlib import Path

import nbformat

from . import bubblewrap, preflight, sandbox, trusted
from .course import ROOT

STOP_CELL = ("KeyboardInterrupt", "CellTimeoutError")


def _tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def _untar(data: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")


def read_files(folder: Path) -> dict:
    # never follow a link: a submission's scratch folder could point one at a file of the grader's
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts}


@functools.lru_cache(maxsize=None)
def _unreachable_for_others(scratch: str) -> list[str]:
    import nbgrader
    import quantref
    paths = [sys.executable, Path(sys.executable).resolve(), ROOT / "autograder", Path(quantref.__file__).parent,
             Path(nbgrader.__file__).parent]
    return sandbox.uid_can_reach(paths, traverse=[scratch])


def _result(job: dict, status: str, **kw) -> dict:
    cells = {gid: {"score": 0.0, "max_score": mx, "message": ""} for gid, mx in job["cells"].items()}
    out = {"assignment": job["assignment"], "student": job["student"], "content_hash": job["content_hash"],
           "source_hash": job["source_hash"], "status": status, "reasons": [], "notes": [], "cells": cells,
           "comments": {}, "timestamp": job.get("timestamp"), "late_penalty": {}, "autograded": {},
           "seconds": 0.0, "attempts": 0, "host": socket.gethostname(), "isolation": "none"}
    out.update(kw)
    return out


def cell_message(cell) -> str:
    """A test cell's outcome in words: the error (no traceback, so no test source) and printed lines."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            parts.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".rstrip(": "))
        elif out.get("output_type") == "stream":
            parts.append("".join(out.get("text", "")).strip())
    return "\n".join(p for p in parts if p).strip()[:4000]


def _stop_note(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            gid = cell.metadata["nbgrader"]["grade_id"]
            if out.get("ename") in STOP_CELL:
                return (f"solution cell {gid} did not finish within the cell time limit and was interrupted "
                        f"(an endless loop?)")
            return f"solution cell {gid} stopped with {out.get('ename')}: {str(out.get('evalue', ''))[:200]}"
    return None


def _log_reason(log: str, limits: sandbox.Limits) -> str:
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log:
        return ("the notebook's kernel died while it ran (the code called os._exit, killed its own process, "
                "or crashed Python), so no test could be graded")
    if "UnresponsiveKernelError" in log or "became unresponsive" in log:
        return "the kernel stopped responding and could not be interrupted, so no test could be graded"
    if "MemoryError" in log:
        return f"grading ran out of memory (limit {limits.memory_mb} MiB per process)"
    if "Notebook failed to validate" in log:
        return "nbgrader found the notebook's nbgrader metadata corrupted"
    errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    return "nbgrader failed: " + (" | ".join(errors[-3:])[:600] if errors else "no message")


def _retryable(outcome: sandbox.Outcome) -> bool:
    code = outcome.exitcode
    return (not outcome.timed_out and code is not None and code < 0
            and -code not in (signal.SIGXCPU, signal.SIGXFSZ))


def _prepare(job: dict, jobdir: Path, notebooks: dict, uid: int | None) -> dict:
    course = jobdir / "course"
    course.mkdir()
    _untar(job["template"], course)
    sub = course / "submitted" / job["student"] / job["assignment"]
    sub.mkdir(parents=True)
    for rel, data in job["files"].items():
        if rel.endswith(".ipynb") and "/" not in rel:
            continue  # notebooks are written below, as preflight left them
        target = sub / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for name, data in notebooks.items():
        (sub / f"{name}.ipynb").write_bytes(data)
    os.chmod(course / "gradebook.db", 0o600)
    home, tmp, ipc = jobdir / "home", jobdir / "tmp", jobdir / "ipc"
    for d in (home, tmp, ipc):
        d.mkdir()
        if uid is not None:
            os.chown(d, uid, uid)
        os.chmod(d, 0o700)
    kdir = jobdir / "jupyter" / "kernels" / "python3"
    kdir.mkdir(parents=True)
    limits = job["limits"]
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "autograder.grading.kernel", "-" if uid is None else str(uid),
                 str(limits.processes), "-f", "{connection_file}"],
        "display_name": "Python 3 (graded)", "language": "python",
        # an interrupt travels as a message: a signal would reach bubblewrap, not the kernel inside it
        "interrupt_mode": "message"}))
    env = {"HOME": str(home), "TMPDIR": str(tmp), "IPYTHONDIR": str(home / ".ipython"),
           "MPLCONFIGDIR": str(tmp / "matplotlib"), "JUPYTER_PATH": str(jobdir / "jupyter"),
           "JUPYTER_CONFIG_DIR": str(jobdir / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(jobdir / "runtime"),
           "JUPYTER_DATA_DIR": str(jobdir / "jupyter"), "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "AUTOGRADER_IPC_DIR": str(ipc),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return {"kind": "autograde", "course": str(course), "assignment": job["assignment"],
            "student": job["student"], "env": env, "log": str(jobdir / "nbgrader.log"),
            "pidfile": str(jobdir / "job.pid")}


def _collect(job: dict, result: dict, course: Path) -> None:
    """Fill ``result`` from the scratch course after a successful nbgrader run."""
    from nbgrader.api import Gradebook
    student, assignment = job["student"], job["assignment"]
    out_dir = course / "autograded" / student / assignment
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(assignment, student)
        if sub.timestamp is not None:
            result["timestamp"] = sub.timestamp.isoformat()
        for name in job["notebooks"]:
            snb = gb.find_submission_notebook(name, assignment, student)
            result["late_penalty"][name] = snb.late_submission_penalty
            for g in snb.grades:
                result["cells"][g.name].update(score=float(g.auto_score or 0.0),
                                               needs_manual=bool(g.needs_manual_grade))
            for c in snb.comments:
                if c.auto_comment:
                    result["comments"][c.name] = c.auto_comment
    for name in job["notebooks"]:
        nb = nbformat.read(out_dir / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if gid in result["cells"] and meta.get("grade"):
                result["cells"][gid]["message"] = cell_message(cell)
            elif meta.get("solution") and cell.cell_type == "code":
                note = _stop_note(cell)
                if note:
                    result["notes"].append(note)
    # only what was submitted comes back: files the notebook wrote while it ran stay in the scratch folder
    keep = set(job["files"]) | {f"{n}.ipynb" for n in job["notebooks"]}
    result["autograded"] = {rel: data for rel, data in read_files(out_dir).items() if rel in keep}


def run_job(job: dict) -> dict:
    """Grade one submission; return the result (never raises)."""
    start = time.monotonic()
    try:
        result = _run_job(job)
    except Exception:  # noqa: BLE001 - an internal error is a result too, never a lost submission
        result = _result(job, "error", reasons=["internal error in the grader: " +
                                                traceback.format_exc(limit=3)[-800:]])
    result["seconds"] = time.monotonic() - start
    return result


def _run_job(job: dict) -> dict:
    notes: list[str] = []
    notebooks: dict = {}
    files = job["files"]
    for name in job["notebooks"]:
        data = files.get(f"{name}.ipynb")
        if data is None:
            found = sorted(k for k in files if k.endswith(".ipynb") and "/" not in k)
            if len(job["notebooks"]) == 1 and len(found) == 1:
                notes.append(f"the notebook was submitted as {found[0]}; graded as {name}.ipynb")
                data = files[found[0]]
            else:
                return _result(job, "rejected", reasons=[
                    f"no notebook named {name}.ipynb in the submission (found: {', '.join(found) or 'none'})"])
        release = nbformat.reads(job["release"][name].decode(), as_version=4)
        checked = preflight.check(data, release, job["assignment"], job.get("others", {}))
        if checked.rejected:
            return _result(job, "rejected", reasons=[checked.rejected], notes=notes)
        notes += checked.notes
        notebooks[name] = checked.notebook

    limits: sandbox.Limits = job["limits"]
    scratch = job.get("scratch") or tempfile.gettempdir()
    # the sandbox is checked where the job runs (a Dask worker may lack bubblewrap: it refuses)
    bwrap = bubblewrap.require() if job.get("sandbox", True) else None
    if bwrap is None:
        notes.append("WARNING: graded without a sandbox (--no-sandbox): the submission's code could read and "
                     "change anything the grading user can")
    want_uid = job.get("isolation", "auto") != "none" and os.geteuid() == 0
    if want_uid and bwrap is None and _unreachable_for_others(str(scratch)):
        if job.get("isolation") == "uid":
            raise RuntimeError("uid isolation impossible: not readable by others: "
                               + ", ".join(_unreachable_for_others(str(scratch))))
        want_uid = False
    with sandbox.slot() if want_uid else contextlib.nullcontext(None) as uid:
        attempts = 0
        while True:
            attempts += 1
            jobdir = Path(tempfile.mkdtemp(prefix=f"job-{job['student'][:20]}-", dir=scratch))
            os.chmod(jobdir, 0o755)
            try:
                spec = _prepare(job, jobdir, notebooks, uid)
                if bwrap is not None:
                    spec["env"]["AUTOGRADER_BWRAP"] = bwrap
                outcome = sandbox.run_sandboxed(spec, limits, uid)
                course = Path(spec["course"])
                done = all((course / "autograded" / job["student"] / job["assignment"] / f"{n}.ipynb").exists()
                           for n in job["notebooks"])
                if _retryable(outcome) and attempts <= job.get("retries", 1):
                    notes.append(f"attempt {attempts}: {sandbox.describe_exit(outcome, limits)}; graded again")
                    continue
                isolation = "+".join(k for k, on in (("bwrap", bwrap), ("uid", uid is not None)) if on) or "none"
                result = _result(job, "graded", notes=notes, attempts=attempts, isolation=isolation)
                if outcome.exitcode == 0 and done and not outcome.timed_out:
                    _collect(job, result, course)
                else:
                    log = Path(spec["log"]).read_text(errors="replace") if Path(spec["log"]).exists() else ""
                    reason = (_log_reason(log, limits) if outcome.exitcode and outcome.exitcode > 0
                              else sandbox.describe_exit(outcome, limits))
                    result.update(status="failed", reasons=[reason])
                _score_trusted(job, result, notebooks, jobdir, limits, uid, bwrap)
                return result
            finally:
                if os.environ.get("AUTOGRADER_KEEP_SCRATCH"):
                    print(f"kept {jobdir}", file=sys.stderr)
                else:
                    shutil.rmtree(jobdir, ignore_errors=True)


def _score_trusted(job: dict, result: dict, notebooks: dict, jobdir: Path, limits: sandbox.Limits,
                   uid: int | None, bwrap: str | None) -> None:
    """Replace every autograded test cell's score and message by the trusted grader's (:mod:`.trusted`).

    This runs whether or not nbgrader's run of the notebook succeeded: a notebook whose kernel
    died still gets the points its functions earn.
    """
    from ..problem_sets import problem_set
    ps = problem_set(job["assignment"])
    if ps is None or len(notebooks) != 1:
        return
    (name, data), = notebooks.items()
    nb = nbformat.reads(data.decode() if isinstance(data, bytes) else data, as_version=4)
    scratch = jobdir / "answers"
    scratch.mkdir()
    os.chmod(scratch, 0o755)
    scores, notes = trusted.score(ps, nb, scratch, limits, uid, bwrap, job["hidden_seed"],
                                  cell_seconds=float(limits.cell_timeout or 60))
    result["notes"] += notes
    for gid, s in scores.items():
        if gid in result["cells"]:   # the cell's points as the gradebook has them (tests pin registry = notebook)
            cell = result["cells"][gid]
            cell.update(score=cell["max_score"] if s["passed"] else 0.0, message=s["message"])
    if result["status"] == "failed":
        # nbgrader could not run the notebook to the end; the functions were graded all the same
        result["notes"] += [f"the graded notebook could not be produced ({r}); your functions were graded "
                            f"all the same" for r in result["reasons"]]
        result.update(status="graded", reasons=[])
    key = f"{name}.ipynb"
    if key in result["autograded"]:
        graded = nbformat.reads(result["autograded"][key].decode(), as_version=4)
        result["autograded"][key] = nbformat.writes(trusted.rewrite_test_outputs(graded, scores)).encode()


def make_template(course: Path, assignment: str, workdir: Path, limits: sandbox.Limits) -> dict:
    """Generate the assignment once in a scratch course: its private gradebook, release and cells."""
    from nbgrader.api import Gradebook
    tdir = workdir / "template"
    (tdir / "source").mkdir(parents=True)
    shutil.copytree(course / "source" / assignment, tdir / "source" / assignment)
    shutil.copy(course / "nbgrader_config.py", tdir)
    spec = {"kind": "generate", "course": str(tdir), "assignment": assignment, "student": "-",
            "env": {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")},
            "log": str(workdir / "generate.log"), "pidfile": str(workdir / "generate.pid")}
    outcome = sandbox.run_sandboxed(spec, sandbox.Limits(wall=600, memory_mb=max(limits.memory_mb, 2048)), None)
    if outcome.exitcode != 0:
        log = Path(spec["log"]).read_text(errors="replace") if Path(spec["log"]).exists() else ""
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{log[-3000:]}")
    release = {p.stem: p.read_bytes() for p in sorted((tdir / "release" / assignment).glob("*.ipynb"))}
    with Gradebook(f"sqlite:///{tdir / 'gradebook.db'}") as gb:
        a = gb.find_assignment(assignment)
        notebooks = [nb.name for nb in a.notebooks]
        cells = {c.name: float(c.max_score) for nb in a.notebooks for c in nb.grade_cells}
    shutil.rmtree(tdir / "release")
    return {"tar": _tar(tdir), "release": release, "notebooks": notebooks, "cells": cells,
            "db": tdir / "gradebook.db"}


def graded_ids(notebook: Path) -> list[str]:
    try:
        nb = json.loads(notebook.read_text())
        return [c["metadata"]["nbgrader"]["grade_id"] for c in nb.get("cells", [])
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
