"""The sandbox every submission runs in: bubblewrap (``bwrap``), set up the same way as root or not.

What the student's code sees and may do, in both sandboxes (the notebook's kernel, and the answer
server that the trusted grader calls):

* a filesystem of its own, read-only: the system's programs and libraries (``/usr``, ``/lib*``), a
  few files of ``/etc``, the Python installation and its packages; nothing of the course
  (``course/source``, ``solutions/``, the gradebook, the course secret, other submissions) and
  nothing of any home folder;
* one writable folder, its scratch folder, plus a private ``/tmp`` and ``HOME`` inside it;
* no network (its own network namespace: not even loopback ports of the machine), its own PID,
  IPC and UTS namespaces: it sees and can signal only its own processes;
* killed with its parent (``--die-with-parent``); when the sandbox's first process dies, every
  process in it dies, detached or not; a new session (no terminal to inject keys into);
* as root: bubblewrap keeps the namespaces but not the user namespace, and the code drops to a
  slot uid of its own (no capabilities, ``RLIMIT_NPROC``) before any student code runs;
  as an ordinary user: an unprivileged user namespace, with the grader's uid and no capabilities.

When ``bwrap`` is missing or does not work here, :func:`require` refuses with the fix; grading
without a sandbox needs the instructor's explicit ``--no-sandbox``.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "alternatives", "fonts",
             "mime.types", "os-release")
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
                "bubblewrap`), or pass --no-sandbox to grade without one (not for a graded class: a submission "
                "could then read or change anything the grading user can)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or refuses to run here; the message says why and what to do."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def _probe(bwrap: str, root: bool) -> str | None:
    """None when a trivial sandbox runs, else bubblewrap's complaint."""
    cmd = [bwrap, *base_args(root=root), "--", sys.executable, "-c", "print('ok')"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if out.returncode != 0 or out.stdout.strip() != "ok":
        return (out.stderr or out.stdout).strip()[-500:] or f"exit status {out.returncode}"
    return None


def require() -> str:
    """The path of a working ``bwrap``, or :class:`SandboxUnavailable` naming the fix."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(f"no sandbox: the `bwrap` command was not found; {INSTALL_HINT}")
    problem = _probe(bwrap, os.geteuid() == 0)
    if problem:
        raise SandboxUnavailable(f"no sandbox: bubblewrap does not run here ({problem}); user namespaces may be "
                                 f"disabled (sysctl kernel.unprivileged_userns_clone=1), or {INSTALL_HINT}")
    return bwrap


def _python_dirs() -> list[str]:
    """Folders the interpreter and its packages live in (the venv, its base installation)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            str(Path(sys.executable).resolve().parent.parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[key])
    for p in sys.path:
        if p and "site-packages" in p and os.path.isdir(p):
            dirs.add(p)
    # keep the outermost folders only, and never the root or a system folder (bound anyway)
    kept = []
    for d in sorted({os.path.realpath(d) for d in dirs if d}, key=len):
        if d in ("/", "/usr", "/usr/local") or any(d == k or d.startswith(k + "/") for k in kept):
            continue
        kept.append(d)
    return kept


def in_python_dirs(path: Path) -> bool:
    """Whether ``path`` lies inside the Python installation that every sandbox binds already."""
    return any(str(path).startswith(d + "/") for d in _python_dirs())


def base_args(root: bool) -> list[str]:
    """Namespaces, the read-only system and Python, /proc, /dev, a private /tmp."""
    args = ["--die-with-parent", "--new-session"]
    # as root: no user namespace (the code drops to a slot uid itself); otherwise an unprivileged one
    args += (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if root else ["--unshare-all"])
    # the private /tmp first: what is bound below it afterwards (a venv or a course in /tmp) stays visible
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for d in _python_dirs():
        args += ["--ro-bind", d, d]
    args += ["--hostname", "sandbox"]
    return args


def _with_parents(args: list[str]) -> list[str]:
    """``args`` with every missing parent of a mount point made just before it, mode 0755.

    bubblewrap makes missing parents itself, but mode 0700 when run as root: a slot uid could then
    not reach the Python bound below ``/root`` or the scratch folder below ``/tmp``.
    """
    out, made, bound, i = [args[0]], {"/"}, set(), 1
    arity = {"--ro-bind": 2, "--bind": 2, "--symlink": 2, "--tmpfs": 1, "--proc": 1, "--dev": 1, "--dir": 1,
             "--remount-ro": 1, "--perms": 1, "--setenv": 2, "--chdir": 1, "--hostname": 1, "--cap-add": 1}
    while i < len(args):
        a = args[i]
        n = arity.get(a, 0)
        if a in ("--ro-bind", "--bind", "--symlink", "--tmpfs", "--proc", "--dev"):
            dest = args[i + n]
            for parent in reversed(Path(dest).parents):
                q = str(parent)
                if q in made or any(q == b or q.startswith(b + "/") for b in bound):
                    continue
                out += ["--perms", "0755", "--dir", q]
                made.add(q)
            made.add(dest)
            if a in ("--ro-bind", "--bind") and os.path.isdir(args[i + 1]):
                bound.add(dest)   # a real folder: what lies below it exists already
        out += args[i:i + n + 1]
        i += n + 1
    return out


def command(bwrap: str, argv: list[str], *, writable: list[Path], readable: list[Path] = (),
            hidden: list[Path] = (), files: dict[str, Path] | None = None, chdir: Path | None = None,
            env: dict[str, str] | None = None, root: bool | None = None) -> list[str]:
    """The full ``bwrap ... -- argv`` command line.

    ``writable`` and ``readable`` folders are bound at their own paths, ``hidden`` folders are
    covered by an empty tmpfs (so that e.g. the reference library is not there at all), and
    ``files`` maps a path inside the sandbox to a file outside (bound read-only).
    """
    root = os.geteuid() == 0 if root is None else root
    args = [bwrap, *base_args(root)]
    for d in readable:
        args += ["--ro-bind", str(d), str(d)]
    for d in hidden:
        args += ["--tmpfs", str(d), "--remount-ro", str(d)]
    for inside, outside in (files or {}).items():
        args += ["--ro-bind", str(outside), inside]
    for d in writable:
        args += ["--bind", str(d), str(d)]
    args = _with_parents(args)
    args += ["--clearenv"]
    for key, value in (env or {}).items():
        args += ["--setenv", key, value]
    if chdir is not None:
        args += ["--chdir", str(chdir)]
    return [*args, "--", *argv]
