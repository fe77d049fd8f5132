"""Batches of items under a codec model: per-item records and one container for many.

**A record** is one item's symbols (``items.write_item``) coded by ``record_coder``: whole
bytes, no header. Stored alone, as ``reccodec encode --model`` writes it, a record gets
two bytes of framing::

    marker   u8   0xB7 (a reccodec record, version 1)
    check    u8   first byte of SHA-256(b"reccodec/record-check" + model id (8 bytes LE)
                  + item seed (8 bytes LE) + payload)
    payload  the record

The check byte makes a decoder with another model or seed, or a corrupt record, refuse
with probability 255/256; the payload itself must also decode to a canonical record
(``record_coder``), which catches more (``bench rate`` measures both).

**A container** (``.recs``) holds N items under one header and a CRC32::

    magic        4 bytes  b"\\x89RCS"
    version      u8       1
    flags        u8       bit 0: some item was narrowed (its sample is approximate);
                          bit 1: a source hash follows the tag
    model_id     u64      the codec model's id
    tag          u32      first 4 bytes of SHA-256(b"reccodec/batch-tag" + seed (8 LE) + model id (8 LE))
    source       32 bytes only with flag bit 1: SHA-256 of the input file the items came
                          from (``encode_shards`` skips a shard whose output records its input)
    items        varint   N
    chunk_items  varint   C: items per chunk (the last chunk may hold fewer)
    narrowed     varint   how many items were narrowed
    lengths      ceil(N / C) varints: the byte length of each chunk
    chunks       the chunks, one record each, holding the symbols of C items in order
    crc32        u32      zlib.crc32 of every byte before it

Item i is coded with ``items.item_seed(seed, i)``. Chunks let a container spend well
under a byte of framing per item while any item still decodes alone: item i reads the
symbols of its chunk up to itself and rebuilds only its own sample. Reading a symbol takes
time linear in its chunk's length, so by default a chunk holds 64 items, or fewer where
that would take it past about 8,192 bits (``default_chunk_items``): 64 digits items of
about 68 bits, 18 items of 440 bits.
"""

import hashlib
import math
import struct
import time
import zlib
from dataclasses import dataclass

import numpy as np

from .container import MAX_DIMS
from .errors import FormatError, InputError, MismatchError
from .items import check_items, encode_items, item_samples, item_seed, read_item, write_item
from .model import CodecModel, check_model_id
from .record_coder import RecordReader, RecordWriter

__all__ = ["BatchResult", "CONTAINER_MAGIC", "RECORD_MARKER", "DEFAULT_CHUNK_ITEMS", "CHUNK_BITS", "default_chunk_items",
           "encode_batch", "decode_batch", "decode_record", "record_file", "describe_container", "is_container", "is_record",
           "container_source_hash"]

CONTAINER_MAGIC = b"\x89RCS"
CONTAINER_VERSION = 1
RECORD_MARKER = 0xB7
DEFAULT_CHUNK_ITEMS = 64  # by default a chunk holds at most this many items
CHUNK_BITS = 8192  # ... and about this many bits at most: reading a symbol costs time linear in its chunk's length
_FLAG_APPROXIMATE = 1
_FLAG_SOURCE_HASH = 2
_SOURCE_HASH_BYTES = 32
_MAX_VARINT_BYTES = 10


