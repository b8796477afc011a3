"""Product quantization and MADDNESS: learn prototypes, encode, build lookup tables, aggregate.

>>> from quantref.pq import ProductQuantizer, scan, quantize_tables, pack_codes_4bit, MaddnessMatmul

* :mod:`~quantref.pq.product_quantizer` -- ``ProductQuantizer(d, M, nbits)``: train / compute_codes /
  decode / tables (Jégou et al. 2011, with Faiss' names);
* :mod:`~quantref.pq.scan` -- the aggregation ``sum_m T[q, m, code[i, m]]``: float, uint8 (exact), and
  the 4-bit byte-shuffle fast scan on :func:`pack_codes_4bit` layout;
* :mod:`~quantref.pq.tables` -- uint8 tables with per-codebook offsets and one shared scale (Bolt, MADDNESS);
* :mod:`~quantref.pq.maddness` -- MADDNESS' learned hash encoder and the approximate matmul
  (Blalock & Guttag 2021);
* :mod:`~quantref.pq.kmeans` -- the k-means used for prototype learning.

The kernels are a Cython extension (``_pq.pyx``, with ``_fastscan_helper.h`` for the AVX2 byte
shuffles) and a pure-NumPy twin that gives the same results; ``QUANTREF_BACKEND`` or ``backend=``
chooses (:mod:`quantref.kernels.backend`).
"""
from .kmeans import KMeansResult, kmeans
from .maddness import MaddnessEncoder, MaddnessMatmul
from .product_quantizer import ProductQuantizer
from .scan import PackedCodes4, check_codes, get_backend, pack_codes_4bit, scan, unpack_codes_4bit
from .tables import QuantizedTables, quantize_tables

__all__ = ["KMeansResult", "MaddnessEncoder", "MaddnessMatmul", "PackedCodes4", "ProductQuantizer",
           "QuantizedTables", "check_codes", "get_backend", "kmeans", "pack_codes_4bit", "quantize_tables",
           "scan", "unpack_codes_4bit"]
