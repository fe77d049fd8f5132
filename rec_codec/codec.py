"""Encode a diagonal Gaussian target into a reccodec file, and decode it back.

This module ties the parts together: it validates the target and prior, lays out blocks,
runs the numba search over all blocks, entropy codes the block layout and the chosen
indices, and writes the container. Decoding reads the header, checks the seed/prior tag
and the index model, decodes layout and indices, and regenerates the chosen candidates
from the shared PRNG, bit for bit the encoder's sample.
"""

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import container
from .blocks import BlockLayout, layout_by_budget, layout_fixed
from .distributions import DiagonalGaussian, dinf_bits, kl_bits, log_ratio_coefficients, standard_normal_like
from .entropy import PayloadReader, PayloadWriter, zipf_lambda, zipf_octave_probabilities
from .errors import FormatError, InputError, MismatchError
from .interrupts import run_search
from .narrowing import narrow_stds
from .philox_numpy import candidate_normals
from .seed import split_seed

__all__ = [
    "ALGORITHMS",
    "DEFAULT_BLOCK_BITS",
    "DEFAULT_MAX_STEPS",
    "MAX_STD_RATIO",
    "MAX_MEAN_SIGMAS",
    "check_target_range",
    "check_max_steps",
    "MAX_MAX_STEPS",
    "EncodeResult",
    "plan_blocks",
    "search",
    "candidates",
    "encode",
    "decode",
    "default_orc_candidates",
    "OTHER_ALGORITHMS",
    "SP_ALGORITHMS",
]

ALGORITHMS = ("pfr", "orc", "sp-pfr", "sp-orc")
# Space-partitioned algorithms, handled by rec_codec.partition.
SP_ALGORITHMS = ("sp-pfr", "sp-orc")
# Algorithms that live in their own module; encode and decode hand them over.
OTHER_ALGORITHMS = ("hybrid",)
# Exact algorithms whose search needs a finite D_inf: they narrow too-wide dimensions.
NARROWED_ALGORITHMS = ("pfr", "sp-pfr")
DEFAULT_BLOCK_BITS = 16.0
DEFAULT_MAX_STEPS = 2**31
MAX_MAX_STEPS = 2**62  # the kernels count steps in int64
# A block closes before its D_inf passes the KL budget by this much: PFR's steps grow as
# 2^D_inf, and dimensions with little KL can still carry most of a bit of D_inf each.
DINF_SLACK_BITS = 4.0
_MAX_ORC_LOG2 = 40
#: limits of a target against its prior, per dimension (``check_target_range``)
MAX_STD_RATIO = 2.0**32
MAX_MEAN_SIGMAS = 2.0**32


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


def _check_algorithm(algorithm):
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def _resolve_prior(target, prior):
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
        name = _dimension_name(target.shape, i)
        raise InputError(f"dimension {name}: target N({target.mean.flat[i]:.6g}, {target.std.flat[i]:.6g}^2) is too far "
                         f"from the prior N({prior.mean.flat[i]:.6g}, {prior.std.flat[i]:.6g}^2) to code: the stds "
                         f"may differ by a factor of at most 2^{int(math.log2(MAX_STD_RATIO))} and the means by at "
                         f"most 2^{int(math.log2(MAX_MEAN_SIGMAS))} prior stds")


def _dimension_name(shape, flat_index):
    return str(tuple(int(i) for i in np.unravel_index(flat_index, shape))) if len(shape) > 1 else str(flat_index)


