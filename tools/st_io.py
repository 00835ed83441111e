"""st_io.py — a minimal safetensors writer/reader (numpy + torch), written from the
public format description:

    u64 little-endian N | N bytes of JSON header | data buffer

The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the start of the data buffer, i.e. byte 8+N) plus an optional
"__metadata__" {str: str}. Tensors are packed back to back, covering the buffer,
little-endian, row-major. Writers pad the header with spaces so that 8+N is a
multiple of 8. This writer also orders tensors by decreasing element size (then
name), as the reference implementation does, so every tensor is aligned.

Dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
BF16 has no numpy type: it is read as torch.bfloat16 by load(), as float32 by
load_numpy(), and written from a torch.bfloat16 tensor or from a numpy array
wrapped in BF16(...) (rounded to nearest even).
"""
import json
import os
import struct

import numpy as np

try:
    import torch
except ImportError:  # the numpy half works without torch
    torch = None

MAX_HEADER = 100 * 1024 * 1024

_NP = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_FROM_NP = {np.dtype(v).str: k for k, v in _NP.items() if k != "BF16"}


class BF16:
    """Marks a float array to be stored as BF16 (round to nearest even)."""

    def __init__(self, array):
        self.bits = f32_to_bf16_bits(np.asarray(array, dtype=np.float32))


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (NaN kept)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(a)
    out = rounded.astype(np.uint16)
    out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _to_raw(value):
    """-> (dtype string, shape, contiguous little-endian numpy array of raw data)."""
    if isinstance(value, BF16):
        return "BF16", list(value.bits.shape), value.bits
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            return "BF16", list(t.shape), t.view(torch.int16).numpy().view(np.uint16)
        value = t.numpy()
    a = np.asarray(value)
    key = a.dtype.newbyteorder("<").str
    if key not in _FROM_NP:
        raise TypeError("st_io: unsupported dtype %s" % a.dtype)
    dt = _FROM_NP[key]
    return dt, list(a.shape), np.ascontiguousarray(a, dtype=_NP[dt])


def save(path, tensors, metadata=None):
    """Write {name: array | torch.Tensor | BF16(array)} to path (atomically)."""
    items = []
    for name, value in tensors.items():
        dt, shape, _ = _to_raw(value)
        items.append((name, dt, shape, (lambda v=value: v)))
    items.sort(key=lambda it: (-_NP[it[1]].itemsize, it[0]))
    save_lazy(path, items, metadata)


def save_lazy(path, items, metadata=None):
    """Write tensors in the given order without holding them all in memory:
    items = [(name, dtype string, shape, fn)], fn() -> array-like of that shape
    (numpy, torch or BF16). Use decreasing element size to keep tensors aligned."""
    header = {}
    if metadata is None:
        metadata = {"format": "pt"}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    off = 0
    for name, dt, shape, _ in items:
        if name == "__metadata__" or name in header:
            raise ValueError("st_io: bad or duplicate tensor name %r" % name)
        n = _NP[dt].itemsize
        for s in shape:
            n *= int(s)
        header[name] = {"dtype": dt, "shape": [int(s) for s in shape],
                        "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-(8 + len(hb))) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, dt, shape, fn in items:
            rdt, rshape, raw = _to_raw(fn())
            if rdt != dt or list(rshape) != [int(s) for s in shape]:
                raise ValueError("st_io: %s: got %s%s, declared %s%s"
                                 % (name, rdt, rshape, dt, list(shape)))
            f.write(memoryview(raw).cast("B"))
    os.replace(tmp, path)


def read_header(path):
    """-> (header dict without __metadata__, metadata dict, data start offset)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("%s: truncated safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER:
            raise ValueError("%s: header length %d too large" % (path, n))
        hb = f.read(n)
        if len(hb) != n:
            raise ValueError("%s: truncated header" % path)
    size = os.path.getsize(path)
    header = json.loads(hb.decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    spans = []
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _NP:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        b, e = info["data_offsets"]
        count = 1
        for s in info["shape"]:
            count *= int(s)
        if e - b != count * _NP[dt].itemsize or b < 0 or e < b:
            raise ValueError("%s: tensor %s: bad data_offsets" % (path, name))
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("%s: data buffer not packed (gap/overlap at %d)" % (path, b))
        pos = e
    if 8 + n + pos != size:
        raise ValueError("%s: data buffer size %d does not match file" % (path, size - 8 - n))
    return header, meta, 8 + n


def _raw_arrays(path, names=None):
    header, meta, start = read_header(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if names is not None and name not in names:
            continue
        b, e = info["data_offsets"]
        a = np.array(mm[start + b:start + e]).view(_NP[info["dtype"]])
        out[name] = (info["dtype"], a.reshape([int(s) for s in info["shape"]]))
    del mm
    return out, meta


def load_numpy(path, names=None):
    """-> {name: numpy array}; BF16 is widened to float32."""
    raw, _ = _raw_arrays(path, names)
    return {k: (bf16_bits_to_f32(a) if dt == "BF16" else a) for k, (dt, a) in raw.items()}


def load(path, names=None):
    """-> {name: torch.Tensor} with the stored dtype (BF16 -> torch.bfloat16)."""
    raw, _ = _raw_arrays(path, names)
    out = {}
    for k, (dt, a) in raw.items():
        if dt == "BF16":
            out[k] = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        else:
            out[k] = torch.from_numpy(a)
    return out


def load_metadata(path):
    return read_header(path)[1]
