"""ByteTransformer: forward pass against a loop-by-loop reference, causality, gradients against central
finite differences, the linear-layer interface, perplexity, and bad input."""
import math

import numpy as np
import pytest

from quantref.zoo.byte_lm import (ByteLMConfig, ByteTransformer, bits_per_byte, linear_layer_names, mean_nll,
                                  param_shapes, perplexity, windows)
from quantref.zoo.byte_lm_training import init_byte_lm

TINY = ByteLMConfig(context=6, d_model=8, n_heads=2, n_layers=2, d_mlp=12)


def random_model(seed, config=TINY, dtype=np.float64, spread=0.3):
    """Initialised, then every parameter moved by N(0, spread^2) so that no gradient is trivially 0."""
    rng = np.random.default_rng(seed)
    base = init_byte_lm(config, seed=seed, dtype=np.float64)
    return ByteTransformer({k: v + rng.normal(0, spread, v.shape) for k, v in base.params.items()}, config, dtype)


def reference_logits(model, tokens):
    """One sequence, position by position and head by head, in float64, from the equations."""
    c, p = model.config, {k: v.astype(np.float64) for k, v in model.params.items()}
    hd = c.d_model // c.n_heads

    def ln(x, gain, bias):
        mu = sum(x) / len(x)
        var = sum((xi - mu) ** 2 for xi in x) / len(x)
        return np.array([(xi - mu) / math.sqrt(var + 1e-5) for xi in x]) * gain + bias

    def gelu(u):
        return 0.5 * u * (1 + math.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))

    hs = [p["embed"][tok] + p["pos"][t] for t, tok in enumerate(tokens)]
    for i in range(c.n_layers):
        pre = f"blocks.{i}."
        a = [ln(h, p[pre + "ln1.gain"], p[pre + "ln1.bias"]) for h in hs]
        qkv = [p[pre + "attn_qkv"] @ ai for ai in a]
        outs = []
        for t in range(len(tokens)):
            o = np.zeros(c.d_model)
            for head in range(c.n_heads):
                sl = slice(head * hd, (head + 1) * hd)
                q = qkv[t][:c.d_model][sl]
                scores = [float(q @ qkv[s][c.d_model:2 * c.d_model][sl]) / math.sqrt(hd) for s in range(t + 1)]
                top = max(scores)
                weights = [math.exp(sc - top) for sc in scores]
                total = sum(weights)
                o[sl] = sum(w / total * qkv[s][2 * c.d_model:][sl] for s, w in enumerate(weights))
            outs.append(o)
        hs = [h + p[pre + "attn_out"] @ o for h, o in zip(hs, outs)]
        new = []
        for h in hs:
            m = ln(h, p[pre + "ln2.gain"], p[pre + "ln2.bias"])
            u = p[pre + "mlp_in"] @ m
            new.append(h + p[pre + "mlp_out"] @ np.array([gelu(x) for x in u]))
        hs = new
    return np.array([p["head"] @ ln(h, p["ln_f.gain"], p["ln_f.bias"]) for h in hs])


@pytest.mark.parametrize("seed", range(2))
def test_forward_matches_the_loop_reference(seed):
    model = random_model(seed)
    tokens = np.random.default_rng(seed).integers(0, 256, size=(3, 6))
    logits = model.forward(tokens)
    assert logits.shape == (3, 6, 256)
    for row in range(3):
        # float64 both ways, different summation order: agreement to ~1e-14 relative
        np.testing.assert_allclose(logits[row], reference_logits(model, list(tokens[row])), rtol=1e-10, atol=1e-10)


def test_float32_forward_is_close_to_float64():
    model64 = random_model(3)
    model32 = ByteTransformer(model64.params, TINY, dtype=np.float32)
    tokens = np.arange(6)[None] * 40
    out = model32.forward(tokens)
    assert out.dtype == np.float32
    # float32 rounding (2^-24 ~ 6e-8) accumulated over a few hundred operations: 1e-4 is ample
    np.testing.assert_allclose(out, model64.forward(tokens), rtol=1e-4, atol=1e-4)