def plan_blocks(target, prior, algorithm="pfr", block_bits=DEFAULT_BLOCK_BITS, block_dims=None,
                max_steps=DEFAULT_MAX_STEPS):
    """Validate a target against its prior and lay out its blocks.

    Args:
        target (DiagonalGaussian): Q.
        prior (DiagonalGaussian): P, the same shape.
        algorithm (str): "pfr" or "orc".
        block_bits (float): KL budget per block, used when block_dims is None.
        block_dims (int or None): fixed dimensions per block.
        max_steps (int): PFR's cap on candidates per block.
    Returns:
        tuple (layout, kl, dinf): BlockLayout and flat per-dimension KL and D_inf in bits.
    Raises:
        InputError: an empty target, a dimension with infinite D_inf under PFR, or a block
            whose D_inf would take PFR past max_steps.
    """
    _check_algorithm(algorithm)
    if target.size == 0:
        raise InputError("the target is empty")
    kl = kl_bits(target, prior).ravel()
    dinf = dinf_bits(target, prior).ravel()
    if algorithm == "pfr" and not np.isfinite(dinf).all():
        i = int(np.argmax(~np.isfinite(dinf)))
        raise InputError(
            f"dimension {_dimension_name(target.shape, i)} has D_inf = inf (target std "
            f"{target.std.flat[i]:g} >= prior std {prior.std.flat[i]:g}): exact PFR cannot stop; "
            "use --algorithm orc")
    if block_dims is not None:
        layout = layout_fixed(target.size, block_dims)
    else:
        # ORC's work is N candidates whatever D_inf is: only PFR's blocks are limited by it
        dinf_limit = block_bits + DINF_SLACK_BITS if algorithm == "pfr" else math.inf
        layout = layout_by_budget(kl, dinf, block_bits, dinf_limit)
    if algorithm == "pfr":
        block_dinf = layout.block_sums(dinf)
        worst = int(np.argmax(block_dinf))
        if block_dinf[worst] > math.log2(max_steps) - 1:
            start, length = int(layout.starts[worst]), int(layout.lengths[worst])
            advice = ("use --algorithm sp-pfr (its bins take most of the D_inf) or --algorithm orc" if length == 1
                      else "use smaller blocks (--block-bits), --algorithm sp-pfr or --algorithm orc")
            raise InputError(
                f"block {worst} (dimensions {start}..{start + length - 1}) has D_inf "
                f"{block_dinf[worst]:.1f} bits: PFR would need about 2^{block_dinf[worst]:.0f} candidates, "
                f"more than --max-steps {max_steps}; {advice}")
    return layout, kl, dinf


def default_orc_candidates(layout, kl):
    """ORC's N: 2^(budget + 2), the budget being the largest block KL rounded up.

    Raises:
        InputError: the budget passes 2^(40 - 2): no N up to 2^40 could code the block.
    """
    block_kl = layout.block_sums(kl)
    budget = math.ceil(float(block_kl.max()))
    if budget + 2 > _MAX_ORC_LOG2:
        i = int(np.argmax(block_kl))
        raise InputError(f"block {i} has KL {float(block_kl[i]):.4g} bits: ORC would need 2^{budget + 2} candidates, "
                         f"more than 2^{_MAX_ORC_LOG2}; use --algorithm sp-orc (it splits a dimension into bins) "
                         "or a wider target")
    return 2 ** max(budget + 2, 2)


def search(target, prior, seed, layout, algorithm="pfr", orc_candidates=None,
           max_steps=DEFAULT_MAX_STEPS, block_ids=None, progress=None):
    """Run the encoder's search on every block.

    Args:
        target, prior (DiagonalGaussian): Q and P.
        seed (int): shared seed.
        layout (BlockLayout): the blocks.
        algorithm (str): "pfr" or "orc".
        orc_candidates (int): ORC's N (required for "orc").
        max_steps (int): PFR's cap per block.
        block_ids (np.ndarray or None): counter field of each block (default 0..B-1).
        progress (callable or None): called as progress(blocks_done, blocks_total).
    Returns:
        tuple (indices, steps) of int64 arrays, one entry per block.
    Raises:
        InputError: when a block runs past max_steps.
    """
    # the kernels are imported here, not at the top: decoding never needs numba, and it costs
    # most of a second of start-up
    from .kernels.parallel import search_blocks

    k0, k1 = split_seed(seed)
    a, b, c, lrmax = log_ratio_coefficients(target, prior)
    starts, lengths = layout.starts, layout.lengths
    if block_ids is None:
        block_ids = np.arange(layout.num_blocks, dtype=np.int64)
    n = 0 if algorithm == "pfr" else int(orc_candidates)
    nb = layout.num_blocks
    indices, steps = run_search(nb, lambda stop, done: search_blocks(
        k0, k1, block_ids, starts, lengths, a, b, c, lrmax, n, int(max_steps), stop, done), progress)
    if (indices < 0).any():
        i = int(np.argmax(indices < 0))
        raise InputError(f"block {i} ran past --max-steps {max_steps} candidates; use a larger --max-steps, "
                         "--algorithm sp-pfr or --algorithm orc")
    return indices, steps


def candidates(seed, prior, layout, indices, block_ids=None):
    """The candidates that indices name, as a flat float64 array (the decoder's sample).

    The encoder's sample comes from this same function, so the two agree bit for bit.
    """
    if block_ids is None:
        block_ids = np.arange(layout.num_blocks, dtype=np.int64)
    z = candidate_normals(seed, block_ids, layout.lengths, indices)
    return prior.mean.ravel() + prior.std.ravel() * z


def _octaves(index_model, zipf_bits):
    if index_model is not None:
        return index_model.octave_probs
    return zipf_octave_probabilities(zipf_lambda(zipf_bits))


def _f32(x):
    return float(np.float32(x))


def _layout_model(lengths):
    return _f32(lengths.mean()), _f32(max(float(lengths.std()), 0.5))


