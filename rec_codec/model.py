"""The codec model: what every item of a data set shares, in one file both sides hold.

Like a zstd dictionary, a codec model is made once from training posteriors
(``rec_codec.training.train_model``, ``reccodec train``) and then turns each item into a
record of a few bytes (``rec_codec.items``, ``rec_codec.batch``). It carries:

- the latent shape and the user's prior P (mean, std), against which KL is reported;
- the coding distributions that candidates are drawn from: by default K diagonal
  Gaussians fitted to clusters of the training posteriors, with their frequencies
  (``components``: each item is coded against the one that costs it the fewest bits, and
  its record names it), every std at least 1.1 times the widest training std, so that
  posteriors a little wider than P still have a finite D_inf;
- the algorithm ("sp-pfr" or "pfr"), the block layout (from the per-dimension MI profile
  of the training items), the bins J_d of every dimension, the D_inf limit past which a
  block is halved, and the slack past which a dimension is narrowed (``items``);
- integer frequency tables of the index code (the octave of n + 1, one table per block
  for unhalved blocks and one per depth for halved ones) and of the halving flags, fitted
  on the training items;
- its id: the first 8 bytes of SHA-256 over the file's body, which containers record so
  that a decoder with another model refuses.

File layout, integers little-endian::

    magic      4 bytes  b"\\x89RCM"
    version    u8       1 (one coding distribution) or 2 (K of them)
    meta_len   u32      length of the JSON description (at most 65,536 bytes)
    meta       bytes    UTF-8 JSON object: the scalars, the counts "tables" and "levels"
                        and, in version 2, "components" (K >= 2)
    arrays     bytes    float64 prior_mean, prior_std [dims], coding_mean, coding_std
                        [K, dims], int64 block_lengths [blocks], nbins [K, dims],
                        index_freqs [tables, 63], halving_freqs [levels, 2] and, in
                        version 2, component_freqs [K]; little-endian, in this order
    crc32      u32      zlib.crc32 of every byte before it

A model with one coding distribution is written as version 1, so such files keep their
bytes and ids.
"""

import functools
import hashlib
import json
import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from .errors import FormatError, InputError, MismatchError

__all__ = ["CodecModel", "MAX_SCALE", "MODEL_MAGIC", "MODEL_VERSION", "N_OCTAVES", "INDEX_TOTAL_BITS", "load_model"]

MODEL_MAGIC = b"\x89RCM"
MODEL_VERSION = 2  # the newest this reccodec writes and reads; 1 when K = 1
MAX_COMPONENTS = 1024
N_OCTAVES = 63  # octave b of n + 1 = 2^b + r, b in 0..62
INDEX_TOTAL_BITS = 16  # every frequency table sums to 2^16
ALGORITHMS = ("sp-pfr", "pfr")
MAX_BLOCK_BIN_BITS = 61  # the bins of a block are numbered by an int64 (kernels.partition)
MAX_SCALE = 2.0**100  # |means| and stds (and 1 / stds) of a model are at most this: samples stay finite
_MAX_META = 1 << 16
_MAX_DIMS = 1 << 24
_ARRAYS = (  # name, dtype, shape: "dims", "components" (x dims), "blocks", "tables" (x N_OCTAVES),
    # "levels" (x 2) or "weights" (K; version 2 only)
    ("prior_mean", "<f8", "dims"),
    ("prior_std", "<f8", "dims"),
    ("coding_mean", "<f8", "components"),
    ("coding_std", "<f8", "components"),
    ("block_lengths", "<i8", "blocks"),
    ("nbins", "<i8", "components"),
    ("index_freqs", "<i8", "tables"),
    ("halving_freqs", "<i8", "levels"),
    ("component_freqs", "<i8", "weights"),
)


