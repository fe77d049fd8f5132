"""What every algorithm's file shares: the encode result, the prior, the header, the block
layout, the index code's octaves and the decoder's checks.

The algorithm modules (``block_rec``, ``partition``, ``hybrid``) build their files from
these pieces; ``codec`` dispatches to them through ``algorithms``. Nothing here imports an
algorithm module.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import container
from .blocks import BlockLayout, layout_fixed
from .distributions import standard_normal_like
from .entropy import zipf_lambda, zipf_octave_probabilities
from .errors import FormatError, InputError, MismatchError
from .seed import split_seed

__all__ = [
    "DEFAULT_BLOCK_BITS",
    "DEFAULT_MAX_STEPS",
    "DINF_SLACK_BITS",
    "MAX_ORC_LOG2",
    "EncodeResult",
    "resolve_prior",
    "dimension_name",
    "f32",
    "index_octaves",
    "quantized_gaussian_bits",
    "check_max_steps",
    "check_target_range",
    "MAX_MAX_STEPS",
    "MAX_STD_RATIO",
    "MAX_MEAN_SIGMAS",
    "target_header",
    "write_layout",
    "read_layout",
    "decoder_prior",
    "check_index_model",
    "zipf_bits_param",
    "header_dims",
]

DEFAULT_BLOCK_BITS = 16.0
DEFAULT_MAX_STEPS = 2**31
MAX_MAX_STEPS = 2**62  # the kernels count steps in int64
#: limits of a target against its prior, per dimension (``check_target_range``)
MAX_STD_RATIO = 2.0**32
MAX_MEAN_SIGMAS = 2.0**32
# A block closes before its D_inf passes the KL budget by this much: PFR's steps grow as
# 2^D_inf, and dimensions with little KL can still carry most of a bit of D_inf each.
DINF_SLACK_BITS = 4.0
MAX_ORC_LOG2 = 40


@dataclass
class EncodeResult:
    """What ``encode`` returns: the file's bytes, the encoder's sample and the figures."""

    data: bytes
    sample: np.ndarray
    algorithm: str
    layout: BlockLayout
    indices: np.ndarray
    steps: np.ndarray
    kl_bits: float
    header_bits: int
    payload_bits: int
    layout_bits: float
    seconds: float
    approximate: bool
    extra: dict = field(default_factory=dict)

    @classmethod
    def of_file(cls, data, started, **fields):
        """The result for the file ``data``: header and payload bits from its bytes, and the
        seconds since ``started`` (a ``time.perf_counter()`` value); other fields as given."""
        header_bytes = container.header_size(data)
        return cls(data=data, header_bits=8 * header_bytes, payload_bits=8 * (len(data) - header_bytes),
                   seconds=time.perf_counter() - started, **fields)

    @property
    def bits(self):
        return 8 * len(self.data)

    def summary(self):
        """A JSON-ready dict: bits, header_bits, payload_bits, kl_bits, blocks, seconds, ..."""
        return {
            "algorithm": self.algorithm,
            "bits": self.bits,
            "header_bits": self.header_bits,
            "payload_bits": self.payload_bits,
            "layout_bits": round(self.layout_bits, 3),
            "kl_bits": round(self.kl_bits, 3),
            "blocks": self.layout.num_blocks,
            "dims": self.layout.num_dims,
            "mean_steps": float(self.steps.mean()),
            "max_block_steps": int(self.steps.max()),
            "approximate": self.approximate,
            "seconds": round(self.seconds, 4),
            **self.extra,
        }


def resolve_prior(target, prior):
    """The prior to code against: ``prior``, checked against the target's shape, or N(0, 1).

    Raises:
        InputError: a prior of another shape.
    """
    if prior is None:
        prior = standard_normal_like(target.shape)
    elif prior.shape != target.shape:
        raise InputError(f"target has shape {target.shape} but the prior has shape {prior.shape}")
    check_target_range(target, prior)
    return prior


def check_max_steps(max_steps):
    """``max_steps`` as an int in [1, ``MAX_MAX_STEPS``]; InputError otherwise."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) \
            or not 1 <= max_steps <= MAX_MAX_STEPS:
        raise InputError(f"--max-steps must be an integer in [1, 2^{MAX_MAX_STEPS.bit_length() - 1}], got {max_steps!r}")
    return int(max_steps)


def check_target_range(target, prior):
    """Refuse a target too far from the prior for any algorithm's arithmetic.

    A dimension whose std is more than ``MAX_STD_RATIO`` times smaller or larger than the
    prior's, or whose mean lies more than ``MAX_MEAN_SIGMAS`` prior stds from the prior's,
    carries far more than the 2^40 candidates of any search can code, and would overflow
    the planning (KL, D_inf, candidate counts) to infinity.

    Raises:
        InputError: naming the first such dimension.
    """
    ratio = target.std / prior.std
    offset = np.abs(target.mean - prior.mean) / prior.std
    bad = ~((ratio >= 1.0 / MAX_STD_RATIO) & (ratio <= MAX_STD_RATIO) & (offset <= MAX_MEAN_SIGMAS))
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        name = dimension_name(target.shape, i)
        raise InputError(f"dimension {name}: target N({target.mean.flat[i]:.6g}, {target.std.flat[i]:.6g}^2) is too far "
                         f"from the prior N({prior.mean.flat[i]:.6g}, {prior.std.flat[i]:.6g}^2) to code: the stds "
                         f"may differ by a factor of at most 2^{int(math.log2(MAX_STD_RATIO))} and the means by at "
                         f"most 2^{int(math.log2(MAX_MEAN_SIGMAS))} prior stds")