def test_a_byte_does_not_see_the_bytes_after_it():
    model = random_model(4)
    a = np.array([[10, 20, 30, 40, 50, 60]])
    b = a.copy()
    b[0, 3] = 99
    la, lb = model.forward(a), model.forward(b)
    np.testing.assert_array_equal(la[0, :3], lb[0, :3])
    assert not np.allclose(la[0, 3:], lb[0, 3:])
    # a shorter input gives the same logits as the prefix of a longer one
    np.testing.assert_allclose(model.forward(a[:, :4]), la[:, :4], rtol=1e-12, atol=1e-12)


def test_bytes_and_one_dimensional_input():
    model = random_model(0)
    np.testing.assert_array_equal(model.forward(b"ab"), model.forward(np.array([[97, 98]])))
    np.testing.assert_array_equal(model.forward(np.array([97, 98], dtype=np.uint8)), model.forward(b"ab"))


def finite_difference_check(model, x, y, params):
    """Central differences with h = 1e-6 in float64: truncation O(h^2) ~ 1e-12 and round-off
    ~ eps * loss / h ~ 1e-10 per entry.  Tolerance: 1e-6 of the largest entry plus 1e-9; the model is
    smooth (GELU, softmax, layer norm), so there are no kinks to straddle."""
    loss, grads = model.loss_and_gradients(x, y)
    assert loss == pytest.approx(model.loss(x, y), rel=1e-12)
    h = 1e-6
    for name in params:
        param, grad = model.params[name], grads[name]
        assert grad.shape == param.shape and grad.dtype == param.dtype
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + h
            up = model.loss(x, y)
            param[idx] = old - h
            down = model.loss(x, y)
            param[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        assert np.abs(numeric).max() > 1e-4, f"{name}: gradient too small to test"
        np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-6 * np.abs(numeric).max() + 1e-9,
                                   err_msg=name)


@pytest.mark.parametrize("seed", range(2))
def test_gradients_match_central_finite_differences(seed):
    model = random_model(seed)
    rng = np.random.default_rng(seed + 10)
    x, y = rng.integers(0, 256, size=(3, 5)), rng.integers(0, 256, size=(3, 5))
    # every parameter except the embedding table, whose rows for bytes absent from x get a zero gradient
    names = [n for n in model.params if n != "embed"]
    finite_difference_check(model, x, y, names)
    _, grads = model.loss_and_gradients(x, y)
    unused = np.setdiff1d(np.arange(256), x)
    assert np.all(grads["embed"][unused] == 0)
    # the positions past T = 5 are unused too
    assert np.all(grads["pos"][5:] == 0)


def test_embedding_gradient_of_the_bytes_used():
    config = ByteLMConfig(context=4, d_model=4, n_heads=1, n_layers=1, d_mlp=4)
    model = random_model(7, config)
    # the inputs use bytes 0..3 only: check those rows of the embedding (the others get 0)
    x, y = np.array([[0, 1, 2, 3], [3, 2, 1, 1]]), np.array([[1, 2, 3, 0], [2, 1, 0, 3]])
    _, grads = model.loss_and_gradients(x, y)
    h = 1e-6
    numeric = np.zeros((4, 4))
    for r in range(4):
        for col in range(4):
            old = model.params["embed"][r, col]
            model.params["embed"][r, col] = old + h
            up = model.loss(x, y)
            model.params["embed"][r, col] = old - h
            down = model.loss(x, y)
            model.params["embed"][r, col] = old
            numeric[r, col] = (up - down) / (2 * h)
    np.testing.assert_allclose(grads["embed"][:4], numeric, rtol=0, atol=1e-6 * np.abs(numeric).max() + 1e-9)