def _layout_information_bits(lengths, mean, std):
    """Ideal bits of the coded block lengths under their quantized Gaussian model."""
    scale = 1.0 / (std * math.sqrt(2.0))
    mass = [0.5 * (math.erfc((x - 0.5 - mean) * scale) - math.erfc((x + 0.5 - mean) * scale))
            for x in lengths.tolist()]
    return float(-np.log2(np.maximum(mass, 2.0**-24)).sum())


def encode(target, seed, prior=None, algorithm="pfr", block_bits=DEFAULT_BLOCK_BITS, block_dims=None,
           orc_candidates=None, index_model=None, max_steps=DEFAULT_MAX_STEPS, progress=None, mi_profile=None,
           strict=False, **options):
    """Encode one sample of the target into a reccodec file.

    Args:
        target (DiagonalGaussian): Q, any shape.
        seed (int): shared seed in [0, 2^64); never stored in the file.
        prior (DiagonalGaussian or None): P, the target's shape; default N(0, 1).
        algorithm (str): "pfr" (exact) or "orc" (approximate, fixed candidates).
        block_bits (float): KL budget per block (contiguous dimensions grouped by KL).
        block_dims (int or None): fixed dimensions per block instead.
        orc_candidates (int or None): ORC's N; default 2^(budget + 2).
        index_model (EmpiricalIndexModel or None): index code; default Zipf.
        max_steps (int): PFR's cap on candidates per block.
        progress (callable or None): progress(blocks_done, blocks_total).
        **options: options of "hybrid" (``eps``, ``search``; see ``hybrid.encode_hybrid``) and
            of "sp-pfr" (``dinf_limit``; see ``partition.encode_partitioned``).
        mi_profile (array_like or None): per-dimension MI in bits for sp-pfr and sp-orc
            (see ``rec_codec.partition``).
        strict (bool): pfr and sp-pfr narrow a dimension too wide for exact coding
            (``rec_codec.narrowing``; the file is then marked approximate and the summary
            gives ``narrowed_dims`` and ``tv_bound``); with strict=True they refuse it.
    Returns:
        EncodeResult.
    Raises:
        InputError: invalid target, prior, seed or options.
    """
    max_steps = check_max_steps(max_steps)
    if algorithm not in NARROWED_ALGORITHMS:
        return _encode(target, seed, prior, algorithm, block_bits, block_dims, orc_candidates, index_model,
                       max_steps, progress, mi_profile, **options)
    prior = _resolve_prior(target, prior)
    std, narrowed, tv = narrow_stds(target.mean.reshape(1, -1), target.std.reshape(1, -1), prior.mean.ravel(),
                                    prior.std.ravel(), strict=strict,
                                    dim_name=lambda i: _dimension_name(target.shape, i))
    coded = DiagonalGaussian(target.mean, std.reshape(target.shape)) if narrowed[0] else target
    result = _encode(coded, seed, prior, algorithm, block_bits, block_dims, orc_candidates, index_model, max_steps,
                     progress, mi_profile, **options)
    if narrowed[0]:
        header, words = container.unpack(result.data)
        result.data = container.pack(dataclasses.replace(header, approximate=True), words)
        result.approximate = True
        result.kl_bits = float(kl_bits(target, prior).sum())
        result.extra.update(narrowed_dims=int(narrowed[0]), tv_bound=float(f"{tv[0]:.3g}"))
    return result


