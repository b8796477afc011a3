"""The byte-level language model shipped with the package (``byte_lm.npz``), and how it was made.

The shipped model: a two-layer transformer, context 64 bytes, width 64, 4 heads, MLP width 256,
135,808 float32 parameters (552 kB), trained with :data:`BYTE_LM_SETTINGS` (1,500 Adam steps of
32 windows, about 3 million bytes seen) on Python 3.11's standard-library corpus.

=================================  ==========  ==============
held-out text (68,237 bytes)       perplexity  bits per byte
=================================  ==========  ==============
uniform guess over 256 bytes       256         8
the shipped model, float32         4.879       2.287
=================================  ==========  ==============

Every linear weight rounded to nearest with :mod:`quantref.linear` (``python -m quantref.zoo
report-byte-lm``; symmetric on the full signed grid, asymmetric on the unsigned one; embeddings
and layer norms stay float), held-out perplexity and its change from float32:

=====  ========================  ========================  ========================  ========================
bits   symmetric, per channel    symmetric, groups of 32   asymmetric, per channel   asymmetric, groups of 32
=====  ========================  ========================  ========================  ========================
8      4.882 (+0.05 %)           4.880 (+0.02 %)           4.879 (-0.00 %)           4.880 (+0.01 %)
4      5.199 (+6.6 %)            5.079 (+4.1 %)            5.133 (+5.2 %)            5.029 (+3.1 %)
3      6.838 (+40 %)             6.788 (+39 %)             6.033 (+24 %)             5.724 (+17 %)
=====  ========================  ========================  ========================  ========================

Training took 95 s of CPU time on one x86-64 core (one BLAS thread, see
:func:`~quantref.zoo.byte_lm.blas_threads`): that is its wall-clock time on an idle core, and more
on a machine busy with other work.

``python -m quantref.zoo train-byte-lm`` retrains it with :data:`BYTE_LM_SETTINGS` on
:func:`~quantref.zoo.text.load_stdlib_corpus` and overwrites the file.  Besides the float32
weights, the file records the fingerprint (SHA-256 and length) of the corpus it was trained on and
the held-out perplexity measured right after training.

:func:`pretrained_byte_lm` returns the shipped model when this Python's standard library gives
the same corpus.  When it does not (another Python version), the shipped weights would be
measured on text they were not trained on, so it retrains instead (about a minute and a half,
with a progress bar), once: the result is cached in :func:`cache_dir` under the corpus
fingerprint and loaded from there next time.
"""
from __future__ import annotations

import json
import os
import platform
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

from .byte_lm import ByteLMConfig, ByteTransformer, bits_per_byte, load_metadata, perplexity
from .byte_lm_training import train_byte_lm
from .text import ByteCorpus, load_stdlib_corpus

#: The file inside this package that holds the shipped weights.
PRETRAINED_FILE = "byte_lm.npz"

#: Arguments of :func:`~quantref.zoo.byte_lm_training.train_byte_lm` that produced the shipped weights.
BYTE_LM_SETTINGS = dict(config=ByteLMConfig(context=64, d_model=64, n_heads=4, n_layers=2, d_mlp=256),
                        steps=1500, batch_size=32, lr=6e-3, warmup=100, seed=0)

#: Held-out perplexity of the shipped weights on :func:`~quantref.zoo.text.load_stdlib_corpus`
#: (Python 3.11's standard library), measured after training; the file records the same number.
BYTE_LM_HELDOUT_PERPLEXITY = 4.8792

#: Environment variable naming the directory for retrained models (default ``~/.cache/quantref``).
CACHE_ENV = "QUANTREF_CACHE_DIR"


def pretrained_path():
    """Path of the shipped weights file (a ``Traversable`` inside the installed package)."""
    return resources.files(__package__) / PRETRAINED_FILE