@dataclass
class BatchResult:
    """What ``encode_batch`` returns.

    Attributes:
        records (list of bytes): each item's record alone (``record_file`` frames one).
        container (bytes): the ``.recs`` container of all items.
        samples (np.ndarray): the encoder's samples, [items, *shape] (the decoder's output).
        kl_bits, coding_kl_bits (np.ndarray): KL of each item to the prior and to P_c.
        record_bits (np.ndarray): 8 * len(record) of each item.
        information_bits (np.ndarray): -log2 of each item's symbols' probability.
        steps (np.ndarray): candidates drawn per item, all blocks together.
        blocks (np.ndarray): blocks per item after halving.
        narrowed (np.ndarray): narrowed dimensions per item; tv_bound: their TV bound.
        seconds (float): wall time of the search and coding.
    """

    records: list
    container: bytes
    samples: np.ndarray
    kl_bits: np.ndarray
    coding_kl_bits: np.ndarray
    record_bits: np.ndarray
    information_bits: np.ndarray
    steps: np.ndarray
    blocks: np.ndarray
    narrowed: np.ndarray
    tv_bound: np.ndarray
    seconds: float

    @property
    def approximate(self):
        return bool((self.narrowed > 0).any())

    def summary(self):
        """A JSON-ready dict of the batch's figures."""
        kl = float(self.kl_bits.sum())
        return {
            "items": int(self.kl_bits.shape[0]),
            "container_bits": 8 * len(self.container),
            "container_bits_per_item": round(8 * len(self.container) / self.kl_bits.shape[0], 3),
            "container_bits_over_kl": round(8 * len(self.container) / kl, 4) if kl > 0 else None,
            "record_bits_mean": round(float(self.record_bits.mean()), 3),
            "record_bits_over_kl": round(float(self.record_bits.sum()) / kl, 4) if kl > 0 else None,
            "record_framing_bits": 16,
            "kl_bits_mean": round(float(self.kl_bits.mean()), 3),
            "coding_kl_bits_mean": round(float(self.coding_kl_bits.mean()), 3),
            "mean_steps": round(float(self.steps.mean()), 1),
            "max_item_steps": int(self.steps.max()),
            "blocks_mean": round(float(self.blocks.mean()), 3),
            "approximate": self.approximate,
            "narrowed_items": int((self.narrowed > 0).sum()),
            "narrowed_dims": int(self.narrowed.sum()),
            "tv_bound_max": float(self.tv_bound.max()),
            "seconds": round(self.seconds, 4),
        }


def _varint(value):
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data, pos, end):
    value = shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= end:
            raise FormatError("the container is truncated")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise FormatError("the container has a varint that is not in its shortest form")
            return value, pos + i + 1
    raise FormatError("the container has a varint longer than 10 bytes")


def _batch_tag(seed, model_id):
    digest = hashlib.sha256(b"reccodec/batch-tag" + int(seed).to_bytes(8, "little") + model_id.to_bytes(8, "little"))
    return int.from_bytes(digest.digest()[:4], "little")


def _record_check(model_id, seed, payload):
    digest = hashlib.sha256(b"reccodec/record-check" + model_id.to_bytes(8, "little") + int(seed).to_bytes(8, "little")
                            + bytes(payload))
    return digest.digest()[0]


def _check_model(model):
    if not isinstance(model, CodecModel):
        raise InputError(f"model must be a CodecModel (rec_codec.load_model), got {type(model).__name__}")


