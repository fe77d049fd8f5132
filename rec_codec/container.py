"""The reccodec file: a self-describing container for one encoded sample.

A file holds everything the decoder needs except the shared seed and the prior: the
algorithm and its parameters, the array shape, a short tag of (seed, prior) so that a
wrong seed or prior is refused instead of decoded into garbage, the entropy-coded
payload, and a CRC32 over all of it. The layout follows the zstd frame format's habits
(magic number, version, fixed-endian fields, a length-prefixed payload, a checksum).

Byte layout, format version 1, all integers little-endian::

    magic        4 bytes   b"\\x89REC"
    version      u8        1
    algorithm    u8        id from ALGORITHMS
    flags        u8        bit 0: the sample is approximate (e.g. ORC); other bits 0
    tag          u32       seed/prior tag, see seed_tag()
    ndim         u8        number of array dimensions (0..32)
    shape        ndim x varint
    nparams      u8
    params       nparams x (id u8, value in the parameter's declared type),
                 strictly increasing by id
    payload_len  varint    number of payload bytes (a multiple of 4)
    payload      bytes     entropy-coded uint32 words, little-endian
    crc32        u32       zlib.crc32 over every byte before it

A varint is unsigned LEB128 (7 bits per byte, low groups first, high bit set on every
byte but the last), in its shortest form, at most 10 bytes and below 2**64. Parameter
value types: ``"varint"`` (unsigned integer below 2**64), ``"u32"`` (4 bytes),
``"f32"`` (4-byte IEEE 754; the value is rounded to float32 when written) and ``"f64"``
(8-byte IEEE 754); floats must be finite.

The encoding is canonical: one header and payload give exactly one byte string, and
``unpack`` refuses every other byte string (non-shortest varints, unsorted or repeated
parameters, unknown flag bits, bytes after the checksum).

To add an algorithm or a parameter, add an entry to ``ALGORITHMS`` or ``PARAMS`` with a
new id (1..255) and its range to ``PARAM_RANGES``; ids are never reused. A reader meeting
an id it does not know raises ``FormatError``.

**Every byte is untrusted.** ``unpack`` parses any well-formed file (``reccodec info``
shows it whatever it claims); a decoder then calls ``check_header`` (``check_tag`` calls
it first) before it allocates anything by the header: the array may hold at most
``MAX_DIMS`` elements, and every parameter must lie in its closed range in
``PARAM_RANGES``; anything else is a ``FormatError`` that names the field. The decoders add
the checks that need more than the header (a Wyner-Ziv cell width against the source's
spread, a block count against the shape, ...). The tag is checked before the default prior
is built: ``check_tag`` hashes the standard normal prior of the header's shape without
materialising it.

**The tag covers the whole file.** In version 2 the stored tag is ``seed_tag(seed,
prior)`` XOR a 32-bit BLAKE2b digest of every byte before the CRC32 except the tag itself
(``_body_digest``); ``unpack`` undoes the XOR, so ``Header.tag`` is the seed/prior tag in
both versions. A parameter, the shape, the flags, the algorithm or a payload word edited
with the CRC32 recomputed then fails ``check_tag`` like a wrong seed, but for a chance of
2^-32. The fold is public, like the CRC32: it stops edits that fix the checksum, not a
forger who rewrites the file with ``unpack`` and ``pack`` (that would take a tag keyed by
the seed, which ``Header.tag`` could then no longer carry); what such a file can still do
is bounded by the ranges above. Version 1 files (tag of the seed and the prior only) are
still read; their parameters are protected by the ranges above only, and an edited
payload with its CRC32 recomputed may decode to another valid sample.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rec_codec.errors import FormatError, InputError, MismatchError

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "READ_VERSIONS",
    "ALGORITHMS",
    "PARAMS",
    "PARAM_TYPES",
    "PARAM_RANGES",
    "MAX_DIMS",
    "Header",
    "pack",
    "unpack",
    "header_size",
    "describe",
    "check_header",
    "seed_tag",
    "check_tag",
    "atomic_write",
    "read_file",
]

MAGIC = b"\x89REC"
FORMAT_VERSION = 2
#: Versions ``unpack`` reads: 1 (the tag covers the seed and the prior) and 2 (it also
#: covers the algorithm, flags, shape and parameters; see "the tag" below).
READ_VERSIONS = (1, 2)

#: Algorithm name -> id (u8). Ids are never reused.
ALGORITHMS: dict[str, int] = {
    "pfr": 1,
    "orc": 2,
    "sp-pfr": 3,
    "sp-orc": 4,
    "hybrid": 5,
    "uq": 6,
    "wz-nsq": 7,
    "wz-rec": 8,
    "wz-learned": 9,
}

#: The value types a parameter may declare.
PARAM_TYPES = ("varint", "f32", "f64", "u32")

#: Parameter name -> (id u8, type). Ids are never reused.
PARAMS: dict[str, tuple[int, str]] = {
    "block_bits": (1, "f32"),
    "block_dims": (2, "varint"),
    "num_blocks": (3, "varint"),
    "orc_candidates": (4, "varint"),
    # Fingerprint of an empirical index model; absent means the Zipf model.
    "index_model": (5, "u32"),
    "layout_mean": (6, "f32"),
    "layout_std": (7, "f32"),
    "max_steps": (8, "varint"),
    # KL budget that sets the Zipf exponent of the index code (the mean block KL).
    "zipf_bits": (9, "f32"),
    # Hybrid coding (ids 20-29): the tail mass eps of the truncated target, and the widths
    # M_d = 2^e_d as the smallest e and the number of levels (e_d - min is in the payload).
    "hybrid_eps": (20, "f64"),
    "hybrid_log2m_min": (21, "varint"),
    "hybrid_log2m_levels": (22, "varint"),
    # Universal quantization (ids 30-39): the prior family (0 Gaussian, 1 Laplace) and the
    # soft rounding sharpness (absent: plain rounding).
    "uq_family": (30, "varint"),
    "uq_alpha": (31, "f64"),
    # Space partitioning (SP-PFR, SP-ORC): ids 40-59.
    # Bits between a block's MI and log2 of its bins (with an MI profile).
    "sp_margin_bits": (40, "f32"),
    # CRC32 of the MI profile that sets the bins and the layout; absent: no profile.
    "mi_profile": (41, "u32"),
    # Quantized Gaussian model of the coded log2 J_d (without a profile).
    "sp_exp_mean": (42, "f32"),
    "sp_exp_std": (43, "f32"),
    # P(halved) per depth of the flags that replay SP-PFR's halved blocks, one byte q a depth
    # (p = q/256, depth 0 lowest); absent: the encoder did not halve.
    "sp_halving": (44, "varint"),
    # Wyner-Ziv (ids 60-79): nested scalar quantization ...
    "wz_delta": (60, "f64"),
    "wz_cosets": (61, "varint"),
    # coset index code: 0 under X's marginal given the dither, 1 uniform
    "wz_coset_code": (62, "varint"),
    # ... and REC binning
    "wz_sigma_v2": (63, "f64"),
    "wz_labels": (64, "varint"),
    "wz_candidates": (65, "varint"),
    "wz_block_dims": (66, "varint"),
    # ... and the learned compressor: its number of codewords K
    "wz_codewords": (67, "varint"),
}

#: The most elements (the product of the shape) a decoder accepts by default (``--max-dims``):
#: 2^24, 128 MiB of float64 for the sample and as much again for each prior array, and about
#: a second to hash the default prior for the tag. A larger shape in a file is a FormatError
#: before anything is allocated by it (``check_header``).
MAX_DIMS = 2**24

_F32_MIN = 2.0**-149  # the smallest positive float32: "> 0" for an f32 parameter
_F64_MIN = math.ulp(0.0)  # the smallest positive float64: "> 0" for an f64 parameter
_F32_MAX = float(np.finfo(np.float32).max)
_F64_MAX = float(np.finfo(np.float64).max)
_VARINT_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1

#: Parameter name -> (low, high), the closed range a decoder accepts (``check_header``).
#: Every encoder writes values inside it; the limits that belong to another module repeat
#: its constant (named in the comment), and the tests check that they agree.
PARAM_RANGES: dict[str, tuple[int | float, int | float]] = {
    "block_bits": (_F32_MIN, _F32_MAX),
    "block_dims": (1, _VARINT_MAX),
    "num_blocks": (1, _VARINT_MAX),  # and at most the number of elements
    "orc_candidates": (1, 2**40),  # codec, partition and hybrid: ORC's N is at most 2^40
    "index_model": (0, _U32_MAX),
    "layout_mean": (1.0, _F32_MAX),  # the mean of block lengths >= 1
    "layout_std": (0.5, _F32_MAX),  # floored at 1/2 by the encoder
    "max_steps": (0, _VARINT_MAX),
    # zipf_lambda(b) = 1 + 1 / (b + 1.53) is > 1 in float64 up to about 2^53
    "zipf_bits": (0.0, 2.0**53),
    "hybrid_eps": (_F64_MIN, 1.0 - 2.0**-53),  # (0, 1)
    "hybrid_log2m_min": (0, 40),  # hybrid.MAX_LOG2_M
    "hybrid_log2m_levels": (1, 41),  # hybrid.MAX_LOG2_M + 1
    "uq_family": (0, 1),  # uq.FAMILIES
    "uq_alpha": (_F64_MIN, _F64_MAX),  # soft_round.check_alpha: finite and > 0
    "sp_margin_bits": (0.0, _F32_MAX),
    "mi_profile": (0, _U32_MAX),
    "sp_exp_mean": (0.0, 16.0),  # the mean of exponents in [0, partition.MAX_DIM_BIN_BITS]
    "sp_exp_std": (0.5, 8.0),  # their std, floored at 1/2: at most half of the range
    "sp_halving": (1, _VARINT_MAX),  # one byte in [1, 255] per depth (partition)
    # Wyner-Ziv: wyner_ziv also bounds delta and sigma_v^2 against the source's variance
    "wz_delta": (_F64_MIN, _F64_MAX),
    "wz_cosets": (1, 2**40),  # wyner_ziv: at most 2^40 cosets
    "wz_coset_code": (0, 1),  # wyner_ziv.COSET_CODES
    "wz_sigma_v2": (_F64_MIN, _F64_MAX),
    "wz_labels": (1, 2**40),  # wyner_ziv: label_bits <= 40
    "wz_candidates": (1, 2**22),  # wyner_ziv.MAX_CANDIDATES
    "wz_block_dims": (1, 64),  # wyner_ziv: dims <= 64
    "wz_codewords": (2, 4096),  # learned_wz.MAX_CODEWORDS
}

_FLAG_APPROXIMATE = 0x01
_KNOWN_FLAGS = _FLAG_APPROXIMATE
_MAX_NDIM = 32
_MAX_VARINT_BYTES = 10
_U64_LIMIT = 1 << 64
_U32_LIMIT = 1 << 32
# magic, version, algorithm, flags, tag, ndim, nparams, payload_len, crc32
_MIN_FILE_BYTES = 4 + 1 + 1 + 1 + 4 + 1 + 1 + 1 + 4
_TAG_MISMATCH = "the seed or the prior differs from the encoder's (tag mismatch)"


@dataclass(frozen=True)
class Header:
    """Everything in a file apart from the payload words.

    Attributes:
        algorithm: str, a key of ``ALGORITHMS``.
        shape: tuple of int, the shape of the encoded array (``()`` for a scalar).
        tag: int, the u32 tag of (seed, prior) from ``seed_tag`` (``pack`` folds the
            header's fields into it, ``unpack`` takes them out).
        params: dict mapping keys of ``PARAMS`` to int (``varint``, ``u32``) or float
            (``f32``, ``f64``). They are written sorted by id; ``f32`` values read back
            as the float32 value of what was written.
        approximate: bool, True when the sample follows the target only approximately
            (e.g. ORC).
    """

    algorithm: str
    shape: tuple[int, ...]
    tag: int
    params: dict[str, int | float] = field(default_factory=dict)
    approximate: bool = False


# --------------------------------------------------------------------------- writing


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return _is_int(value) or isinstance(value, (float, np.floating))


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _check_uint(name: str, value: Any, limit: int) -> int:
    if not _is_int(value):
        raise InputError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < limit:
        raise InputError(f"{name} must be in [0, 2^{limit.bit_length() - 1}), got {value}")
    return value


def _encode_param(name: str, kind: str, value: Any) -> bytes:
    label = f"parameter {name!r}"
    if kind == "varint":
        return _encode_varint(_check_uint(label, value, _U64_LIMIT))
    if kind == "u32":
        return struct.pack("<I", _check_uint(label, value, _U32_LIMIT))
    if kind in ("f32", "f64"):
        if not _is_real(value):
            raise InputError(f"{label} must be a real number, got {type(value).__name__}")
        try:
            as_float = float(value)
        except OverflowError:
            raise InputError(f"{label} is too large for {kind}: {value}") from None
        if kind == "f32":
            with np.errstate(over="ignore"):
                as_float = float(np.float32(as_float)) if np.isfinite(as_float) else as_float
        if not np.isfinite(as_float):
            raise InputError(f"{label} must be finite and representable as {kind}, got {value}")
        return struct.pack("<f" if kind == "f32" else "<d", as_float)
    raise AssertionError(f"PARAMS declares an unknown type {kind!r} for {name!r}")


def _encode_header(header: Header) -> bytes:
    if not isinstance(header, Header):
        raise InputError(f"header must be a Header, got {type(header).__name__}")
    if not isinstance(header.algorithm, str) or header.algorithm not in ALGORITHMS:
        known = ", ".join(ALGORITHMS)
        raise InputError(f"unknown algorithm {header.algorithm!r} (known: {known})")
    if not isinstance(header.approximate, (bool, np.bool_)):
        raise InputError(f"approximate must be a bool, got {type(header.approximate).__name__}")
    tag = _check_uint("tag", header.tag, _U32_LIMIT)
    if not isinstance(header.shape, (tuple, list)):
        raise InputError(f"shape must be a tuple of int, got {type(header.shape).__name__}")
    if len(header.shape) > _MAX_NDIM:
        raise InputError(f"shape has {len(header.shape)} dimensions; at most {_MAX_NDIM} fit")
    if not isinstance(header.params, dict):
        raise InputError(f"params must be a dict, got {type(header.params).__name__}")

    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, ALGORITHMS[header.algorithm]])
    out.append(_FLAG_APPROXIMATE if header.approximate else 0)
    out += struct.pack("<I", tag)
    out.append(len(header.shape))
    for axis, dim in enumerate(header.shape):
        out += _encode_varint(_check_uint(f"shape[{axis}]", dim, _U64_LIMIT))
    for name in header.params:
        if not isinstance(name, str) or name not in PARAMS:
            known = ", ".join(PARAMS)
            raise InputError(f"unknown parameter {name!r} (known: {known})")
    names = sorted(header.params, key=lambda n: PARAMS[n][0])
    out.append(len(names))
    for name in names:
        param_id, kind = PARAMS[name]
        out.append(param_id)
        out += _encode_param(name, kind, header.params[name])
    return bytes(out)


_TAG_OFFSET = 7  # magic, version, algorithm, flags


def _body_digest(body: bytes | bytearray) -> int:
    """The u32 a version-2 file folds into its tag: BLAKE2b over every byte before the
    CRC32 (header fields, payload length and payload) but the tag's four bytes."""
    digest = hashlib.blake2b(b"reccodec/body", digest_size=4)
    digest.update(bytes(body[:_TAG_OFFSET]))
    digest.update(bytes(body[_TAG_OFFSET + 4 :]))
    return int.from_bytes(digest.digest(), "little")


def pack(header: Header, payload: np.ndarray) -> bytes:
    """Serialise a header and its payload words into the bytes of one file.

    Args:
        header: Header, the algorithm, shape, tag, parameters and flags to store.
        payload: numpy.ndarray, one-dimensional, of dtype uint32 (any byte order): the
            entropy-coded words, stored little-endian.

    Returns:
        bytes, the whole file, CRC32 included. The same arguments always give the same
        bytes.

    Raises:
        InputError: an unknown algorithm or parameter name, a value of the wrong type or
            out of range (negative, too large, a non-finite float or one that overflows
            float32), more than 32 dimensions, or a payload that is not a 1-D uint32
            array.
    """
    body = _encode_header(header)
    if not isinstance(payload, np.ndarray):
        raise InputError(f"payload must be a numpy array of uint32, got {type(payload).__name__}")
    if payload.dtype.kind != "u" or payload.dtype.itemsize != 4:
        raise InputError(f"payload must have dtype uint32, got {payload.dtype}")
    if payload.ndim != 1:
        raise InputError(f"payload must be one-dimensional, got {payload.ndim} dimensions")
    words = np.ascontiguousarray(payload, dtype="<u4").tobytes()
    out = bytearray(body)
    out += _encode_varint(len(words))
    out += words
    tag = struct.unpack("<I", out[_TAG_OFFSET : _TAG_OFFSET + 4])[0]
    out[_TAG_OFFSET : _TAG_OFFSET + 4] = struct.pack("<I", tag ^ _body_digest(out))
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


# --------------------------------------------------------------------------- reading


class _Truncated(FormatError):
    """The bytes end before the structure they declare (private to the parser)."""


class _Reader:
    """A cursor over ``data[:limit]`` that raises FormatError, never IndexError."""

    def __init__(self, data: bytes, pos: int, limit: int) -> None:
        self.data = data
        self.pos = pos
        self.limit = limit

    def take(self, count: int) -> bytes:
        if count > self.limit - self.pos:
            raise _Truncated("truncated")
        start = self.pos
        self.pos += count
        return self.data[start : self.pos]

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def varint(self) -> int:
        value = 0
        for index in range(_MAX_VARINT_BYTES):
            byte = self.u8()
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index > 0:
                    raise FormatError("non-canonical varint (a longer form than needed)")
                if value >= _U64_LIMIT:
                    raise FormatError("varint overflow (a value of 2^64 or more)")
                return value
        raise FormatError(f"varint overflow (more than {_MAX_VARINT_BYTES} bytes)")


def _decode_param(reader: _Reader, kind: str) -> int | float:
    if kind == "varint":
        return reader.varint()
    if kind == "u32":
        return reader.u32()
    value = struct.unpack("<f" if kind == "f32" else "<d", reader.take(4 if kind == "f32" else 8))[0]
    if not np.isfinite(value):
        raise FormatError(f"a {kind} parameter is not finite")
    return value


def _parse(data: bytes, limit: int) -> tuple[Header, int, int]:
    """Parse the fields after the version byte, within ``data[:limit]``.

    Returns:
        (header, payload_offset, payload_len).
    """
    algorithms = {ident: name for name, ident in ALGORITHMS.items()}
    params_by_id = {ident: (name, kind) for name, (ident, kind) in PARAMS.items()}
    reader = _Reader(data, 5, limit)

    algorithm_id = reader.u8()
    if algorithm_id not in algorithms:
        raise FormatError(f"unknown algorithm id {algorithm_id} (written by a newer reccodec?)")
    flags = reader.u8()
    if flags & ~_KNOWN_FLAGS:
        raise FormatError(f"unknown flags 0x{flags:02x} (written by a newer reccodec?)")
    tag = reader.u32()
    ndim = reader.u8()
    if ndim > _MAX_NDIM:
        raise FormatError(f"the file declares {ndim} dimensions; at most {_MAX_NDIM} are allowed")
    shape = tuple(reader.varint() for _ in range(ndim))
    params: dict[str, int | float] = {}
    previous_id = 0
    for _ in range(reader.u8()):
        param_id = reader.u8()
        if param_id not in params_by_id:
            raise FormatError(f"unknown parameter id {param_id} (written by a newer reccodec?)")
        if param_id <= previous_id:
            raise FormatError("parameters are repeated or out of order")
        previous_id = param_id
        name, kind = params_by_id[param_id]
        params[name] = _decode_param(reader, kind)
    payload_len = reader.varint()
    if payload_len % 4:
        raise FormatError(f"payload length {payload_len} is not a multiple of 4")
    payload_offset = reader.pos
    reader.take(payload_len)
    if data[4] >= 2:  # the stored tag folds in the rest of the file (``_body_digest``)
        tag ^= _body_digest(data[: reader.pos])
    header = Header(
        algorithm=algorithms[algorithm_id],
        shape=shape,
        tag=tag,
        params=params,
        approximate=bool(flags & _FLAG_APPROXIMATE),
    )
    return header, payload_offset, payload_len


def _diagnose_bad_checksum(data: bytes) -> FormatError:
    """Name the likely cause when the last 4 bytes are not the CRC of the rest."""
    size = len(data)
    try:
        _, offset, length = _parse(data, size)
    except _Truncated:
        return FormatError(f"truncated: the file ends early ({size} bytes) or is corrupt")
    except FormatError:
        return FormatError("checksum mismatch: the file is corrupt")
    end = offset + length
    if end + 4 > size:
        return FormatError(f"truncated: the file ends early ({size} bytes) or is corrupt")
    if end + 4 < size and struct.unpack("<I", data[end : end + 4])[0] == zlib.crc32(data[:end]):
        return FormatError(f"{size - end - 4} trailing bytes after the checksum")
    return FormatError("checksum mismatch: the file is corrupt")


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise InputError(f"data must be bytes, got {type(data).__name__}") from None


def _read(data: Any) -> tuple[bytes, Header, int, int]:
    data = _as_bytes(data)
    size = len(data)
    if size == 0:
        raise FormatError("truncated: the file is empty")
    if data[:4] != MAGIC[: min(size, 4)]:
        raise FormatError("not a reccodec file")
    if size < 5:
        raise FormatError(f"truncated: the file has only {size} bytes")
    if data[4] not in READ_VERSIONS:
        raise FormatError(
            f"format version {data[4]} is not supported; this reccodec reads versions "
            f"{', '.join(map(str, READ_VERSIONS))}"
        )
    if size < _MIN_FILE_BYTES:
        raise FormatError(f"truncated: the file has only {size} bytes")
    if struct.unpack("<I", data[-4:])[0] != zlib.crc32(data[:-4]):
        raise _diagnose_bad_checksum(data)
    try:
        header, offset, length = _parse(data, size - 4)
    except _Truncated:
        raise FormatError("truncated: the payload runs into the checksum") from None
    if offset + length != size - 4:
        raise FormatError(f"{size - 4 - offset - length} unexpected bytes after the payload")
    return data, header, offset, length


def unpack(data: bytes) -> tuple[Header, np.ndarray]:
    """Read the bytes of one file back into its header and payload words.

    The magic number and version are checked first, then the CRC32, and only then is
    the rest parsed, so any corruption gives a ``FormatError`` and nothing else.

    Args:
        data: bytes (or any bytes-like object), a whole file as written by ``pack``.

    Returns:
        (Header, numpy.ndarray): the header, and the payload as a new 1-D native uint32
        array.

    Raises:
        FormatError: a one-line reason: the data is truncated, is not a reccodec file,
            has another format version, fails the checksum, has trailing bytes, or holds
            an unknown algorithm, parameter or flag, a bad varint or a payload length
            that is not a multiple of 4.
        InputError: data is not bytes-like.
    """
    data, header, offset, length = _read(data)
    words = np.frombuffer(data, dtype="<u4", count=length // 4, offset=offset).astype(np.uint32)
    return header, words


def header_size(data: bytes) -> int:
    """Count the bytes of a file that are not payload words.

    Args:
        data: bytes, a whole file.

    Returns:
        int, the file size minus the payload bytes: magic, fields, parameters, the
        payload length and the CRC32.

    Raises:
        FormatError: as ``unpack``.
    """
    data, _, _, length = _read(data)
    return len(data) - length


def describe(data: bytes) -> dict[str, Any]:
    """Summarise a file for ``reccodec info``, as JSON-ready values.

    Args:
        data: bytes, a whole file.

    Returns:
        dict with ``format_version`` (int), ``algorithm`` (str), ``approximate`` (bool),
        ``shape`` (list of int), ``params`` (dict, sorted by id), ``tag`` (str, 8 hex
        digits), ``file_bytes``, ``header_bytes``, ``payload_bytes``, ``header_bits``
        and ``payload_bits`` (int; header means every byte that is not payload).

    Raises:
        FormatError: as ``unpack``.
    """
    data, header, _, length = _read(data)
    head = len(data) - length
    return {
        "format_version": data[4],
        "algorithm": header.algorithm,
        "approximate": header.approximate,
        "shape": list(header.shape),
        "params": dict(header.params),
        "tag": f"{header.tag:08x}",
        "file_bytes": len(data),
        "header_bytes": head,
        "payload_bytes": length,
        "header_bits": 8 * head,
        "payload_bits": 8 * length,
    }


# --------------------------------------------------------------------------- the tag


def check_header(header: Header, max_dims: int = MAX_DIMS) -> int:
    """Check what a decoder allocates and loops by, before it does: the shape and the params.

    Args:
        header: Header, from ``unpack``.
        max_dims: int, the most elements the caller accepts (``--max-dims``; default
            ``MAX_DIMS``).

    Returns:
        int, the number of elements of the file's array (the product of its shape, at most
        ``max_dims``; 0 for an empty array, which each decoder refuses in its own words).

    Raises:
        FormatError: the shape has a dimension or a product above ``max_dims``, or a
            parameter lies outside its range in ``PARAM_RANGES``; the message names it.
        InputError: ``max_dims`` is not a positive integer.
    """
    max_dims = _check_max_dims(max_dims)
    size = 1
    for dim in header.shape:
        size *= dim
        if dim > max_dims or size > max_dims:
            raise FormatError(
                f"the file declares an array of shape {tuple(header.shape)}, more than the "
                f"{max_dims} elements allowed (--max-dims): the file is corrupt, or pass a larger --max-dims"
            )
    for name, value in header.params.items():
        low, high = PARAM_RANGES[name]
        if not low <= value <= high:
            raise FormatError(
                f"the file's parameter {name} = {value!r} is out of range (valid: [{low!r}, {high!r}]): "
                "the file is corrupt"
            )
    return size


def _check_max_dims(max_dims: Any) -> int:
    if isinstance(max_dims, bool) or not isinstance(max_dims, (int, np.integer)) or not 1 <= max_dims < 2**63:
        raise InputError(f"--max-dims must be an integer in [1, 2^63), got {max_dims!r}")
    return int(max_dims)


_TAG_CHUNK = 1 << 16  # elements hashed at a time


def _hash_array(digest: Any, name: str, values: Any) -> None:
    """Hash ``values`` as contiguous little-endian float64, a chunk at a time.

    A broadcast view (a whole prior from one value) is hashed without being materialised.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an array of real numbers") from None
    if array.size > _TAG_CHUNK and not any(array.strides):  # one value broadcast: one chunk, hashed again
        chunk = np.full(_TAG_CHUNK, array.flat[0] + 0.0, dtype="<f8").tobytes()
        for _ in range(array.size // _TAG_CHUNK):
            digest.update(chunk)
        digest.update(chunk[: 8 * (array.size % _TAG_CHUNK)])
        return
    flat = array.reshape(-1) if array.flags.c_contiguous else None
    for start in range(0, array.size, _TAG_CHUNK):
        stop = min(start + _TAG_CHUNK, array.size)
        chunk = flat[start:stop] if flat is not None else array.flat[start:stop]
        # -0.0 + 0.0 is +0.0: the two zeros give one tag.
        digest.update(np.ascontiguousarray(chunk + 0.0, dtype="<f8"))


def seed_tag(seed: int, prior_mean: np.ndarray, prior_std: np.ndarray) -> int:
    """Derive the 32-bit tag that lets a decoder refuse a wrong seed or prior.

    The tag is the first 4 bytes (read as a little-endian u32) of BLAKE2b (64-byte
    digest) over: the seed as 8 bytes little-endian unsigned; for the mean, then the
    std, its ndim as u8 and each dimension as u64 little-endian; then the mean and the
    std as contiguous little-endian float64 values. A wrong seed or prior passes the
    check with probability 2^-32. The values are hashed a chunk at a time, so a prior
    given as a broadcast view is never copied whole.

    Args:
        seed: int, the shared seed, in [0, 2^64).
        prior_mean: array_like of float, the prior's mean.
        prior_std: array_like of float, the prior's standard deviation.

    Returns:
        int, the tag in [0, 2^32).

    Raises:
        InputError: the seed is not an integer in [0, 2^64), or the prior is not numeric.
    """
    seed = _check_uint("seed", seed, _U64_LIMIT)
    shapes = []
    for name, values in (("prior_mean", prior_mean), ("prior_std", prior_std)):
        try:
            shapes.append(np.shape(values))
        except (TypeError, ValueError):
            raise InputError(f"{name} must be an array of real numbers") from None
    digest = hashlib.blake2b(seed.to_bytes(8, "little"))
    for shape in shapes:
        if len(shape) > 255:
            raise InputError("the prior has too many dimensions")
        digest.update(bytes([len(shape)]))
        digest.update(struct.pack(f"<{len(shape)}Q", *shape))
    _hash_array(digest, "prior_mean", prior_mean)
    _hash_array(digest, "prior_std", prior_std)
    return int.from_bytes(digest.digest()[:4], "little")


def check_tag(
    header: Header,
    seed: int,
    prior_mean: np.ndarray | None,
    prior_std: np.ndarray | None,
    max_dims: int = MAX_DIMS,
) -> None:
    """Refuse a file a decoder must not trust, or a seed or prior other than the encoder's.

    The header is checked first (``check_header``), then the tag, so a decoder calls this
    before it allocates anything by the header. With ``prior_mean`` and ``prior_std``
    None, the prior is the default N(0, 1) of the header's shape, hashed without being
    built.

    Args:
        header: Header, read from the file.
        seed: int, the decoder's seed.
        prior_mean: array_like of float, the decoder's prior mean, or None (see above).
        prior_std: array_like of float, the decoder's prior standard deviation, or None.
        max_dims: int, as ``check_header``.

    Raises:
        FormatError: as ``check_header``.
        MismatchError: the tag of (seed, prior) is not the one in the header.
        InputError: as ``seed_tag``.
    """
    check_header(header, max_dims)
    if prior_mean is None and prior_std is None:
        shape = tuple(header.shape)
        prior_mean, prior_std = np.broadcast_to(0.0, shape), np.broadcast_to(1.0, shape)
    if seed_tag(seed, prior_mean, prior_std) != header.tag:
        raise MismatchError(_TAG_MISMATCH)


# --------------------------------------------------------------------------- files


def _new_file_mode() -> int:
    """The mode a plainly created file would get: 0o666 less the process umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Write a file so that ``path`` holds either its old content or all of ``data``.

    A regular file is written to a temporary file in the same directory, which is
    flushed, synced and then renamed into place. A file that exists keeps its permission
    bits; a new one gets those of a plainly created file. A symbolic link is followed: the
    file it points to is replaced and the link stays. A character device or a FIFO (for
    instance ``/dev/null``) is written directly, never renamed over, as zstd does; any
    other kind of file is refused.

    Args:
        path: str or os.PathLike, where to write.
        data: bytes (or bytes-like), the whole content.
        overwrite: bool, False to refuse an existing file. The check and the creation are
            one step (a hard link of the finished temporary file), so two writers racing
            for one new path cannot both succeed.

    Raises:
        FileExistsError: ``overwrite`` is False and ``path`` exists.
        OSError: the directory is not writable, the disk is full, ``path`` is a directory
            or a block device, and so on; the temporary file is removed first and
            ``path`` is left as it was.
    """
    path = os.fspath(path)
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and (stat.S_ISCHR(existing.st_mode) or stat.S_ISFIFO(existing.st_mode)):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise OSError(errno.EINVAL, "not a regular file, character device or FIFO", path)
    if existing is not None and not overwrite:
        raise FileExistsError(errno.EEXIST, "file exists", path)
    if os.path.islink(path):
        if existing is None:
            raise OSError(errno.ENOENT, "a symbolic link to a missing file", path)
        path = os.path.realpath(path)
    directory = os.path.dirname(path) or "."
    mode = existing.st_mode & 0o7777 if existing is not None else _new_file_mode()
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            _create_from(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not every platform can sync a directory
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _create_from(temp: str, path: str) -> None:
    """Give the finished file ``temp`` the new name ``path``, failing if ``path`` exists."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "file exists", path) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", path) from None
        os.replace(temp, path)
        return
    os.unlink(temp)


def read_file(path: str | os.PathLike) -> bytes:
    """Read a whole file.

    Args:
        path: str or os.PathLike, the file to read.

    Returns:
        bytes, its content.

    Raises:
        InputError: "cannot read FILE: reason" when it is missing, a directory or
            unreadable.
    """
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError(f"cannot read {os.fspath(path)}: {reason}") from None
