"""Non-linear quantization by weight sharing (Deep Compression, Han et al. 2016).

>>> from quantref.codebook import kmeans_quantize, lut_dequantize, pack_codes, compression_ratio

* :mod:`~quantref.codebook.kmeans` -- 1-D k-means (linear, density, random, k-means++ initialisation;
  empty clusters re-seeded);
* :mod:`~quantref.codebook.quantize` -- ``kmeans_quantize``: a float32 codebook of ``2**bits`` values
  plus uint8 codes;
* :mod:`~quantref.codebook.packing` -- 1-, 2-, 4-bit codes packed several per byte;
* :mod:`~quantref.codebook.storage` -- bits of codes plus codebook, compression ratio;
* :mod:`~quantref.codebook.lut` -- ``lut_dequantize``: the table lookup, compiled (``_lut.pyx``,
  ``_lut_helper.h``) with a NumPy twin giving the same values;
* :mod:`~quantref.codebook.finetune` -- centroid fine-tuning on the digits MLP, accuracy vs bits.
"""
from .finetune import QuantizedMLP, accuracy_vs_bits, centroid_gradients, finetune_centroids, quantize_mlp
from .kmeans import KMeans1D, assign_sorted_centroids, kmeans_1d
from .lut import lut_dequantize
from .packing import PackedCodes, pack_codes, unpack_codes
from .quantize import KMeansQuantized, kmeans_quantize
from .storage import compression_ratio, packed_nbytes, storage_bits

__all__ = ["KMeans1D", "KMeansQuantized", "PackedCodes", "QuantizedMLP", "accuracy_vs_bits",
           "assign_sorted_centroids", "centroid_gradients", "compression_ratio", "finetune_centroids",
           "kmeans_1d", "kmeans_quantize", "lut_dequantize", "pack_codes", "packed_nbytes", "quantize_mlp",
           "storage_bits", "unpack_codes"]
