"""The standard-library corpus, train_byte_lm, and the shipped byte-level language model."""
import hashlib
import sys
import sysconfig
import warnings
from pathlib import Path

import numpy as np
import pytest

from quantref.zoo import byte_lm_pretrained
from quantref.zoo.byte_lm import ByteLMConfig, ByteTransformer, load_metadata, perplexity
from quantref.zoo.byte_lm_pretrained import (BYTE_LM_HELDOUT_PERPLEXITY, BYTE_LM_SETTINGS, pretrained_byte_lm,
                                             pretrained_path)
from quantref.zoo.byte_lm_training import init_byte_lm, train_byte_lm
from quantref.zoo.text import HELDOUT_FILES, TRAIN_FILES, ByteCorpus, load_stdlib_corpus

TINY = ByteLMConfig(context=8, d_model=8, n_heads=2, n_layers=1, d_mlp=16)
TEXT = np.frombuffer(b"def add(a, b):\n    return a + b\n\n" * 40, dtype=np.uint8)


@pytest.fixture(scope="module")
def corpus():
    return load_stdlib_corpus()


def independent_fingerprint():
    """SHA-256 and length of the listed files, read here with plain open()."""
    root = Path(sysconfig.get_paths()["stdlib"])
    digest, n = hashlib.sha256(), 0
    for name in TRAIN_FILES + HELDOUT_FILES:
        with open(root / name, "rb") as f:
            content = f.read()
        digest.update(content)
        n += len(content)
    return digest.hexdigest(), n


def test_corpus_is_the_listed_files(corpus):
    sha, n = independent_fingerprint()
    assert corpus.sha256 == sha and corpus.n_bytes == n == len(corpus.train) + len(corpus.heldout)
    assert corpus.train.dtype == corpus.heldout.dtype == np.uint8
    assert not set(TRAIN_FILES) & set(HELDOUT_FILES)
    root = Path(sysconfig.get_paths()["stdlib"])
    assert corpus.heldout.tobytes() == b"".join((root / f).read_bytes() for f in HELDOUT_FILES)
    assert corpus.train[:200].tobytes() == (root / TRAIN_FILES[0]).read_bytes()[:200]
    # sizes as documented: about 1.6 MB to train on, about 68 kB held out
    assert 1.0e6 < len(corpus.train) < 2.5e6 and 40e3 < len(corpus.heldout) < 100e3


def test_corpus_from_a_directory_missing_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^the standard-library file _collections_abc.py is missing"):
        load_stdlib_corpus(tmp_path)
    with pytest.raises(TypeError, match=r"^directory must be a path"):
        load_stdlib_corpus(3)


def test_the_same_seed_gives_the_same_model():
    a = train_byte_lm(TEXT, TINY, steps=5, batch_size=4, warmup=2, seed=3, progress=False)
    b = train_byte_lm(TEXT, TINY, steps=5, batch_size=4, warmup=2, seed=3, progress=False)
    c = train_byte_lm(TEXT, TINY, steps=5, batch_size=4, warmup=2, seed=4, progress=False)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        assert a.params[name].dtype == np.float32
    assert not np.array_equal(a.params["head"], c.params["head"])
    # training moved the weights away from the initialisation
    assert not np.array_equal(a.params["head"], init_byte_lm(TINY, seed=3).params["head"])


def test_training_lowers_the_perplexity():
    before = perplexity(init_byte_lm(TINY, seed=0), TEXT)
    after = perplexity(train_byte_lm(TEXT, TINY, steps=60, batch_size=8, lr=1e-2, warmup=5, seed=0, progress=False),
                       TEXT)
    # the initial model is close to uniform (perplexity near 256); a repeated line is easy to learn
    assert before > 200 and after < 20


def test_progress_bar_shows_when_asked(capsys):
    train_byte_lm(TEXT, TINY, steps=2, batch_size=2, warmup=0, progress=True)
    assert "training byte LM" in capsys.readouterr().err
    train_byte_lm(TEXT, TINY, steps=2, batch_size=2, warmup=0, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kw, error, match", [
    (dict(steps=0), ValueError, "steps must be >= 1"),
    (dict(batch_size=2.5), TypeError, "batch_size must be a positive integer"),
    (dict(lr=0.0), ValueError, "lr must be a positive number"),
    (dict(warmup=-1), ValueError, "warmup must be a non-negative integer"),
    (dict(seed=-2), ValueError, "seed must be >= 0"),
    (dict(threads=0), ValueError, "threads must be >= 1"),
    (dict(train_bytes=TEXT[:8]), ValueError, "train_bytes has 8 bytes; at least context \\+ 1 = 9"),
    (dict(train_bytes=TEXT.astype(np.int64)), TypeError, "train_bytes must be bytes or a uint8 array"),
    (dict(config=(8, 8, 2, 1, 16)), TypeError, "config must be a ByteLMConfig"),
])
def test_bad_arguments(kw, error, match):
    args = dict(train_bytes=TEXT, config=TINY, steps=1, progress=False)
    args.update(kw)
    with pytest.raises(error, match=rf"^{match}"):
        train_byte_lm(**args)


# ---------------------------------------------------------------------- the shipped model
def shipped_metadata():
    from importlib import resources
    with resources.as_file(pretrained_path()) as path:
        return load_metadata(path)


