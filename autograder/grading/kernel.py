"""Kernel launcher for graded notebooks: ``python -m autograder.grading.kernel UID NPROC -f CONNECTION_FILE``.

The scratch course's ``python3`` kernelspec points here.  With ``AUTOGRADER_BWRAP`` set (grading
with a sandbox, the default), the launcher re-executes itself inside bubblewrap
(:mod:`.bubblewrap`): the kernel then sees the Python installation, ``quantref`` and the
notebook checks read-only, writes only its working folder, its ``HOME`` and a private ``/tmp``,
has no network (it talks to nbgrader over Unix sockets in the job's runtime folder), and dies
with the job.  Started as root, the kernel drops to the job's slot uid (no supplementary groups)
and bounds the uid's processes (``RLIMIT_NPROC``) before any notebook code runs.

Whatever the kernel reports, the points come from :mod:`.trusted`; this run only produces the
graded notebook's outputs.
"""
from __future__ import annotations

import os
import resource
import shutil
import sys
from pathlib import Path

KEEP_ENV = ("HOME", "IPYTHONDIR", "MPLBACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "PYDEVD_DISABLE_FILE_VALIDATION", "LANG")  # not JPY_PARENT_PID: no parent pid in a PID namespace


def _package_dirs() -> list[Path]:
    import quantref

    import autograder
    return [Path(quantref.__file__).resolve().parent, Path(autograder.__file__).resolve().parent]


def _into_sandbox(bwrap: str, uid_arg: str, nproc: str, rest: list[str]) -> None:
    """Replace this process with the same launcher inside bubblewrap (never returns)."""
    from . import bubblewrap
    conn = Path(rest[rest.index("-f") + 1]).resolve()
    ipc = Path(os.environ["AUTOGRADER_IPC_DIR"])   # where the kernel binds its Unix sockets
    home = Path(os.environ["HOME"])
    if os.geteuid() == 0 and uid_arg != "-":
        os.chmod(conn, 0o644)   # bound alone into the sandbox, for the slot uid to read
    else:  # no slot uid: bound this user's processes all the same (a fork bomb stops at the limit)
        from . import sandbox
        sandbox.limit_own_processes(int(nproc))
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env.update(TMPDIR="/tmp", MPLCONFIGDIR="/tmp/matplotlib", PATH="/usr/bin:/bin", AUTOGRADER_TRUSTED_GRADING="1",
               AUTOGRADER_INSIDE="1")
    readable = [d for d in _package_dirs() if not bubblewrap.in_python_dirs(d)]
    argv = [sys.executable, "-m", "autograder.grading.kernel", uid_arg, nproc, *rest]
    cmd = bubblewrap.command(bwrap, argv, writable=[Path.cwd(), home, ipc], readable=readable,
                             files={str(conn): conn}, chdir=Path.cwd(), env=env)
    os.execv(cmd[0], cmd)


def main(argv: list[str]) -> None:
    uid_arg, nproc, rest = argv[0], int(argv[1]), argv[2:]
    bwrap = os.environ.get("AUTOGRADER_BWRAP")
    if bwrap and not os.environ.get("AUTOGRADER_INSIDE"):
        _into_sandbox(bwrap, uid_arg, str(nproc), rest)
    if os.geteuid() == 0 and uid_arg != "-":
        uid = int(uid_arg)
        if not os.environ.get("AUTOGRADER_INSIDE"):  # no sandbox: a private copy the uid can read
            i = rest.index("-f") + 1
            private = os.path.join(os.environ.get("TMPDIR", "/tmp"), "kernel-connection.json")
            shutil.copyfile(rest[i], private)
            os.chown(private, uid, uid)
            os.chmod(private, 0o600)
            rest[i] = private
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        os.environ["IPYTHONDIR"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), ".ipython")
    from . import sandbox
    sandbox._prctl_pdeathsig()  # noqa: SLF001
    from ipykernel import kernelapp
    sys.argv = [sys.argv[0], *rest]
    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main(sys.argv[1:])