@dataclass(frozen=True, eq=False)
class CodecModel:
    """A codec model; build one with ``training.train_model`` or ``load_model``.

    Attributes:
        algorithm (str): "sp-pfr" or "pfr".
        shape (tuple of int): the shape of one item.
        prior_mean, prior_std (np.ndarray): the user's prior, flat.
        coding_mean, coding_std (np.ndarray): [K, dims], the coding distributions P_1..P_K
            (a 1-D array is taken as K = 1).
        block_lengths (np.ndarray): int64 lengths of the blocks, in flat order.
        nbins (np.ndarray): int64 [K, dims], J_d of every dimension for each component (all
            1 for pfr; a 1-D array is taken as K = 1).
        index_freqs (np.ndarray): int64 [tables, N_OCTAVES]: one table per block, then one
            per halving depth 1, 2, ...; each row sums to 2^INDEX_TOTAL_BITS.
        halving_freqs (np.ndarray): int64 [levels, 2]: frequencies of kept/halved per depth
            (the last row serves deeper levels).
        component_freqs (np.ndarray): int64 [K] frequencies of the components, summing to
            2^INDEX_TOTAL_BITS (None: one component).
        dinf_limit (float): blocks whose D_inf(Q||P') passes this (bits) are halved.
        narrow_slack (float): a dimension whose D_inf(Q||P_c) passes its KL by more than
            this (bits) is narrowed; see ``items``.
        info (dict): training figures, for ``describe`` only (JSON scalars).
    """

    algorithm: str
    shape: tuple
    prior_mean: np.ndarray
    prior_std: np.ndarray
    coding_mean: np.ndarray
    coding_std: np.ndarray
    block_lengths: np.ndarray
    nbins: np.ndarray
    index_freqs: np.ndarray
    halving_freqs: np.ndarray
    dinf_limit: float
    narrow_slack: float
    component_freqs: np.ndarray = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        dims = int(np.prod(self.shape, dtype=np.int64))
        _check(self.algorithm in ALGORITHMS, f"unknown model algorithm {self.algorithm!r}")
        _check(1 <= dims <= _MAX_DIMS, f"the model's latent has {dims} dimensions; 1..2^24 are allowed")
        if self.component_freqs is None:
            object.__setattr__(self, "component_freqs", np.array([1 << INDEX_TOTAL_BITS]))
        for name, dtype, kind in _ARRAYS:
            value = np.ascontiguousarray(getattr(self, name), dtype=np.dtype(dtype).newbyteorder("="))
            if kind == "components" and value.ndim == 1:
                value = value[None]
            object.__setattr__(self, name, value)
        for name in ("prior_mean", "prior_std"):
            _check(getattr(self, name).shape == (dims,), f"the model's {name} does not fit its shape")
        weights = self.component_freqs
        _check(weights.ndim == 1 and 1 <= weights.size <= MAX_COMPONENTS,
               f"the model has {weights.size} coding components; 1..{MAX_COMPONENTS} are allowed")
        _check((weights >= 1).all() and int(weights.sum()) == 1 << INDEX_TOTAL_BITS,
               "the model's component frequencies are not a valid frequency table")
        for name in ("coding_mean", "coding_std", "nbins"):
            _check(getattr(self, name).shape == (weights.shape[0], dims), f"the model's {name} does not fit its shape")
        for name in ("prior_mean", "prior_std", "coding_mean", "coding_std"):
            _check(np.isfinite(getattr(self, name)).all(), f"the model's {name} is not finite")
        for name in ("prior_mean", "coding_mean"):
            _check((np.abs(getattr(self, name)) <= MAX_SCALE).all(),
                   f"the model's {name} is out of range (|mean| <= 2^{int(math.log2(MAX_SCALE))})")
        for name in ("prior_std", "coding_std"):
            _check(((getattr(self, name) >= 1.0 / MAX_SCALE) & (getattr(self, name) <= MAX_SCALE)).all(),
                   f"the model's {name} is out of range (2^-{int(math.log2(MAX_SCALE))} .. "
                   f"2^{int(math.log2(MAX_SCALE))})")
        lengths = self.block_lengths
        _check(lengths.ndim == 1 and lengths.size >= 1 and (lengths >= 1).all() and int(lengths.sum()) == dims,
               "the model's block layout does not add up to its shape")
        _check(((self.nbins >= 1) & (self.nbins <= 1 << 16)).all(), "the model's bins are out of range")
        if self.algorithm == "pfr":
            _check((self.nbins == 1).all(), "a pfr model has no bins")
        for s, n in zip(np.cumsum(lengths) - lengths, lengths):
            _check((np.log2(self.nbins[:, s:s + n]).sum(axis=1) <= MAX_BLOCK_BIN_BITS).all(),
                   f"a block of the model has more than 2^{MAX_BLOCK_BIN_BITS} bins")
        freqs = self.index_freqs
        _check(freqs.ndim == 2 and freqs.shape[1] == N_OCTAVES and freqs.shape[0] >= lengths.size,
               "the model's index tables do not fit its blocks")
        _check((freqs >= 1).all() and (freqs.sum(axis=1) == 1 << INDEX_TOTAL_BITS).all(),
               "the model's index tables are not valid frequency tables")
        halving = self.halving_freqs
        _check(halving.ndim == 2 and halving.shape[1] == 2 and 1 <= halving.shape[0] <= 64
               and (halving >= 1).all() and (halving.sum(axis=1) == 1 << INDEX_TOTAL_BITS).all(),
               "the model's halving tables are not valid frequency tables")
        for name in ("dinf_limit", "narrow_slack"):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 64,
                   f"the model's {name} must be in (0, 64] bits")
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))

    @property
    def num_dims(self):
        return int(self.prior_mean.shape[0])

    @property
    def num_blocks(self):
        return int(self.block_lengths.shape[0])

    @property
    def num_components(self):
        return int(self.component_freqs.shape[0])

    def to_bytes(self):
        """The model file's bytes (see the module docstring)."""
        meta = {
            "algorithm": self.algorithm,
            "shape": list(self.shape),
            "dinf_limit": float(self.dinf_limit),
            "narrow_slack": float(self.narrow_slack),
            "tables": int(self.index_freqs.shape[0]),
            "levels": int(self.halving_freqs.shape[0]),
            "info": self.info,
        }
        version = 1 if self.num_components == 1 else 2
        if version == 2:
            meta["components"] = self.num_components
        text = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        arrays = b"".join(np.ascontiguousarray(getattr(self, name), dtype=dtype).tobytes()
                          for name, dtype, kind in _ARRAYS if version == 2 or kind != "weights")
        body = MODEL_MAGIC + bytes([version]) + struct.pack("<I", len(text)) + text + arrays
        return body + struct.pack("<I", zlib.crc32(body))

    @functools.cached_property
    def model_id(self):
        """The model's id: the first 8 bytes of SHA-256 over its file body, as an integer."""
        body = self.to_bytes()[:-4]
        return int.from_bytes(hashlib.sha256(body).digest()[:8], "little")

    def describe(self):
        """A JSON-ready summary for ``reccodec info``."""
        share = self.component_freqs / self.component_freqs.sum()
        bins_bits = share @ np.log2(self.nbins)  # the components' mean, by frequency
        starts = np.cumsum(self.block_lengths) - self.block_lengths
        return {
            "kind": "codec model",
            "version": 1 if self.num_components == 1 else 2,
            "id": f"{self.model_id:016x}",
            "algorithm": self.algorithm,
            "shape": list(self.shape),
            "dims": self.num_dims,
            "blocks": self.num_blocks,
            "block_lengths": self.block_lengths.tolist(),
            "block_bin_bits": [round(float(bins_bits[s:s + n].sum()), 3) for s, n in zip(starts, self.block_lengths)],
            "dinf_limit": self.dinf_limit,
            "narrow_slack": self.narrow_slack,
            "components": self.num_components,
            "coding_prior_fitted": not (self.num_components == 1
                                        and np.array_equal(self.coding_mean[0], self.prior_mean)
                                        and np.array_equal(self.coding_std[0], self.prior_std)),
            **self.info,
        }


