"""Low-bit weights for language models: group-wise int4/int3, nibble packing, a W4A16 kernel, GPTQ, AWQ.

>>> from quantref.lowbit import quantize_groupwise, pack_weight, w4a16_matmul, gptq_quantize, awq_quantize

Modules, one idea each:

* :mod:`~quantref.lowbit.groupwise` -- round-to-nearest group-wise quantization along the input
  dimension (asymmetric or symmetric), built on :mod:`quantref.linear`;
* :mod:`~quantref.lowbit.packing` -- two 4-bit codes per byte, the even index in the low nibble;
* :mod:`~quantref.lowbit.w4a16` -- ``y = x @ w_hat.T`` with the weight unpacked and dequantized on
  the fly: compiled (``_w4a16.pyx``, ``_w4a16_helper.h``) with a NumPy twin;
* :mod:`~quantref.lowbit.hessian` -- :math:`H = 2 X^T X`, dead inputs, dampening;
* :mod:`~quantref.lowbit.obq` -- the slow OBQ-style column loop (the reference for GPTQ);
* :mod:`~quantref.lowbit.gptq` -- GPTQ: Cholesky form, lazy batch updates, group-wise scales;
* :mod:`~quantref.lowbit.awq` -- AWQ: activation-aware per-channel scales on a grid of exponents.
"""
from .awq import ALPHA_GRID, AWQResult, activation_magnitude, awq_quantize, awq_scales, output_mse
from .gptq import gptq_from_hessian, gptq_quantize, inverse_cholesky_upper
from .groupwise import GroupQuantized, group_qparams, quantize_groupwise, rtn_groupwise
from .hessian import layer_hessian, prepare_hessian
from .obq import obq_quantize
from .packing import pack_nibbles, unpack_nibbles
from .w4a16 import PackedWeight, error_bound, pack_weight, w4a16_matmul

__all__ = ["ALPHA_GRID", "AWQResult", "GroupQuantized", "PackedWeight", "activation_magnitude", "awq_quantize",
           "awq_scales", "error_bound", "gptq_from_hessian", "gptq_quantize", "group_qparams",
           "inverse_cholesky_upper", "layer_hessian", "obq_quantize", "output_mse", "pack_nibbles",
           "pack_weight", "prepare_hessian", "quantize_groupwise", "rtn_groupwise", "unpack_nibbles",
           "w4a16_matmul"]