def dimension_name(shape, flat_index):
    """How messages name a dimension: its flat index, or its index tuple in a multi-axis shape."""
    return str(tuple(int(i) for i in np.unravel_index(flat_index, shape))) if len(shape) > 1 else str(flat_index)


def f32(x):
    """x rounded to float32, as header parameters are stored."""
    return float(np.float32(x))


def index_octaves(index_model, zipf_bits):
    """The octave probabilities of the index code: the empirical model's, or Zipf's."""
    if index_model is not None:
        return index_model.octave_probs
    return zipf_octave_probabilities(zipf_lambda(zipf_bits))


def _layout_model(lengths):
    return f32(lengths.mean()), f32(max(float(lengths.std()), 0.5))


def quantized_gaussian_bits(values, mean, std):
    """Ideal bits of integer values under a Gaussian of (mean, std) quantized to the integers
    (the code of ``PayloadWriter.add_quantized_gaussian``)."""
    scale = 1.0 / (std * math.sqrt(2.0))
    mass = [0.5 * (math.erfc((x - 0.5 - mean) * scale) - math.erfc((x + 0.5 - mean) * scale))
            for x in values.tolist()]
    return float(-np.log2(np.maximum(mass, 2.0**-24)).sum())


def target_header(algorithm, target, seed, prior, params, approximate):
    """The file header of a Gaussian target: its shape, params and the (seed, prior) tag."""
    return container.Header(algorithm=algorithm, shape=tuple(target.shape),
                            tag=container.seed_tag(seed, prior.mean, prior.std), params=params,
                            approximate=approximate)


def write_layout(writer, params, layout, block_dims):
    """Put the block layout in the header params and the payload; return its information bits.

    Fixed-size blocks cost one varint. Otherwise the block count goes in the header and all
    lengths but the last (implied by the shape) are coded with a quantized Gaussian whose
    mean and std are header params; ``read_layout`` reverses it.
    """
    if block_dims is not None:
        params["block_dims"] = int(layout.lengths[0])
        return 0.0
    params["num_blocks"] = layout.num_blocks
    if layout.num_blocks == 1:
        return 0.0
    mean, std = _layout_model(layout.lengths)
    params["layout_mean"], params["layout_std"] = mean, std
    coded = layout.lengths[:-1]
    writer.add_quantized_gaussian(coded, 1, layout.num_dims, mean, std)
    return quantized_gaussian_bits(coded, mean, std)


def read_layout(header, reader, num_dims):
    """The block layout that ``write_layout`` stored, read from the header and the payload."""
    params = header.params
    if "block_dims" in params:
        return layout_fixed(num_dims, params["block_dims"])
    if "num_blocks" not in params:
        raise FormatError("the file has no block layout")
    nb = int(params["num_blocks"])
    if not 1 <= nb <= num_dims:
        raise FormatError(f"the file's block count {nb} does not fit {num_dims} dimensions")
    if nb == 1:
        return BlockLayout(np.array([num_dims]))
    if "layout_mean" not in params or "layout_std" not in params:
        raise FormatError("the file's block layout lacks its model parameters")
    coded = reader.read_quantized_gaussian(nb - 1, 1, num_dims, params["layout_mean"], params["layout_std"])
    last = num_dims - int(coded.sum())
    if last < 1:
        raise FormatError("the file's block layout does not add up to its shape")
    return BlockLayout(np.append(coded, last))


def decoder_prior(header, seed, prior, index_model, max_dims=container.MAX_DIMS):
    """The decoder's prior (default N(0, 1)), built only once the header's ranges, the seed,
    the prior and the index model have been checked against the file (``container.check_tag``
    hashes the default prior without building it), so a corrupt header allocates nothing."""
    split_seed(seed)
    shape = tuple(header.shape)
    if prior is not None and prior.shape != shape:
        raise InputError(f"the file holds shape {shape} but the prior has shape {prior.shape}")
    container.check_tag(header, seed, None if prior is None else prior.mean, None if prior is None else prior.std,
                        max_dims)
    check_index_model(header, index_model)
    return standard_normal_like(shape) if prior is None else prior


def check_index_model(header, index_model):
    """Raises MismatchError unless ``index_model`` is the one the file was coded with (or
    both are the Zipf code)."""
    stored = header.params.get("index_model")
    if stored is None and index_model is not None:
        raise MismatchError("this file was coded with the Zipf index model; do not pass --index-model")
    if stored is not None and index_model is None:
        raise MismatchError(f"this file was coded with an empirical index model (fingerprint {stored:08x}); "
                            "pass the same --index-model FILE")
    if stored is not None and stored != index_model.fingerprint():
        raise MismatchError(f"the index model differs from the encoder's (fingerprint {index_model.fingerprint():08x}, "
                            f"file has {stored:08x})")


def zipf_bits_param(header):
    """The index code's parameter from the header. Raises FormatError when it is missing."""
    zipf_bits = header.params.get("zipf_bits")
    if zipf_bits is None or zipf_bits < 0:
        raise FormatError("the file lacks its index-code parameter")
    return zipf_bits


def header_dims(header):
    """The number of dimensions the header's shape holds. Raises FormatError when it is 0."""
    num_dims = int(np.prod(tuple(header.shape), dtype=np.int64))
    if num_dims == 0:
        raise FormatError("the file holds an empty array")
    return num_dims
