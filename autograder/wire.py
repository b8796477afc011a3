"""The data that crosses between the trusted grader and a sandboxed student process.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, tuples, lists, dicts with
string keys, NumPy arrays and NumPy scalars of numeric or boolean dtype.  Nothing is pickled, and
the decoder builds fresh base-class objects (``numpy.ndarray``, ``float``...), so an object that
lies (an ``ndarray`` subclass whose ``__eq__`` always says True, a custom ``__array__``) arrives as
the numbers it holds, or as an :class:`EncodeError` on the student's side.

A message is an 8-byte big-endian length, then that many bytes of UTF-8 JSON.  Arrays travel as
base64 of their little-endian bytes with dtype and shape.

This module imports only the standard library and NumPy: it is mounted alone into the
grading sandbox, next to :mod:`autograder.answer_server`.
"""
from __future__ import annotations

import base64
import json
import struct

import numpy as np

MAX_MESSAGE = 256 * 2 ** 20         #: bytes; a larger answer is refused
MAX_DEPTH = 32
_KINDS = "biufc"                    #: bool, signed, unsigned, float, complex


class EncodeError(ValueError):
    """A value that cannot cross: an unsupported type, an object array, too deep, too large."""


def _dtype_ok(dtype: np.dtype) -> bool:
    return dtype.kind in _KINDS and not dtype.hasobject and dtype.fields is None and dtype.subdtype is None


def encode(value, depth: int = 0):
    """A JSON-able tree for ``value`` (see the module docstring for what may cross)."""
    if depth > MAX_DEPTH:
        raise EncodeError("nested more than 32 levels deep")
    t = type(value)
    if value is None or t in (bool, str):
        return value
    if t is int:
        return value if abs(value) < 2 ** 53 else {"__int__": str(value)}
    if t is float:
        return {"__float__": value.hex()}
    if t is tuple:
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is dict:
        if not all(type(k) is str for k in value):
            raise EncodeError("dict keys must be strings")
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        if not _dtype_ok(value.dtype):
            raise EncodeError(f"NumPy scalar of dtype {value.dtype} cannot be graded")
        return {"__scalar__": value.dtype.str, "data": base64.b64encode(value.tobytes()).decode()}
    if t is np.ndarray:
        if not _dtype_ok(value.dtype):
            raise EncodeError(f"an array of dtype {value.dtype} cannot be graded (use numbers)")
        arr = value.astype(value.dtype.newbyteorder("<"), copy=False)   # keeps the shape, 0-d included
        return {"__ndarray__": arr.dtype.str, "shape": list(arr.shape),
                "data": base64.b64encode(arr.tobytes(order="C")).decode()}
    raise EncodeError(f"a value of type {t.__module__}.{t.__qualname__} cannot be graded: "
                      f"return NumPy arrays, numbers, tuples or lists")


def _dtype(text) -> np.dtype:
    if not isinstance(text, str) or len(text) > 8:
        raise EncodeError("malformed dtype")
    dtype = np.dtype(text)
    if not _dtype_ok(dtype):
        raise EncodeError(f"dtype {dtype} is not allowed")
    return dtype


def decode(tree, depth: int = 0):
    """The value that :func:`encode` described, built from base types only."""
    if depth > MAX_DEPTH:
        raise EncodeError("nested too deep")
    t = type(tree)
    if tree is None or t in (bool, str, int):
        return tree
    if t is list:
        return [decode(v, depth + 1) for v in tree]
    if t is not dict or len(tree) == 0:
        raise EncodeError(f"unexpected {t.__name__} in a message")
    if "__float__" in tree:
        return float.fromhex(str(tree["__float__"]))
    if "__int__" in tree:
        return int(str(tree["__int__"]))
    if "__tuple__" in tree:
        return tuple(decode(v, depth + 1) for v in _list(tree["__tuple__"]))
    if "__dict__" in tree:
        items = tree["__dict__"]
        if type(items) is not dict:
            raise EncodeError("malformed dict")
        return {str(k): decode(v, depth + 1) for k, v in items.items()}
    if "__scalar__" in tree:
        dtype = _dtype(tree["__scalar__"])
        raw = base64.b64decode(str(tree["data"]), validate=True)
        if len(raw) != dtype.itemsize:
            raise EncodeError("malformed scalar")
        return np.frombuffer(raw, dtype=dtype)[0]
    if "__ndarray__" in tree:
        dtype = _dtype(tree["__ndarray__"])
        shape = tuple(_list(tree["shape"]))
        if not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
            raise EncodeError("malformed shape")
        raw = base64.b64decode(str(tree["data"]), validate=True)
        if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise EncodeError("array data does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    raise EncodeError("unknown entry in a message")


def _list(v) -> list:
    if type(v) is not list:
        raise EncodeError("malformed message")
    return v


def dumps(message: dict) -> bytes:
    data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE:
        raise EncodeError(f"the answer is larger than {MAX_MESSAGE // 2 ** 20} MiB")
    return struct.pack(">Q", len(data)) + data


def loads(data: bytes) -> dict:
    message = json.loads(data.decode("utf-8"))
    if type(message) is not dict:
        raise EncodeError("a message must be a JSON object")
    return message


def write_message(fd: int, message: dict) -> None:
    import os
    data = dumps(message)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