def test_zero_head_predicts_uniformly():
    params = init_byte_lm(TINY, seed=0).params
    params["head"] = np.zeros_like(params["head"])
    model = ByteTransformer(params, TINY)
    data = np.frombuffer(b"import numpy as np\n" * 3, dtype=np.uint8)
    # every logit 0: p = 1/256 for every byte, NLL = log 256, perplexity 256, 8 bits per byte
    assert mean_nll(model, data) == pytest.approx(math.log(256), rel=1e-6)
    assert perplexity(model, data) == pytest.approx(256, rel=1e-5)
    assert bits_per_byte(model, data) == pytest.approx(8, rel=1e-6)


def test_perplexity_is_the_mean_nll_of_every_window_target():
    model = random_model(5, dtype=np.float64)
    data = np.random.default_rng(0).integers(0, 256, size=40).astype(np.uint8)
    # T = 6: (40 - 1) // 6 = 6 windows, targets data[1:37]
    inputs, targets = windows(data, 6)
    assert inputs.shape == targets.shape == (6, 6)
    np.testing.assert_array_equal(targets.ravel(), data[1:37])
    np.testing.assert_array_equal(inputs.ravel(), data[:36])
    logits = model.forward(inputs)
    nll = []
    for w in range(6):
        for t in range(6):
            row = logits[w, t]
            nll.append(math.log(sum(math.exp(v - row.max()) for v in row)) + row.max() - row[targets[w, t]])
    expected = sum(nll) / len(nll)
    assert mean_nll(model, data, batch_size=4) == pytest.approx(expected, rel=1e-12)
    assert perplexity(model, data, batch_size=1) == pytest.approx(math.exp(expected), rel=1e-12)
    assert bits_per_byte(model, data) == pytest.approx(expected / math.log(2), rel=1e-12)


def test_linear_layer_interface():
    model = random_model(1, dtype=np.float32)
    names = model.linear_names
    assert names == linear_layer_names(TINY) == (
        "blocks.0.attn_qkv", "blocks.0.attn_out", "blocks.0.mlp_in", "blocks.0.mlp_out",
        "blocks.1.attn_qkv", "blocks.1.attn_out", "blocks.1.mlp_in", "blocks.1.mlp_out", "head")
    shapes = {"attn_qkv": (24, 8), "attn_out": (8, 8), "mlp_in": (12, 8), "mlp_out": (8, 12), "head": (256, 8)}
    weights = model.linear_weights()
    for name in names:
        assert weights[name].shape == shapes[name.split(".")[-1]] and weights[name].dtype == np.float32
    # copies: changing one does not change the model
    weights["head"][:] = 0
    assert np.any(model.linear_weight("head") != 0)
    # replacing the head by zeros gives uniform predictions; the original is unchanged
    zero_head = model.with_linear_weights({"head": np.zeros((256, 8))})
    assert np.all(zero_head.forward(b"abc") == 0)
    assert np.any(model.forward(b"abc") != 0)
    assert zero_head.linear_weight("blocks.0.mlp_in") is not model.params["blocks.0.mlp_in"]
    np.testing.assert_array_equal(zero_head.linear_weight("blocks.0.mlp_in"), model.linear_weight("blocks.0.mlp_in"))