def _encode(target, seed, prior, algorithm, block_bits, block_dims, orc_candidates, index_model, max_steps,
            progress, mi_profile, **options):
    """``encode`` of a target that needs no narrowing."""
    if mi_profile is not None and algorithm not in SP_ALGORITHMS:
        raise InputError("--mi-profile applies to sp-pfr and sp-orc only")
    if algorithm == "hybrid":
        from .hybrid import encode_hybrid

        return encode_hybrid(target, seed, prior=prior, block_bits=block_bits, block_dims=block_dims,
                             orc_candidates=orc_candidates, index_model=index_model, max_steps=max_steps,
                             progress=progress, **options)
    if algorithm in SP_ALGORITHMS:
        from .partition import encode_partitioned

        if set(options) - {"dinf_limit"}:
            raise InputError(f"option {sorted(set(options) - {'dinf_limit'})[0]!r} does not apply to {algorithm}")
        return encode_partitioned(target, seed, prior, algorithm, block_bits, block_dims, orc_candidates,
                                  index_model, max_steps, progress, mi_profile=mi_profile, **options)
    if options:
        raise InputError(f"option {sorted(options)[0]!r} applies to --algorithm hybrid only")
    started = time.perf_counter()
    _check_algorithm(algorithm)
    split_seed(seed)
    prior = _resolve_prior(target, prior)
    if int(max_steps) < 1:
        raise InputError(f"--max-steps must be >= 1, got {max_steps}")
    layout, kl, _ = plan_blocks(target, prior, algorithm, block_bits, block_dims, max_steps)
    if algorithm == "orc":
        orc_candidates = default_orc_candidates(layout, kl) if orc_candidates is None else int(orc_candidates)
        if not 1 <= orc_candidates <= 2**_MAX_ORC_LOG2:
            raise InputError(f"--orc-candidates must be in [1, 2^{_MAX_ORC_LOG2}], got {orc_candidates}")
    indices, steps = search(target, prior, seed, layout, algorithm, orc_candidates, max_steps, progress=progress)

    block_kl = layout.block_sums(kl)
    zipf_bits = _f32(block_kl.mean())
    params = {"zipf_bits": zipf_bits}
    if algorithm == "orc":
        params["orc_candidates"] = orc_candidates
    writer = PayloadWriter()
    layout_bits = write_layout(writer, params, layout, block_dims)
    if index_model is not None:
        params["index_model"] = index_model.fingerprint()
    writer.add_indices(indices, _octaves(index_model, zipf_bits))
    words = writer.finish()
    data = container.pack(target_header(algorithm, target, seed, prior, params, algorithm == "orc"), words)
    return EncodeResult.of_file(
        data,
        started,
        sample=candidates(seed, prior, layout, indices).reshape(target.shape),
        algorithm=algorithm,
        layout=layout,
        indices=indices,
        steps=steps,
        kl_bits=float(kl.sum()),
        layout_bits=layout_bits,
        approximate=algorithm == "orc",
    )


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
    return _layout_information_bits(coded, mean, std)


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
    _check_index_model(header, index_model)
    return standard_normal_like(shape) if prior is None else prior


def _check_index_model(header, index_model):
    stored = header.params.get("index_model")
    if stored is None and index_model is not None:
        raise MismatchError("this file was coded with the Zipf index model; do not pass --index-model")
    if stored is not None and index_model is None:
        raise MismatchError(f"this file was coded with an empirical index model (fingerprint {stored:08x}); "
                            "pass the same --index-model FILE")
    if stored is not None and stored != index_model.fingerprint():
        raise MismatchError(f"the index model differs from the encoder's (fingerprint {index_model.fingerprint():08x}, "
                            f"file has {stored:08x})")


def decode(data, seed, prior=None, index_model=None, mi_profile=None, max_dims=container.MAX_DIMS):
    """Decode a reccodec file into the encoder's sample, bit for bit.

    Args:
        data (bytes): the file's content.
        seed (int): the encoder's seed.
        prior (DiagonalGaussian or None): the encoder's prior; default N(0, 1).
        index_model (EmpiricalIndexModel or None): the encoder's index model, if it used one.
        mi_profile (array_like or None): the encoder's MI profile (sp-pfr, sp-orc), if any.
        max_dims (int): the most elements a file may declare (``--max-dims``); a larger
            shape is refused before anything is allocated.
    Returns:
        np.ndarray: float64 sample of the target's shape.
    Raises:
        FormatError: corrupt, truncated or foreign data, a parameter out of range, or more
            than max_dims elements.
        MismatchError: another seed, prior or index model than the encoder's.
        InputError: a prior of the wrong shape or an invalid seed.
    """
    header, words = container.unpack(data)
    if header.algorithm in SP_ALGORITHMS:
        from .partition import decode_partitioned

        return decode_partitioned(header, words, seed, prior, index_model, mi_profile, max_dims)
    if mi_profile is not None:
        raise MismatchError("this file was coded without an MI profile; do not pass --mi-profile")
    if header.algorithm not in ALGORITHMS + OTHER_ALGORITHMS:
        raise FormatError(f"this reccodec cannot decode algorithm {header.algorithm!r} files")
    prior = decoder_prior(header, seed, prior, index_model, max_dims)
    shape = tuple(header.shape)
    num_dims = int(np.prod(shape, dtype=np.int64))
    if num_dims == 0:
        raise FormatError("the file holds an empty array")
    zipf_bits = header.params.get("zipf_bits")
    if zipf_bits is None or zipf_bits < 0:
        raise FormatError("the file lacks its index-code parameter")
    if header.algorithm == "hybrid":
        from .hybrid import decode_hybrid

        return decode_hybrid(header, words, seed, prior, index_model)
    reader = PayloadReader(words)
    layout = read_layout(header, reader, num_dims)
    indices = reader.read_indices(layout.num_blocks, _octaves(index_model, zipf_bits))
    reader.finish()
    if header.algorithm == "orc":
        limit = header.params.get("orc_candidates")
        if limit is None or (indices >= limit).any():
            raise FormatError("an ORC index is out of range: the file is corrupt")
    return candidates(seed, prior, layout, indices).reshape(shape)