def test_the_shipped_file_records_this_corpus():
    """On Python 3.11 (whose listed files did not change from 3.11.2 to 3.11.7) the fingerprint
    recorded with the shipped weights is that of the files read here; other versions may differ,
    and then pretrained_byte_lm retrains (tested below)."""
    meta = shipped_metadata()
    sha, n = independent_fingerprint()
    if sys.version_info[:2] != (3, 11) and meta["corpus_sha256"] != sha:
        pytest.skip(f"Python {sys.version_info[:2]}'s standard library differs from the shipped corpus")
    assert meta["corpus_sha256"] == sha and meta["corpus_bytes"] == n
    from importlib import resources
    with resources.as_file(pretrained_path()) as path:
        assert path.stat().st_size < 2 * 1024 * 1024          # 135,808 float32 parameters, about 0.55 MB


def test_the_shipped_weights_give_the_recorded_perplexity(corpus):
    """float32 forward passes on another CPU or BLAS differ in the last bits of each logit (relative
    ~1e-6); averaged over 68 kB of held-out bytes the perplexity moves far less than 1e-4 relative."""
    meta = shipped_metadata()
    if meta["corpus_sha256"] != corpus.sha256:
        pytest.skip("this Python's standard library differs from the shipped corpus")
    model = pretrained_byte_lm(progress=False, corpus=corpus)
    assert model.config == BYTE_LM_SETTINGS["config"] and model.params["head"].dtype == np.float32
    measured = perplexity(model, corpus.heldout)
    assert measured == pytest.approx(BYTE_LM_HELDOUT_PERPLEXITY, rel=1e-4)
    assert meta["heldout_perplexity"] == pytest.approx(BYTE_LM_HELDOUT_PERPLEXITY, rel=1e-4)
    # far better than a uniform guess over bytes (256) and than the byte frequencies alone
    counts = np.bincount(corpus.train, minlength=256) + 1
    unigram = np.exp(-np.mean(np.log(counts / counts.sum())[corpus.heldout]))
    assert measured < unigram / 3


def test_another_corpus_retrains_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTREF_CACHE_DIR", str(tmp_path))
    tiny = dict(config=TINY, steps=3, batch_size=2, lr=1e-2, warmup=1, seed=0)
    monkeypatch.setattr(byte_lm_pretrained, "BYTE_LM_SETTINGS", tiny)
    text = TEXT.copy()
    other = ByteCorpus(text[:1000], text[1000:], hashlib.sha256(text.tobytes()).hexdigest(), len(text))
    with pytest.warns(UserWarning, match="different corpus"):
        first = pretrained_byte_lm(progress=False, corpus=other)
    assert first.config == TINY
    cached = tmp_path / f"byte_lm_{other.sha256[:16]}.npz"
    meta = load_metadata(cached)
    assert meta["corpus_sha256"] == other.sha256 and meta["corpus_bytes"] == len(text)
    assert meta["heldout_perplexity"] == pytest.approx(perplexity(first, other.heldout), rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = pretrained_byte_lm(progress=False, corpus=other)      # from the cache: no warning, same weights
    np.testing.assert_array_equal(first.params["head"], second.params["head"])


def test_command_line_writes_a_model_with_its_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(byte_lm_pretrained, "BYTE_LM_SETTINGS",
                        dict(config=TINY, steps=2, batch_size=2, lr=1e-2, warmup=1, seed=0))
    from quantref.zoo.__main__ import main
    out = tmp_path / "lm.npz"
    assert main(["train-byte-lm", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "held-out perplexity" in printed and "bits per byte" in printed
    assert ByteTransformer.load(out).config == TINY
    meta = load_metadata(out)
    assert meta["corpus_sha256"] == independent_fingerprint()[0]
    assert meta["heldout_bits_per_byte"] == pytest.approx(np.log2(meta["heldout_perplexity"]), rel=1e-9)


def test_command_line_report_rounds_every_linear_weight(monkeypatch, capsys):
    """The report with a tiny stand-in model: 12 quantized variants, int8 close to float, int3 not."""
    config = ByteLMConfig(context=8, d_model=32, n_heads=2, n_layers=1, d_mlp=64)     # widths divisible by 32
    model = train_byte_lm(TEXT, config, steps=30, batch_size=8, lr=1e-2, warmup=3, seed=0, progress=False)
    seen = []
    original = ByteTransformer.with_linear_weights

    def spy(self, weights):
        seen.append(weights)
        return original(self, weights)

    monkeypatch.setattr(byte_lm_pretrained, "pretrained_byte_lm", lambda corpus=None: model)
    monkeypatch.setattr(ByteTransformer, "with_linear_weights", spy)
    from quantref.zoo.__main__ import main
    assert main(["report-byte-lm"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + 12 and lines[1].startswith("float32: held-out perplexity")
    assert len(seen) == 12 and all(set(w) == set(model.linear_names) for w in seen)
    # the first variant is int8 symmetric per output channel on PyTorch's full grid [-128, 127]:
    # s = max|row| / 127.5, q = clip(round(w / s), -128, 127), ties to even
    w, q = model.linear_weight("head").astype(np.float64), seen[0]["head"]
    s = np.abs(w).max(axis=1, keepdims=True) / 127.5
    np.testing.assert_allclose(q, np.clip(np.round(w / s), -128, 127) * s, rtol=0, atol=1e-12)
    pct = [float(line.split("(")[1].split(" %")[0]) for line in lines[2:]]
    # int8 symmetric per channel moves the perplexity less than int3 symmetric per channel (this barely
    # trained stand-in may even improve with noise, so compare sizes, not signs)
    assert abs(pct[0]) < 1 and abs(pct[8]) > abs(pct[0])