def cache_dir() -> Path:
    """Where models retrained for another corpus are kept: ``$QUANTREF_CACHE_DIR`` or ``~/.cache/quantref``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "quantref")


def _settings_json(settings: dict) -> str:
    return json.dumps({k: (v._asdict() if isinstance(v, ByteLMConfig) else v) for k, v in settings.items()},
                      sort_keys=True)


def train_and_save(path, corpus: ByteCorpus | None = None, settings: dict | None = None,
                   progress: bool = True) -> tuple[ByteTransformer, dict]:
    """Train with ``settings`` (default :data:`BYTE_LM_SETTINGS`) on ``corpus``, write ``path``.

    Returns the model and the metadata written with it: ``corpus_sha256``, ``corpus_bytes``,
    ``heldout_perplexity``, ``heldout_bits_per_byte``, ``train_seconds`` (wall clock),
    ``train_cpu_seconds``, ``python`` and ``settings`` (JSON).
    """
    corpus = load_stdlib_corpus() if corpus is None else corpus
    settings = dict(BYTE_LM_SETTINGS if settings is None else settings)
    wall, cpu = time.perf_counter(), time.process_time()
    model = train_byte_lm(corpus.train, progress=progress, **settings)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    meta = dict(corpus_sha256=corpus.sha256, corpus_bytes=corpus.n_bytes,
                heldout_perplexity=perplexity(model, corpus.heldout),
                heldout_bits_per_byte=bits_per_byte(model, corpus.heldout),
                train_seconds=round(wall, 1), train_cpu_seconds=round(cpu, 1),
                python=platform.python_version(), settings=_settings_json(settings))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path, **meta)
    return model, meta


def _matches(path: Path, corpus: ByteCorpus) -> bool:
    if not path.is_file():
        return False
    meta = load_metadata(path)
    return meta.get("corpus_sha256") == corpus.sha256 and meta.get("corpus_bytes") == corpus.n_bytes


def pretrained_byte_lm(progress: bool = True, corpus: ByteCorpus | None = None, dtype=np.float32) -> ByteTransformer:
    """The byte-level language model trained on this machine's corpus with :data:`BYTE_LM_SETTINGS`.

    The shipped weights if their recorded corpus fingerprint equals that of ``corpus`` (default
    :func:`~quantref.zoo.text.load_stdlib_corpus`); else a model cached in :func:`cache_dir` for
    this fingerprint; else one trained now (with a warning) and cached there.

    Examples
    --------
    >>> model = pretrained_byte_lm(progress=False)
    >>> model.linear_names[:2], model.linear_weight("head").shape
    (('blocks.0.attn_qkv', 'blocks.0.attn_out'), (256, 64))
    """
    corpus = load_stdlib_corpus() if corpus is None else corpus
    with resources.as_file(pretrained_path()) as shipped:
        if _matches(shipped, corpus):
            return ByteTransformer.load(shipped, dtype=dtype)
        shipped_meta = load_metadata(shipped) if shipped.is_file() else {}
    cached = cache_dir() / f"byte_lm_{corpus.sha256[:16]}.npz"
    if not _matches(cached, corpus):
        why = (f"the shipped {PRETRAINED_FILE} is missing" if not shipped_meta else
               f"this Python's standard library gives a different corpus ({corpus.n_bytes} bytes, sha256 "
               f"{corpus.sha256[:16]}...) from the one the shipped weights were trained on "
               f"({shipped_meta.get('corpus_bytes')} bytes, sha256 {str(shipped_meta.get('corpus_sha256'))[:16]}..., "
               f"Python {shipped_meta.get('python')})")
        warnings.warn(f"{why}; training the byte-level language model for this corpus (about a minute and a "
                      f"half) and caching it as {cached}.", stacklevel=2)
        train_and_save(cached, corpus, progress=progress)
    return ByteTransformer.load(cached, dtype=dtype)


def pretrained_metadata(corpus: ByteCorpus | None = None) -> dict:
    """The metadata of the model :func:`pretrained_byte_lm` returns (see :func:`train_and_save`)."""
    corpus = load_stdlib_corpus() if corpus is None else corpus
    with resources.as_file(pretrained_path()) as shipped:
        if _matches(shipped, corpus):
            return load_metadata(shipped)
    cached = cache_dir() / f"byte_lm_{corpus.sha256[:16]}.npz"
    if not _matches(cached, corpus):
        raise FileNotFoundError("no byte-level model for this corpus yet; pretrained_byte_lm() trains one.")
    return load_metadata(cached)
