"""Text every machine has: the Python standard library's own source files, as bytes.

The corpus of the byte-level language model (:mod:`~quantref.zoo.byte_lm`) is a fixed, ordered
list of pure-Python standard-library modules, read as raw bytes from
``sysconfig.get_paths()["stdlib"]`` (nothing is imported, nothing is downloaded):

* :data:`TRAIN_FILES` -- 81 modules, concatenated in list order, 1,641,984 bytes on Python 3.11:
  the training split;
* :data:`HELDOUT_FILES` -- 4 other modules (``textwrap``, ``fractions``, ``shlex``, ``sched``),
  68,237 bytes on Python 3.11: the held-out split on which perplexity is measured.

The split is by file, so no held-out line was seen in training.  The list keeps to modules that
were byte-for-byte identical in CPython 3.11.2 and 3.11.7 and that later versions still ship
(none of the modules PEP 594 removed, no generated tables such as ``keyword.py`` or
``opcode.py``), so that the corpus changes as rarely as possible; it still changes between
Python versions.  :attr:`ByteCorpus.sha256` fingerprints the exact bytes, and the cached model
records the fingerprint it was trained on, so a different standard library is noticed and the
model retrained rather than evaluated on text it was not made for.
"""
from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Training split: paths relative to the standard library directory, in concatenation order.
TRAIN_FILES = (
    "_collections_abc.py", "_compression.py", "_markupbase.py", "_pyio.py", "_strptime.py",
    "_threading_local.py", "_weakrefset.py", "bisect.py", "bz2.py", "cmd.py", "code.py",
    "compileall.py", "copy.py", "copyreg.py", "csv.py", "difflib.py",
    "email/_encoded_words.py", "email/_parseaddr.py", "email/contentmanager.py",
    "email/headerregistry.py", "email/message.py", "email/policy.py", "email/quoprimime.py",
    "filecmp.py", "fnmatch.py", "ftplib.py", "functools.py", "genericpath.py", "getopt.py",
    "getpass.py", "glob.py", "graphlib.py", "gzip.py", "hashlib.py", "heapq.py", "hmac.py",
    "imaplib.py", "json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py",
    "linecache.py", "lzma.py", "mailbox.py", "mimetypes.py", "modulefinder.py", "netrc.py",
    "numbers.py", "operator.py", "optparse.py", "os.py", "pickle.py", "poplib.py",
    "posixpath.py", "pprint.py", "pstats.py", "pyclbr.py", "queue.py", "random.py",
    "reprlib.py", "rlcompleter.py", "runpy.py", "secrets.py", "shelve.py", "smtplib.py",
    "socketserver.py", "stat.py", "statistics.py", "string.py", "symtable.py", "tabnanny.py",
    "tokenize.py", "tracemalloc.py", "types.py", "uuid.py", "warnings.py", "weakref.py",
    "webbrowser.py", "zipapp.py", "zipimport.py", "contextvars.py",
)

#: Held-out split: modules that are not in :data:`TRAIN_FILES`.
HELDOUT_FILES = ("textwrap.py", "fractions.py", "shlex.py", "sched.py")


class ByteCorpus(NamedTuple):
    """The two splits as byte arrays, and the fingerprint of both."""

    train: np.ndarray    #: uint8, the :data:`TRAIN_FILES` concatenated
    heldout: np.ndarray  #: uint8, the :data:`HELDOUT_FILES` concatenated
    sha256: str          #: hex SHA-256 of ``train`` bytes followed by ``heldout`` bytes
    n_bytes: int         #: ``len(train) + len(heldout)``


def stdlib_dir() -> Path:
    """The directory of this Python's standard library (``sysconfig.get_paths()["stdlib"]``)."""
    return Path(sysconfig.get_paths()["stdlib"])


def _read(directory: Path, names) -> bytes:
    parts = []
    for name in names:
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(
                f"the standard-library file {name} is missing from {directory}; the byte-level corpus "
                f"needs every file in quantref.zoo.text.TRAIN_FILES and HELDOUT_FILES (a Python "
                f"installed without its .py sources cannot provide it; pass directory= to read another copy).")
        parts.append(path.read_bytes())
    return b"".join(parts)


def load_stdlib_corpus(directory=None) -> ByteCorpus:
    """Read the corpus: :data:`TRAIN_FILES` and :data:`HELDOUT_FILES`, each split concatenated.

    Parameters
    ----------
    directory : path-like, optional
        A standard-library directory to read from; default :func:`stdlib_dir`.

    Returns
    -------
    ByteCorpus
        ``train`` and ``heldout`` as uint8 arrays (values 0 to 255), the SHA-256 of
        ``train + heldout`` and their total length.

    Examples
    --------
    >>> corpus = load_stdlib_corpus()
    >>> corpus.train.dtype, corpus.n_bytes == len(corpus.train) + len(corpus.heldout)
    (dtype('uint8'), True)
    """
    if directory is None:
        directory = stdlib_dir()
    elif not isinstance(directory, (str, Path)):
        raise TypeError(f"directory must be a path (str or pathlib.Path), got {type(directory).__name__}.")
    directory = Path(directory)
    train, heldout = _read(directory, TRAIN_FILES), _read(directory, HELDOUT_FILES)
    digest = hashlib.sha256(train + heldout).hexdigest()
    return ByteCorpus(np.frombuffer(train, dtype=np.uint8).copy(), np.frombuffer(heldout, dtype=np.uint8).copy(),
                      digest, len(train) + len(heldout))