def _check(condition, message):
    if not condition:
        raise FormatError(message)


def load_model(data, name="the model"):
    """A CodecModel from a model file's bytes; every field is checked.

    Args:
        data (bytes): the file's content.
        name (str): what to call it in messages (a file name).
    Raises:
        FormatError: not a model file, another version, a bad checksum, a truncated file or
            a field out of range; the message starts with ``name``.
    """
    data = bytes(data)
    try:
        return _parse(data)
    except FormatError as e:
        raise FormatError(f"{name}: {e}") from None


def _parse(data):
    if len(data) < 13 or data[:4] != MODEL_MAGIC:
        if data[:4] == b"\x89REC":
            raise FormatError("this is a reccodec bitstream, not a codec model")
        raise FormatError("not a reccodec codec model (bad magic number)")
    version = data[4]
    if not 1 <= version <= MODEL_VERSION:
        raise FormatError(f"codec model version {version} is not supported (this reccodec reads 1..{MODEL_VERSION})")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise FormatError("checksum mismatch: the codec model is corrupt or truncated")
    (meta_len,) = struct.unpack("<I", data[5:9])
    if not 2 <= meta_len <= min(_MAX_META, len(data) - 13):
        raise FormatError("the codec model's description is out of range")
    try:
        meta = json.loads(data[9:9 + meta_len].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FormatError("the codec model's description is not valid JSON") from None
    if not isinstance(meta, dict):
        raise FormatError("the codec model's description is not a JSON object")
    shape = meta.get("shape")
    _check(isinstance(shape, list) and len(shape) <= 32 and all(type(n) is int and 1 <= n <= _MAX_DIMS for n in shape),
           "the codec model's shape is out of range")
    dims = math.prod(shape)
    _check(dims <= _MAX_DIMS, "the codec model's shape is out of range")
    counts = {}
    for key in ("tables", "levels"):
        _check(type(meta.get(key)) is int and 1 <= meta[key] <= _MAX_DIMS, f"the codec model's {key} is out of range")
        counts[key] = meta[key]
    components = 1
    if version == 2:
        components = meta.get("components")
        _check(type(components) is int and 2 <= components <= MAX_COMPONENTS,
               "the codec model's components are out of range")
    arrays_bytes = len(data) - 13 - meta_len
    fixed = 8 * ((2 + 3 * components) * dims + N_OCTAVES * counts["tables"] + 2 * counts["levels"]
                 + (components if version == 2 else 0))
    nblocks, rest = divmod(arrays_bytes - fixed, 8)
    _check(rest == 0 and 1 <= nblocks <= dims, "the codec model's arrays do not match its description")
    sizes = {"dims": (dims,), "components": (components, dims), "blocks": (nblocks,),
             "tables": (counts["tables"], N_OCTAVES), "levels": (counts["levels"], 2), "weights": (components,)}
    offset = 9 + meta_len
    arrays = {}
    for name, dtype, kind in _ARRAYS:
        if kind == "weights" and version == 1:
            continue
        count = math.prod(sizes[kind])
        arrays[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(sizes[kind]).copy()
        offset += 8 * count
    info = meta.get("info", {})
    _check(isinstance(info, dict), "the codec model's info is not an object")
    try:
        return CodecModel(algorithm=meta.get("algorithm"), shape=tuple(shape), dinf_limit=meta.get("dinf_limit"),
                          narrow_slack=meta.get("narrow_slack"), info=info, **arrays)
    except InputError as e:
        raise FormatError(str(e)) from None


def check_model_id(stored, model):
    """MismatchError unless a container's recorded model id is this model's."""
    if stored != model.model_id:
        raise MismatchError(f"the data was coded with codec model {stored:016x}, not with this one "
                            f"({model.model_id:016x}); pass the encoder's --model")
