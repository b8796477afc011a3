"""Quantization-aware training and post-training quantization of the course's NumPy MLP.

* :mod:`~quantref.qat.fake_quant` -- fake quantization forward and its straight-through backward;
* :mod:`~quantref.qat.network` -- ``FakeQuantMLP``: an MLP with fake-quantized weights and inputs;
* :mod:`~quantref.qat.adam` -- the Adam optimiser;
* :mod:`~quantref.qat.ptq` -- post-training quantization with any calibrator: ``ptq_accuracy``, ``ptq_table``;
* :mod:`~quantref.qat.train` -- quantization-aware fine-tuning: ``qat_finetune``, ``ptq_vs_qat_table``.

``python -m quantref.qat`` prints both tables with their compute times.
"""
from .adam import Adam
from .fake_quant import fake_quantize_backward, fake_quantize_forward, grid_arguments, ste_mask
from .network import FakeQuantMLP
from .ptq import calibrate_ptq, format_table, make_observer, ptq_accuracy, ptq_table
from .train import ptq_vs_qat_table, qat_finetune

__all__ = ["Adam", "FakeQuantMLP", "calibrate_ptq", "fake_quantize_backward", "fake_quantize_forward",
           "format_table", "grid_arguments", "make_observer", "ptq_accuracy", "ptq_table", "ptq_vs_qat_table",
           "qat_finetune", "ste_mask"]
