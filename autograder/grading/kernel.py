"""Kernel launcher for graded notebooks: ``python -m autograder.grading.kernel UID -f CONNECTION_FILE``.

The scratch course's ``python3`` kernelspec points here.  Started as root, it copies the
connection file where the slot uid can read it, drops to that uid (no supplementary groups),
bounds the uid's processes (``RLIMIT_NPROC``), asks to die with its parent, and becomes an
ordinary IPython kernel.  Not root, or with uid ``-``, it only does the last two steps.
"""
from __future__ import annotations

import os
import resource
import shutil
import sys


def main(argv: list[str]) -> None:
    uid_arg, nproc, rest = argv[0], int(argv[1]), argv[2:]
    if os.geteuid() == 0 and uid_arg != "-":
        uid = int(uid_arg)
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
