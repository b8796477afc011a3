"""minmax and param_shape at each granularity, against independent NumPy reductions/loops."""
import numpy as np
import pytest

from quantref.linear import minmax, param_shape


def test_minmax_hand_case():
    w = np.array([[1.0, -2.0], [0.5, 4.0]])
    # per tensor: min -2, max 4
    # axis=0 is the kept axis -> one value per row: row 0 (1, -2) -> -2..1 ; row 1 (0.5, 4) -> 0.5..4
    assert minmax(w) == (-2.0, 4.0)
    lo, hi = minmax(w, axis=0)
    np.testing.assert_array_equal(lo, [-2.0, 0.5])
    np.testing.assert_array_equal(hi, [1.0, 4.0])
    # axis=1 -> one value per column: column 0 (1, 0.5), column 1 (-2, 4)
    lo, hi = minmax(w, axis=1)
    np.testing.assert_array_equal(lo, [0.5, -2.0])
    np.testing.assert_array_equal(hi, [1.0, 4.0])


def test_minmax_per_tensor_types():
    lo, hi = minmax(np.array([[3, -7], [2, 5]], dtype=np.int8))
    assert (lo, hi) == (-7.0, 5.0)
    assert type(lo) is float and type(hi) is float


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_minmax_per_channel_3d(axis):
    rng = np.random.default_rng(50 + axis)
    x = rng.normal(size=(4, 5, 6)).astype(np.float32)
    lo, hi = minmax(x, axis=axis)
    # independent: move the kept axis first, flatten the rest, reduce
    flat = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1).astype(np.float64)
    assert lo.shape == hi.shape == (x.shape[axis],)
    assert lo.dtype == np.float64 and hi.dtype == np.float64
    np.testing.assert_array_equal(lo, [min(r) for r in flat.tolist()])
    np.testing.assert_array_equal(hi, [max(r) for r in flat.tolist()])


@pytest.mark.parametrize("shape, axis, G", [((3, 12), 1, 4), ((6, 5), 0, 3), ((2, 8, 3), 1, 2),
                                            ((2, 3, 8), -1, 8), ((4, 6), -1, 1)])
def test_minmax_per_group_against_loop(shape, axis, G):
    rng = np.random.default_rng(sum(shape) * G)
    x = rng.normal(size=shape)
    ax = axis % len(shape)
    lo, hi = minmax(x, axis=axis, group_size=G)
    pshape = tuple(n // G if d == ax else n for d, n in enumerate(shape))
    assert lo.shape == hi.shape == pshape == param_shape(shape, axis, G)
    exp_lo = np.full(pshape, np.inf)
    exp_hi = np.full(pshape, -np.inf)
    for idx in np.ndindex(shape):
        p = tuple(i // G if d == ax else i for d, i in enumerate(idx))
        exp_lo[p] = min(exp_lo[p], x[idx])
        exp_hi[p] = max(exp_hi[p], x[idx])
    np.testing.assert_array_equal(lo, exp_lo)
    np.testing.assert_array_equal(hi, exp_hi)


def test_param_shape_table():
    assert param_shape((4, 6)) == ()
    assert param_shape((4, 6), axis=0) == (4,)
    assert param_shape((4, 6), axis=-1) == (6,)
    assert param_shape((4, 6), axis=1, group_size=3) == (4, 2)
    assert param_shape((4, 6), axis=0, group_size=2) == (2, 6)
    assert param_shape((2, 3, 8), axis=2, group_size=4) == (2, 3, 2)