def default_chunk_items(record_bits):
    """Items per chunk for records of these sizes: DEFAULT_CHUNK_ITEMS, or fewer where their
    mean size would take a chunk past CHUNK_BITS (at least 1)."""
    mean_bits = max(1, math.ceil(sum(record_bits) / max(1, len(record_bits))))
    return max(1, min(DEFAULT_CHUNK_ITEMS, CHUNK_BITS // mean_bits))


def encode_batch(mean, std, model, seed, strict=False, chunk_items=None, max_steps=2**31,
                 source_hash=None):
    """Code every item of a batch on its own with a codec model.

    Args:
        mean, std (array_like): [items, *model.shape], or one item of ``model.shape``;
            float32 arrays and CPU torch tensors work (``np.asarray``).
        model (CodecModel): the codec model.
        seed (int): the batch's seed in [0, 2^64); item i uses ``item_seed(seed, i)``.
        strict (bool): refuse items that would need narrowing (exactness or nothing).
        chunk_items (int or None): items per chunk of the container, >= 1; None: as many
            as ``default_chunk_items`` gives for the records.
        max_steps (int): cap on candidates per block.
        source_hash (bytes or None): 32 bytes (SHA-256 of the input file) to record in the
            container's header; None records none.
    Returns:
        BatchResult.
    Raises:
        InputError: items of another shape, invalid values, a bad seed or option.
    """
    started = time.perf_counter()
    _check_model(model)
    if chunk_items is not None:
        chunk_items = int(chunk_items)
        if chunk_items < 1:
            raise InputError(f"chunk_items must be >= 1, got {chunk_items}")
    if source_hash is not None and len(source_hash) != _SOURCE_HASH_BYTES:
        raise InputError(f"source_hash must be {_SOURCE_HASH_BYTES} bytes, got {len(source_hash)}")
    flat_mean, flat_std = check_items(model, mean, std)
    count = flat_mean.shape[0]
    seeds = [item_seed(seed, i) for i in range(count)]
    coded = encode_items(model, flat_mean, flat_std, seeds, strict=strict, max_steps=max_steps)
    records, information = [], []
    for item in coded:
        writer = RecordWriter()
        write_item(writer, model, item)
        information.append(writer.information_bits())
        records.append(writer.finish())
    if chunk_items is None:
        chunk_items = default_chunk_items([8 * len(r) for r in records])
    chunks = []
    for lo in range(0, count, chunk_items):
        if chunk_items == 1:
            chunks.append(records[lo])
            continue
        writer = RecordWriter()
        for item in coded[lo:lo + chunk_items]:
            write_item(writer, model, item)
        chunks.append(writer.finish())
    samples = np.stack([item_samples(model, seeds[i], item.component, item.lengths, item.bins, item.indices)
                        for i, item in enumerate(coded)])
    narrowed = np.array([item.narrowed for item in coded], dtype=np.int64)
    flags = (_FLAG_APPROXIMATE if narrowed.any() else 0) | (_FLAG_SOURCE_HASH if source_hash is not None else 0)
    body = (CONTAINER_MAGIC + bytes([CONTAINER_VERSION, flags])
            + struct.pack("<QI", model.model_id, _batch_tag(seed, model.model_id))
            + (bytes(source_hash) if source_hash is not None else b"") + _varint(count)
            + _varint(chunk_items) + _varint(int((narrowed > 0).sum()))
            + b"".join(_varint(len(c)) for c in chunks) + b"".join(chunks))
    container = body + struct.pack("<I", zlib.crc32(body))
    return BatchResult(
        records=records, container=container, samples=samples.reshape((count,) + model.shape),
        kl_bits=np.array([item.kl_bits for item in coded]),
        coding_kl_bits=np.array([item.coding_kl_bits for item in coded]),
        record_bits=np.array([8 * len(r) for r in records], dtype=np.int64),
        information_bits=np.array(information), steps=np.array([int(item.steps.sum()) for item in coded]),
        blocks=np.array([item.lengths.shape[0] for item in coded]), narrowed=narrowed,
        tv_bound=np.array([item.tv_bound for item in coded]), seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Container:
    flags: int
    model_id: int
    tag: int
    count: int
    chunk_items: int
    narrowed: int
    chunks: list  # (offset, length) of each chunk in the data
    source_hash: bytes = None


def is_container(data):
    return bytes(data[:4]) == CONTAINER_MAGIC


def is_record(data):
    return len(data) >= 2 and data[0] == RECORD_MARKER


def _parse_container(data):
    data = bytes(data)
    if len(data) < 4 or data[:4] != CONTAINER_MAGIC:
        raise FormatError("not a reccodec batch container (bad magic number)")
    if len(data) < 4 + 2 + 12 + 3 + 4:
        raise FormatError("the container is truncated")
    if data[4] != CONTAINER_VERSION:
        raise FormatError(f"container version {data[4]} is not supported (this reccodec reads {CONTAINER_VERSION})")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise FormatError("checksum mismatch: the container is corrupt or truncated")
    flags = data[5]
    if flags & ~(_FLAG_APPROXIMATE | _FLAG_SOURCE_HASH):
        raise FormatError("the container has unknown flag bits")
    model_id, tag = struct.unpack("<QI", data[6:18])
    end = len(data) - 4
    pos, source_hash = 18, None
    if flags & _FLAG_SOURCE_HASH:
        if pos + _SOURCE_HASH_BYTES + 3 > end:
            raise FormatError("the container is truncated")
        source_hash, pos = data[pos:pos + _SOURCE_HASH_BYTES], pos + _SOURCE_HASH_BYTES
    count, pos = _read_varint(data, pos, end)
    chunk_items, pos = _read_varint(data, pos, end)
    narrowed, pos = _read_varint(data, pos, end)
    if not 1 <= count <= end or not 1 <= chunk_items or narrowed > count:
        raise FormatError("the container's item counts are out of range")
    nchunks = -(-count // chunk_items)
    if nchunks > end - pos:
        raise FormatError("the container's item counts are out of range")
    lengths = []
    for _ in range(nchunks):
        length, pos = _read_varint(data, pos, end)
        lengths.append(length)
    if pos + sum(lengths) != end:
        raise FormatError("the container's chunk lengths do not add up to its size")
    chunks = []
    for length in lengths:
        chunks.append((pos, length))
        pos += length
    return _Container(flags, model_id, tag, count, chunk_items, narrowed, chunks, source_hash)


def _check_seed(container, model, seed):
    check_model_id(container.model_id, model)
    if _batch_tag(seed, model.model_id) != container.tag:
        raise MismatchError("the seed differs from the encoder's (tag mismatch)")


def decode_batch(data, model, seed, items=None, max_dims=MAX_DIMS):
    """The encoder's samples from a container, bit for bit.

    Args:
        data (bytes): the container.
        model (CodecModel): the encoder's model.
        seed (int): the encoder's seed.
        items (iterable of int or None): the items to decode (default all, in order).
        max_dims (int): the most values the output may hold (``--max-dims``), checked
            before anything is allocated.
    Returns:
        np.ndarray: float64 [len(items), *model.shape].
    Raises:
        FormatError: a corrupt, truncated or foreign container, or one whose output would
            hold more than max_dims values.
        MismatchError: another model or seed than the encoder's.
        InputError: an item index out of range.
    """
    _check_model(model)
    parsed = _parse_container(data)
    _check_seed(parsed, model, seed)
    wanted = range(parsed.count) if items is None else [int(i) for i in items]
    for i in wanted:
        if not 0 <= i < parsed.count:
            raise InputError(f"item {i} is out of range: the container holds items 0..{parsed.count - 1}")
    if len(wanted) * model.num_dims > max_dims:
        raise FormatError(f"the container's {len(wanted)} items of {model.num_dims} dimensions are more than the "
                          f"{max_dims} values allowed (--max-dims): the file is corrupt, or pass a larger --max-dims")
    data = bytes(data)
    by_chunk = {}
    for i in wanted:
        by_chunk.setdefault(i // parsed.chunk_items, set()).add(i)
    chosen = {}
    for chunk, members in by_chunk.items():
        offset, length = parsed.chunks[chunk]
        reader = RecordReader(data[offset:offset + length])
        first = chunk * parsed.chunk_items
        last = min(first + parsed.chunk_items, parsed.count)
        upto = last if items is None else max(members) + 1
        for i in range(first, upto):
            choice = read_item(reader, model)
            if i in members:
                chosen[i] = choice
        if upto == last:
            reader.finish()
    out = np.empty((len(wanted), model.num_dims))
    for row, i in enumerate(wanted):
        out[row] = item_samples(model, item_seed(seed, i), *chosen[i])
    return out.reshape((len(wanted),) + model.shape)


def describe_container(data):
    """The container's header as a JSON-ready dict (``reccodec info``)."""
    parsed = _parse_container(data)
    header_bytes = parsed.chunks[0][0] if parsed.chunks else len(data) - 4
    return {
        "kind": "batch container",
        "version": CONTAINER_VERSION,
        "model_id": f"{parsed.model_id:016x}",
        "items": parsed.count,
        "chunk_items": parsed.chunk_items,
        "chunks": len(parsed.chunks),
        "bytes": len(data),
        "header_bits": 8 * (header_bytes + 4),
        "payload_bits": 8 * sum(length for _, length in parsed.chunks),
        "bits_per_item": round(8 * len(data) / parsed.count, 3),
        "approximate": bool(parsed.flags & _FLAG_APPROXIMATE),
        "narrowed_items": parsed.narrowed,
        **({"source_sha256": parsed.source_hash.hex()} if parsed.source_hash is not None else {}),
    }


def container_source_hash(data):
    """The source hash a container records (``encode_batch(source_hash=...)``).

    Args:
        data (bytes): the container.
    Returns:
        bytes or None: the 32 bytes, or None when the container records none.
    Raises:
        FormatError: a corrupt, truncated or foreign container.
    """
    return _parse_container(data).source_hash


def record_file(record, model, seed, index=0):
    """A record framed to stand alone: marker, check byte, payload (see the module docstring).

    Args:
        record (bytes): an item's record (``BatchResult.records[index]``).
        model (CodecModel): its model.
        seed (int): the batch's seed.
        index (int): the item's index in its batch.
    """
    _check_model(model)
    return bytes([RECORD_MARKER, _record_check(model.model_id, item_seed(seed, index), record)]) + bytes(record)


def decode_record(data, model, seed, index=0):
    """The sample of a framed record (``record_file``), bit for bit the encoder's.

    Raises:
        FormatError: not a record, or a corrupt one.
        MismatchError: the check byte disagrees: another model or seed, or corruption.
    """
    _check_model(model)
    data = bytes(data)
    if not is_record(data):
        raise FormatError("not a reccodec record (bad marker byte)")
    seed_i = item_seed(seed, index)
    payload = data[2:]
    if _record_check(model.model_id, seed_i, payload) != data[1]:
        raise MismatchError("the record does not match this model and seed (check byte), or it is corrupt")
    reader = RecordReader(payload)
    choice = read_item(reader, model)
    reader.finish()
    return item_samples(model, seed_i, *choice).reshape(model.shape)
