"""im2col, col2im and conv2d against direct loops written from the definition; max pooling by hand."""
import numpy as np
import pytest

from quantref.conv import col2im, conv2d, im2col, max_pool2d, max_pool2d_backward


def conv_loops(x, w, b, padding):
    """y[n, o, i, j] = sum_{c, u, v} w[o, c, u, v] * xpad[n, c, i + u, j + v] + b[o], plain loops in float64
    (or int64 for codes, padded with pad value 0 here)."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=np.float64)
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    ho, wo = h + 2 * padding - k + 1, wd + 2 * padding - k + 1
    y = np.zeros((n, o, ho, wo))
    for bi in range(n):
        for oi in range(o):
            for i in range(ho):
                for j in range(wo):
                    y[bi, oi, i, j] = np.sum(w[oi] * xp[bi, :, i:i + k, j:j + k]) + b[oi]
    return y


def test_im2col_by_hand():
    x = np.arange(9).reshape(1, 1, 3, 3)
    # padding 1, kernel 3: the centre window is the whole image, the top-left one has zeros above and left
    cols = im2col(x, 3, padding=1)
    assert cols.shape == (9, 9)
    np.testing.assert_array_equal(cols[4], np.arange(9))
    np.testing.assert_array_equal(cols[0], [0, 0, 0, 0, 0, 1, 0, 3, 4])


def test_im2col_pads_integer_codes_with_the_pad_value():
    x = np.full((1, 1, 2, 2), 7, dtype=np.uint8)
    cols = im2col(x, 3, padding=1, pad_value=128)
    assert cols.dtype == np.uint8
    # the top-left output's 3x3 window: 5 padded positions, 4 image pixels
    np.testing.assert_array_equal(cols[0], [128, 128, 128, 128, 7, 7, 128, 7, 7])


@pytest.mark.parametrize("seed, shape, c_out, k, padding", [(0, (2, 3, 5, 4), 4, 3, 1), (1, (1, 2, 6, 6), 3, 3, 0),
                                                            (2, (3, 1, 4, 4), 2, 2, 1), (3, (1, 1, 3, 3), 1, 1, 0)])
def test_conv2d_matches_the_loops(seed, shape, c_out, k, padding):
    """Float64; both sum the same products in different orders: tolerance 1e-12 of values of size ~10."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=shape), rng.normal(size=(c_out, shape[1], k, k)), rng.normal(size=c_out)
    np.testing.assert_allclose(conv2d(x, w, b, padding=padding), conv_loops(x, w, b, padding), rtol=0, atol=1e-12)


def test_integer_im2col_matmul_is_exact():
    rng = np.random.default_rng(4)
    x = rng.integers(-50, 50, size=(2, 3, 5, 5))
    w = rng.integers(-127, 128, size=(4, 3, 3, 3))
    exact = conv_loops(x, w, np.zeros(4), 1)             # integers below 2^53: exact in float64
    got = im2col(x.astype(np.int64), 3, 1) @ w.reshape(4, -1).T
    np.testing.assert_array_equal(got.reshape(2, 5, 5, 4).transpose(0, 3, 1, 2), exact)


@pytest.mark.parametrize("k, padding", [(3, 1), (2, 0), (3, 2)])
def test_col2im_is_the_adjoint_of_im2col(k, padding):
    """<im2col(x), g> = <x, col2im(g)> for random x, g (float64, tolerance 1e-12 relative)."""
    rng = np.random.default_rng(k + padding)
    x = rng.normal(size=(2, 3, 5, 6))
    cols = im2col(x, k, padding)
    g = rng.normal(size=cols.shape)
    lhs, rhs = np.sum(cols * g), np.sum(x * col2im(g, x.shape, k, padding))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_max_pool_by_hand_and_its_gradient():
    x = np.array([[1.0, 9.0, 0.0, 0.0], [3.0, 4.0, 0.0, 7.0], [5.0, 5.0, 2.0, 2.0], [5.0, 6.0, 2.0, 1.0]])
    np.testing.assert_array_equal(max_pool2d(x.reshape(1, 1, 4, 4))[0, 0], [[9, 7], [6, 2]])
    grad = max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x.reshape(1, 1, 4, 4))[0, 0]
    # 9 at (0,1), 7 at (1,3), 6 at (3,1); the last window's maximum 2 first appears at (2,2)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 3], expected[3, 1], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(grad, expected)


def test_max_pool_of_codes_is_the_code_of_the_max():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2, 4, 6))
    s, z = 0.02, 100
    codes = np.clip(np.rint(x / s) + z, 0, 255).astype(np.uint8)
    pooled = np.clip(np.rint(max_pool2d(x) / s) + z, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(max_pool2d(codes), pooled)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^x must be a 4-D array"):
        im2col(np.ones((3, 3)), 3)
    with pytest.raises(ValueError, match=r"^kernel_size=5 is larger than the padded input"):
        im2col(np.ones((1, 1, 3, 3)), 5)
    with pytest.raises(TypeError, match=r"^padding must be an integer"):
        im2col(np.ones((1, 1, 3, 3)), 3, padding=1.0)
    with pytest.raises(ValueError, match=r"^pad_value=300 does not fit"):
        im2col(np.ones((1, 1, 3, 3), dtype=np.uint8), 3, padding=1, pad_value=300)
    with pytest.raises(ValueError, match=r"^x has shape \(1, 2, 3, 3\) but weight takes 1 input channels"):
        conv2d(np.ones((1, 2, 3, 3)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"^x is 3 x 4, not divisible by size=2"):
        max_pool2d(np.ones((1, 1, 3, 4)))
    with pytest.raises(ValueError, match=r"^cols has shape"):
        col2im(np.ones((4, 4)), (1, 1, 3, 3), 3, 1)