def test_linear_inputs_reproduce_each_layer():
    model = random_model(2)
    tokens = np.random.default_rng(2).integers(0, 256, size=(2, 6))
    inputs = model.linear_inputs(tokens)
    assert list(inputs) == list(model.linear_names)
    # the head's input times W_head^T is the logits
    np.testing.assert_allclose(inputs["head"] @ model.linear_weight("head").T,
                               model.forward(tokens).reshape(12, 256), rtol=1e-12, atol=1e-12)
    # the first layer's input is the layer norm of the embeddings: mean 0, variance 1 before gain/bias
    p = model.params
    h0 = p["embed"][tokens] + p["pos"][:6]
    xhat = (h0 - h0.mean(-1, keepdims=True)) / np.sqrt(h0.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(inputs["blocks.0.attn_qkv"],
                               (xhat * p["blocks.0.ln1.gain"] + p["blocks.0.ln1.bias"]).reshape(12, 8),
                               rtol=1e-12, atol=1e-12)
    # mlp_out's input is GELU of mlp_in's output
    u = inputs["blocks.1.mlp_in"] @ model.linear_weight("blocks.1.mlp_in").T
    gelu = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
    np.testing.assert_allclose(inputs["blocks.1.mlp_out"], gelu, rtol=1e-12, atol=1e-12)
    for name, x in inputs.items():
        assert x.shape == (12, model.linear_weight(name).shape[1])


def test_save_and_load_round_trip(tmp_path):
    model = random_model(1, dtype=np.float32)
    model.save(tmp_path / "m.npz", note="hello", value=1.5)
    back = ByteTransformer.load(tmp_path / "m.npz")
    assert back.config == TINY
    for name in model.params:
        np.testing.assert_array_equal(back.params[name], model.params[name])
    from quantref.zoo.byte_lm import load_metadata
    assert load_metadata(tmp_path / "m.npz") == {"note": "hello", "value": 1.5}


def test_parameter_count():
    # d=8, T=6, d_mlp=12: embed 256*8 + pos 6*8 + 2 blocks * (4*8 LN + 24*8 + 8*8 + 12*8 + 8*12) + 2*8 + 256*8
    assert random_model(0).n_params == 2048 + 48 + 2 * (32 + 192 + 64 + 96 + 96) + 16 + 2048
    assert sum(int(np.prod(s)) for s in param_shapes(TINY).values()) == random_model(0).n_params


def test_bad_input():
    model = random_model(0)
    with pytest.raises(ValueError, match=r"^tokens have length 7, longer than the model's context of 6"):
        model.forward(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(ValueError, match=r"^tokens hold values from 0 to 256; bytes lie in \[0, 255\]"):
        model.forward(np.array([0, 256]))
    with pytest.raises(TypeError, match=r"^tokens must be integer bytes"):
        model.forward(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^tokens must have shape \(batch, T\) or \(T,\)"):
        model.forward(np.zeros((0,), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"^targets have shape \(1, 2\); they must match the inputs' shape \(1, 3\)"):
        model.loss(b"abc", b"bc")
    with pytest.raises(KeyError, match=r"'embed' is not a linear layer"):
        model.with_linear_weights({"embed": np.zeros((256, 8))})
    with pytest.raises(ValueError, match=r"^head has shape \(8, 256\); this model needs \(256, 8\) \(out, in\)"):
        model.with_linear_weights({"head": np.zeros((8, 256))})
    with pytest.raises(ValueError, match=r"^head contains NaN or inf"):
        model.with_linear_weights({"head": np.full((256, 8), np.nan)})
    with pytest.raises(TypeError, match=r"^data must be bytes or a uint8 array"):
        perplexity(model, np.arange(20))
    with pytest.raises(ValueError, match=r"^data has 6 bytes; at least context \+ 1 = 7"):
        perplexity(model, b"abcdef")
    with pytest.raises(TypeError, match=r"^model must be a ByteTransformer"):
        perplexity("model", b"abcdefgh")
    with pytest.raises(ValueError, match=r"^d_model=10 is not a multiple of n_heads=4"):
        ByteTransformer({}, ByteLMConfig(d_model=10, n_heads=4))
    with pytest.raises(ValueError, match=r"^params do not match the config"):
        ByteTransformer({"embed": np.zeros((256, 8))}, TINY)
    with pytest.raises(ValueError, match=r"^context must be >= 1"):
        ByteLMConfig(context=0).checked()


def test_linear_inputs_after_replacing_a_layer_change_only_downstream():
    model = random_model(6)
    tokens = np.random.default_rng(6).integers(0, 256, size=(2, 6))
    before = model.linear_inputs(tokens)
    w = model.linear_weight("blocks.0.mlp_in")
    after = model.with_linear_weights({"blocks.0.mlp_in": np.round(w * 4) / 4}).linear_inputs(tokens)
    names = model.linear_names
    for name in names[:3]:                                   # up to and including the replaced layer
        np.testing.assert_array_equal(after[name], before[name])
    for name in names[3:]:                                   # mlp_out and everything after it
        assert not np.allclose(after[name], before[name]), name
