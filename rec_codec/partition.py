"""Space-partitioned REC (SP-PFR, SP-ORC): intervals per dimension, encode and decode.

He, Flamich & Hernandez-Lobato, "Accelerating relative entropy coding with space
partitioning", NeurIPS 2024; the kernels are in ``kernels/partition.py``. A block of d
dimensions is cut into J = prod_d J_d bins of equal prior mass; the encoder searches the
bins reweighted by how much the target favours them, and the file carries the bin (each
k_d coded with Uniform(J_d), since under the marginal of the targets it is uniform) and the
local index m within the bin (the Zipf law with the budget KL - log2 J, or an empirical
index model).

**Intervals follow mutual information.** log2 J_d of a block is its share of
``log2 J = sum(MI) - margin`` in proportion to the dimension's MI (bits), rounded to an
integer J_d in [1, 2^16]; a dimension of zero MI gets one interval, i.e. none. Both sides
must derive the J_d:

- with an MI profile (``--mi-profile PROFILE.npy``, per-dimension expected KL in bits held
  by both sides like the prior), the J_d and the block layout come from the profile and
  cost no bits; the header keeps the profile's CRC32 so a decoder with another one
  refuses;
- without one, the encoder uses the target's own KL per dimension, rounds each J_d to a
  power of two and codes the exponents in the payload (a quantized Gaussian, its two
  parameters in the header); those bits are counted in the file and reported as
  ``partition_bits``.

The margin (default 2 bits) keeps log2 J a little below the block KL, where the local
index costs about log2(KL - log2 J + 1) + 1 bits beyond it.

**Blocks too slow for SP-PFR are halved.** SP-PFR needs about 2^D_inf(Q||P') candidates
per block, and D_inf(Q||P') is not set by the block's KL alone: every dimension keeps part
of its D_inf over its KL inside its bin (about 0.72 bits for a narrow Gaussian posterior
against N(0, 1)), and a dimension near the prior has D_inf of order one nat with no KL at
all. So a block whose D_inf(Q||P') passes ``dinf_limit`` (default 20 bits) is cut in two
halves by dimension count, and each half is judged again with its own bins. The decoder
replays the cuts from one flag per visited block of two or more dimensions (1 halved, 0
kept), coded with a Bernoulli law per depth whose parameters are in the header; without a
profile the cuts are simply part of the coded layout.
"""

import math
import numbers
import time
import zlib

import numpy as np

from . import container, sp_numpy
from .blocks import apply_halvings, halve_blocks, layout_by_budget, layout_fixed
from .distributions import DiagonalGaussian, kl_bits, log_ratio_coefficients, standard_normal_like
from .entropy import PayloadReader, PayloadWriter
from .errors import FormatError, InputError, MismatchError
from .file_coding import (EncodeResult, check_max_steps, decoder_prior, dimension_name, f32, index_octaves,
                          quantized_gaussian_bits, read_layout, resolve_prior, target_header, write_layout)
from .interrupts import run_search
from .rebuild import sp_candidate_values  # numpy: decoding needs no numba
from .seed import split_seed

__all__ = [
    "SP_ALGORITHMS",
    "DEFAULT_MARGIN_BITS",
    "DEFAULT_DINF_LIMIT_BITS",
    "MAX_DIM_BIN_BITS",
    "allocate_bins",
    "check_mi_profile",
    "load_mi_profile",
    "mi_profile_from_batch",
    "profile_fingerprint",
    "encoder_tables",
    "partitioned_dinf_bits",
    "encode_partitioned",
    "decode_partitioned",
    "read_partitioned",
    "sample_values",
    "encode",
    "decode",
]

SP_ALGORITHMS = ("sp-pfr", "sp-orc")

DEFAULT_MARGIN_BITS = 2.0
DEFAULT_DINF_LIMIT_BITS = 20.0
MAX_DIM_BIN_BITS = 16
MAX_BLOCK_BIN_BITS = 60
_LN2 = math.log(2.0)
_MAX_ORC_LOG2 = 40


# --------------------------------------------------------------------------- MI profiles


def check_mi_profile(profile, shape, name="the MI profile"):
    """A flat float64 copy of an MI profile after checking it against the target's shape.

    Args:
        profile (array_like): per-dimension expected KL in bits.
        shape (tuple): the target's shape.
        name (str): what to call it in messages.
    Returns:
        np.ndarray: float64, flat.
    Raises:
        InputError: a wrong shape, a non-numeric array, NaN, infinite or negative entries.
    """
    try:
        array = np.asarray(profile)
    except Exception:
        raise InputError(f"{name} must be a numeric array") from None
    if array.dtype.kind not in "fiu":
        raise InputError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if tuple(array.shape) != tuple(shape):
        raise InputError(f"{name} has shape {tuple(array.shape)} but the target has shape {tuple(shape)}")
    flat = np.array(array, dtype=np.float64).ravel()
    bad = ~np.isfinite(flat)
    if bad.any():
        raise InputError(f"{name} has a NaN or infinite entry at flat index {int(np.argmax(bad))}")
    if (flat < 0).any():
        i = int(np.argmax(flat < 0))
        raise InputError(f"{name} has a negative entry at flat index {i} ({flat[i]:g}); MI is >= 0 bits")
    return flat


def load_mi_profile(path):
    """Read an MI profile from an ``.npy`` file (a float array, the target's shape).

    Raises:
        InputError: a missing or unreadable file, not an .npy array.
    """
    data = container.read_file(path)
    import io

    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise InputError(f"{path}: not a readable .npy file ({type(e).__name__}: {e})") from None
    if not isinstance(array, np.ndarray):
        raise InputError(f"{path}: expected an .npy array of per-dimension MI in bits, got an .npz archive")
    if array.dtype.kind not in "fiu":
        raise InputError(f"{path}: the MI profile must be numeric, got dtype {array.dtype}")
    return array


def mi_profile_from_batch(train, prior=None):
    """Per-dimension mean KL (bits) of a batch of targets: an estimate of the MI profile.

    For exact posteriors against the marginal prior, E_x KL(q(z|x)||p(z)) = I(X; Z_d).

    Args:
        train (DiagonalGaussian): shape (N, *shape).
        prior (DiagonalGaussian or None): shape ``shape``; default N(0, 1).
    Returns:
        np.ndarray: float64 of shape ``shape``.
    """
    if train.mean.ndim < 2 or train.shape[0] < 1:
        raise InputError(f"training targets need a leading batch axis, shape (N, ...), got {train.shape}")
    shape = train.shape[1:]
    prior = standard_normal_like(shape) if prior is None else prior
    if prior.shape != shape:
        raise InputError(f"training targets have shape {shape} but the prior has shape {prior.shape}")
    tiled = DiagonalGaussian(np.broadcast_to(prior.mean, train.shape), np.broadcast_to(prior.std, train.shape))
    return kl_bits(train, tiled).mean(axis=0)


def profile_fingerprint(flat_profile):
    """CRC32 of the profile's little-endian float64 bytes (stored in the header)."""
    return zlib.crc32(np.ascontiguousarray(flat_profile, dtype="<f8").tobytes()) & 0xFFFFFFFF


# --------------------------------------------------------------------------- allocation


def allocate_bins(weights, layout, margin_bits=DEFAULT_MARGIN_BITS, powers_of_two=False):
    """J_d of every dimension: log2 J of a block shared out in proportion to the weights.

    log2 J of a block is ``sum(weights) - margin_bits``, clipped to [0, 60]; dimension d
    gets ``share_d = log2 J * w_d / sum(w)`` and J_d = round(2^share_d) in [1, 2^16]
    (or 2^round(share_d) with ``powers_of_two``). A weight of 0 gives J_d = 1.

    Args:
        weights (np.ndarray): flat per-dimension MI (or KL) in bits, >= 0.
        layout (BlockLayout): the blocks.
        margin_bits (float): bits kept between the block's total weight and log2 J.
        powers_of_two (bool): round the exponents instead of J_d.
    Returns:
        np.ndarray: int64 J_d, flat.
    """
    w = np.maximum(np.asarray(weights, dtype=np.float64).ravel(), 0.0)
    totals = layout.block_sums(w)
    budget = np.clip(totals - float(margin_bits), 0.0, MAX_BLOCK_BIN_BITS)
    per_dim_total = np.repeat(totals, layout.lengths)
    per_dim_budget = np.repeat(budget, layout.lengths)
    share = np.zeros_like(w)
    live = per_dim_total > 0
    share[live] = per_dim_budget[live] * w[live] / per_dim_total[live]
    share = np.minimum(share, MAX_DIM_BIN_BITS)
    if powers_of_two:
        return (np.int64(1) << np.round(share).astype(np.int64)).astype(np.int64)
    return np.clip(np.round(np.exp2(share)), 1, 2**MAX_DIM_BIN_BITS).astype(np.int64)


def _strides(nbins, layout, error=InputError):
    """Mixed-radix stride of each dimension within its block (j = sum k_d stride_d).

    Raises:
        ``error`` (InputError by default; the decoder passes FormatError): a block has
            2^62 bins or more.
    """
    strides = np.ones(nbins.shape[0], dtype=np.int64)
    for s, n in zip(layout.starts.tolist(), layout.lengths.tolist()):
        acc = 1
        for k in range(s, s + n):
            strides[k] = acc
            acc *= int(nbins[k])
            if acc >= 2**62:
                raise error(f"the block at dimension {s} has 2^{math.log2(acc):.0f} bins or more; at most 2^62 fit")
    return strides


def encoder_tables(target, prior, nbins):
    """The encoder's bin tables: (a, b, c, tstart, offset, cum, lrmax_p), all flat.

    lrmax_p is r'_max per dimension in nats; sum over a block / ln 2 is D_inf(Q||P').
    """
    a, b, c, lrmax = log_ratio_coefficients(target, prior)
    tstart = np.concatenate(([0], np.cumsum(nbins)[:-1])).astype(np.int64)
    if int(nbins.sum()) <= sp_numpy.SMALL_TABLES:  # the kernel's tables in Python: no numba for small jobs
        offset, cum, lrmax_p = sp_numpy.bin_tables(a, b, c, lrmax, nbins, tstart)
    else:
        from .kernels.partition import bin_tables  # numba

        offset, cum, lrmax_p = np.empty(int(nbins.sum())), np.empty(int(nbins.sum())), np.empty(nbins.shape[0])
        bin_tables(a, b, c, lrmax, nbins, tstart, offset, cum, lrmax_p)
    return a, b, c, tstart, offset, cum, lrmax_p


def partitioned_dinf_bits(target, prior, nbins, layout):
    """D_inf(Q||P') of each block in bits, for bins nbins and supremum weights."""
    *_, lrmax_p = encoder_tables(target.flat(), prior.flat(), np.asarray(nbins, dtype=np.int64))
    return layout.block_sums(lrmax_p) / _LN2


# --------------------------------------------------------------------------- encode


def _plan(target_kl, shape, flat_profile, block_bits, block_dims):
    """The layout before any halving."""
    n = target_kl.shape[0]
    if block_dims is not None:
        return layout_fixed(n, block_dims)
    weights = flat_profile if flat_profile is not None else target_kl
    return layout_by_budget(weights, np.zeros(n), block_bits, math.inf)


def _bins_for(layout, flat_profile, target_kl, margin_bits):
    """J_d for a layout: from the profile, or powers of two from the target's KL (coded)."""
    if flat_profile is not None:
        return allocate_bins(flat_profile, layout, margin_bits)
    return allocate_bins(target_kl, layout, margin_bits, powers_of_two=True)


_HALVING_LEVELS = 8


def _halving_code(flags, depths):
    """P(halved) per depth, quantized to q/256 with q in [1, 255], packed one byte a depth
    (depth 0 in the low byte; depths past the last byte use the last) into one integer."""
    levels = min(int(depths.max()) + 1 if depths.size else 1, _HALVING_LEVELS)
    code = 0
    for level in range(levels):
        chosen = flags[np.minimum(depths, levels - 1) == level]
        p = float(chosen.mean()) if chosen.size else 0.5
        code |= min(max(int(round(256 * p)), 1), 255) << (8 * level)
    return code


def _halving_table(code):
    """(levels, 2) probabilities of kept/halved per depth, from ``_halving_code``'s integer."""
    quantized = []
    while code:
        quantized.append(code & 0xFF)
        code >>= 8
    if not 1 <= len(quantized) <= _HALVING_LEVELS or 0 in quantized:
        raise FormatError("the file's block halving parameter is out of range: the file is corrupt")
    p = np.array(quantized, dtype=np.float64) / 256.0
    return np.stack([1.0 - p, p], axis=1)


def _search(target, prior, seed, layout, nbins, num_candidates, max_steps, progress):
    k0, k1 = split_seed(seed)
    a, b, c, tstart, offset, cum, lrmax_p = encoder_tables(target, prior, nbins)
    strides = _strides(nbins, layout)
    starts, lengths = layout.starts, layout.lengths
    block_ids = np.arange(layout.num_blocks, dtype=np.int64)
    nb = layout.num_blocks
    bins = np.zeros(nbins.shape[0], dtype=np.int64)
    local = np.empty(nb, dtype=np.int64)
    steps = np.empty(nb, dtype=np.int64)
    left = np.arange(nb)
    if num_candidates == 0:  # SP-PFR: a small job is searched in numpy (``sp_numpy``: same results)
        local, steps, finished = sp_numpy.search_small((k0, k1), block_ids, starts, lengths, a, b, c, nbins, strides,
                                                       tstart, offset, cum, lrmax_p, max_steps, bins,
                                                       progress=progress)
        left = np.flatnonzero(~finished)
    if left.shape[0] > 0:
        from .kernels.partition import sp_search_blocks  # numba: only for jobs that are not small

        found = np.empty(left.shape[0], dtype=np.int64)
        drawn = np.empty(left.shape[0], dtype=np.int64)
        done_before = nb - left.shape[0]
        run_search(left.shape[0], lambda lo, hi, stop, done: sp_search_blocks(
            k0, k1, block_ids[left], starts[left], lengths[left], a, b, c, nbins, strides, tstart, offset, cum,
            lrmax_p, int(num_candidates), int(max_steps), bins, stop, done, lo, hi, found, drawn),
            None if progress is None else lambda done, _: progress(done_before + done, nb))
        local[left], steps[left] = found, drawn
    return bins, local, steps, strides, layout.block_sums(lrmax_p) / _LN2


def sample_values(seed, prior, layout, nbins, bins, local):
    """The candidates that (bins, local) name, flat: what the decoder returns."""
    return sp_candidate_values(seed, np.arange(layout.num_blocks, dtype=np.int64), layout.starts, layout.lengths,
                               nbins, _strides(nbins, layout), bins, local, prior.mean.ravel(), prior.std.ravel())


def _exponent_model(exponents):
    return f32(exponents.mean()), f32(max(float(exponents.std()), 0.5))


def encode_partitioned(target, seed, prior=None, algorithm="sp-pfr", block_bits=32.0, block_dims=None,
                       orc_candidates=None, index_model=None, max_steps=2**31, progress=None, mi_profile=None,
                       margin_bits=DEFAULT_MARGIN_BITS, dinf_limit=DEFAULT_DINF_LIMIT_BITS):
    """Encode one sample of the target with SP-PFR (exact) or SP-ORC (approximate).

    Args:
        target, seed, prior, block_bits, block_dims, index_model, max_steps, progress: as
            ``codec.encode``.
        algorithm (str): "sp-pfr" or "sp-orc".
        orc_candidates (int or None): SP-ORC's N; default 2^(budget - log2 J + 4), at least 16.
        mi_profile (array_like or None): per-dimension MI in bits, the target's shape.
        margin_bits (float): log2 J of a block is its MI (or KL) less this.
        dinf_limit (float or None): SP-PFR halves blocks whose D_inf(Q||P') passes this
            many bits; None (or inf) never halves. SP-ORC ignores it.
    Returns:
        EncodeResult, with extra figures ``bin_bits``, ``partition_bits``,
        ``halving_bits`` (the flags' bits), ``halved_blocks`` and ``dinf_partitioned_bits``
        (mean D_inf(Q||P') per block).
    Raises:
        InputError: invalid input or options, an unbounded ratio under SP-PFR, or a block
            whose D_inf(Q||P') would take SP-PFR past max_steps.
    """
    started = time.perf_counter()
    if algorithm not in SP_ALGORITHMS:
        raise InputError(f"unknown partitioned algorithm {algorithm!r}; choose one of {', '.join(SP_ALGORITHMS)}")
    split_seed(seed)
    prior = resolve_prior(target, prior)
    if target.size == 0:
        raise InputError("the target is empty")
    check_max_steps(max_steps)
    if not (math.isfinite(margin_bits) and margin_bits >= 0):
        raise InputError(f"the partition margin must be a finite number of bits >= 0, got {margin_bits}")
    if dinf_limit is None:
        dinf_limit = math.inf
    if isinstance(dinf_limit, bool) or not isinstance(dinf_limit, numbers.Real) or not dinf_limit > 0:
        raise InputError(f"--sp-dinf-limit must be a number of bits > 0, got {dinf_limit!r}")
    flat_profile = None if mi_profile is None else check_mi_profile(mi_profile, target.shape)
    kl = kl_bits(target, prior).ravel()
    if algorithm == "sp-pfr":
        _, _, _, lrmax = log_ratio_coefficients(target, prior)
        if not np.isfinite(lrmax).all():
            i = int(np.argmax(~np.isfinite(lrmax)))
            raise InputError(
                f"dimension {dimension_name(target.shape, i)} has D_inf = inf (target std "
                f"{target.std.flat[i]:g} >= prior std {prior.std.flat[i]:g}): exact SP-PFR cannot stop; "
                "use --algorithm sp-orc")
    layout = _plan(kl, target.shape, flat_profile, block_bits, block_dims)
    flat_target, flat_prior = target.flat(), prior.flat()
    halvings = depths = np.zeros(0, dtype=np.int64)
    halving = algorithm == "sp-pfr" and math.isfinite(dinf_limit)
    if halving:
        layout, halvings, depths = halve_blocks(
            layout, lambda lay: partitioned_dinf_bits(flat_target, flat_prior,
                                                      _bins_for(lay, flat_profile, kl, margin_bits), lay),
            dinf_limit)
    nbins = _bins_for(layout, flat_profile, kl, margin_bits)
    log2_bins = layout.block_sums(np.log2(nbins))
    block_kl = layout.block_sums(kl)
    zipf_bits = f32(np.maximum(block_kl - log2_bins, 0.0).mean())
    num_candidates = 0
    if algorithm == "sp-orc":
        if orc_candidates is None:
            left = np.maximum(block_kl - log2_bins, 0.0)
            budget = math.ceil(float(left.max()))
            if budget + 4 > _MAX_ORC_LOG2:
                i = int(np.argmax(left))
                raise InputError(f"block {i} has {float(left[i]):.4g} bits of KL past its bins: SP-ORC would need "
                                 f"2^{budget + 4} candidates, more than 2^{_MAX_ORC_LOG2}: the target is too far from the prior")
            orc_candidates = 2 ** max(budget + 4, 4)
        num_candidates = int(orc_candidates)
        if not 1 <= num_candidates <= 2**_MAX_ORC_LOG2:
            raise InputError(f"--orc-candidates must be in [1, 2^{_MAX_ORC_LOG2}], got {num_candidates}")
    else:
        *_, lrmax_p = encoder_tables(flat_target, flat_prior, nbins)
        block_dinf = layout.block_sums(lrmax_p) / _LN2
        worst = int(np.argmax(block_dinf))
        if block_dinf[worst] > math.log2(max_steps) - 1:
            start = int(layout.starts[worst])
            raise InputError(
                f"block {worst} (dimensions {start}..{start + int(layout.lengths[worst]) - 1}) has D_inf(Q||P') "
                f"{block_dinf[worst]:.1f} bits: SP-PFR would need about 2^{block_dinf[worst]:.0f} candidates, more "
                f"than --max-steps {max_steps}; use smaller blocks" + ("" if halving else ", --sp-dinf-limit")
                + ("" if flat_profile is not None else ", an MI profile") + " or --algorithm sp-orc")
    bins, local, steps, _, block_dinf = _search(flat_target, flat_prior, seed, layout, nbins, num_candidates,
                                                 max_steps, progress)
    if (local < 0).any():
        i = int(np.argmax(local < 0))
        raise InputError(f"block {i} ran past --max-steps {max_steps} candidates; "
                         "use smaller blocks or --algorithm sp-orc")

    params = {"zipf_bits": zipf_bits}
    if num_candidates:
        params["orc_candidates"] = num_candidates
    writer = PayloadWriter()
    layout_bits = 0.0
    partition_bits = 0.0
    halving_bits = 0.0
    layout_known = block_dims is not None or flat_profile is not None
    if block_dims is not None:
        params["block_dims"] = int(block_dims)
    elif flat_profile is not None:
        params["block_bits"] = f32(block_bits)
    else:
        layout_bits = write_layout(writer, params, layout, None)
    if halving and layout_known:
        params["sp_halving"] = _halving_code(halvings, depths)
        table = _halving_table(params["sp_halving"])
        rows = table[np.minimum(depths, len(table) - 1)]
        writer.add_categorical(halvings, rows)
        halving_bits = float(-np.log2(rows[np.arange(halvings.size), halvings]).sum())
    if flat_profile is not None:
        params["sp_margin_bits"] = f32(margin_bits)
        params["mi_profile"] = profile_fingerprint(flat_profile)
    else:
        exponents = np.log2(nbins).round().astype(np.int64)
        mean, std = _exponent_model(exponents)
        params["sp_exp_mean"], params["sp_exp_std"] = mean, std
        writer.add_quantized_gaussian(exponents, 0, MAX_DIM_BIN_BITS, mean, std)
        partition_bits = quantized_gaussian_bits(exponents, mean, std)
    if index_model is not None:
        params["index_model"] = index_model.fingerprint()
    split = nbins > 1
    writer.add_uniform(bins[split], nbins[split])
    writer.add_indices(local, index_octaves(index_model, zipf_bits))
    words = writer.finish()
    data = container.pack(target_header(algorithm, target, seed, prior, params, algorithm == "sp-orc"), words)
    result = EncodeResult.of_file(
        data,
        started,
        sample=sample_values(seed, flat_prior, layout, nbins, bins, local).reshape(target.shape),
        algorithm=algorithm,
        layout=layout,
        indices=local,
        steps=steps,
        kl_bits=float(kl.sum()),
        layout_bits=layout_bits,
        approximate=algorithm == "sp-orc",
        extra={
            "bin_bits": round(float(log2_bins.sum()), 3),
            "partition_bits": round(partition_bits, 3),
            "halving_bits": round(halving_bits, 3),
            "halved_blocks": int(halvings.sum()),
            "dinf_partitioned_bits": round(float(block_dinf.mean()), 3),
        },
    )
    result.bins, result.nbins = bins, nbins  # the chosen bin of each dimension and J_d
    return result


# --------------------------------------------------------------------------- decode


def decode_partitioned(header, words, seed, prior=None, index_model=None, mi_profile=None,
                       max_dims=container.MAX_DIMS):
    """Decode the payload of an SP-PFR or SP-ORC file (its header already unpacked).

    Args:
        header (container.Header), words (np.ndarray): from ``container.unpack``.
        seed, prior, index_model, max_dims: as ``codec.decode``.
        mi_profile (array_like or None): the encoder's MI profile, if it used one.
    Returns:
        np.ndarray: the encoder's sample, bit for bit.
    Raises:
        FormatError, MismatchError, InputError: as ``codec.decode``; MismatchError also for
            a missing or different MI profile.
    """
    prior, layout, nbins, bins, local = _read_fields(header, words, seed, prior, index_model, mi_profile, max_dims)
    return sample_values(seed, prior.flat(), layout, nbins, bins, local).reshape(tuple(header.shape))


def _read_fields(header, words, seed, prior, index_model, mi_profile, max_dims=container.MAX_DIMS):
    prior = decoder_prior(header, seed, prior, index_model, max_dims)
    shape = tuple(header.shape)
    params = header.params
    num_dims = int(np.prod(shape, dtype=np.int64))
    if num_dims == 0:
        raise FormatError("the file holds an empty array")
    stored = params.get("mi_profile")
    if stored is None and mi_profile is not None:
        raise MismatchError("this file was coded without an MI profile; do not pass --mi-profile")
    if stored is not None and mi_profile is None:
        raise MismatchError(f"this file was coded with an MI profile (CRC32 {stored:08x}); pass the same --mi-profile")
    flat_profile = None
    if mi_profile is not None:
        flat_profile = check_mi_profile(mi_profile, shape)
        if profile_fingerprint(flat_profile) != stored:
            raise MismatchError(f"the MI profile differs from the encoder's (CRC32 "
                                f"{profile_fingerprint(flat_profile):08x}, file has {stored:08x})")
    zipf_bits = params.get("zipf_bits")
    if zipf_bits is None or zipf_bits < 0:
        raise FormatError("the file lacks its index-code parameter")
    reader = PayloadReader(words)
    if flat_profile is not None and "block_dims" not in params:
        block_bits = params.get("block_bits")
        if block_bits is None or not block_bits > 0:
            raise FormatError("the file lacks its block budget")
        layout = layout_by_budget(flat_profile, np.zeros(num_dims), block_bits, math.inf)
    else:
        layout = read_layout(header, reader, num_dims)
    if "sp_halving" in params:
        if not ("block_dims" in params or flat_profile is not None):
            raise FormatError("the file has block halvings but a coded layout: the file is corrupt")
        table = _halving_table(params["sp_halving"])
        layout = apply_halvings(
            layout, lambda depth: int(reader.read_categorical(1, table[min(depth, len(table) - 1)])[0]))
    if flat_profile is not None:
        margin = params.get("sp_margin_bits")
        if margin is None or margin < 0:
            raise FormatError("the file lacks its partition margin")
        nbins = allocate_bins(flat_profile, layout, margin)
    else:
        if "sp_exp_mean" not in params or "sp_exp_std" not in params:
            raise FormatError("the file lacks its partition parameters")
        exponents = reader.read_quantized_gaussian(num_dims, 0, MAX_DIM_BIN_BITS, params["sp_exp_mean"],
                                                   params["sp_exp_std"])
        nbins = (np.int64(1) << exponents).astype(np.int64)
    _strides(nbins, layout, FormatError)
    split = nbins > 1
    bins = np.zeros(num_dims, dtype=np.int64)
    bins[split] = reader.read_uniform(nbins[split])
    local = reader.read_indices(layout.num_blocks, index_octaves(index_model, zipf_bits))
    reader.finish()
    if header.algorithm == "sp-orc":
        limit = params.get("orc_candidates")
        if limit is None or (local >= limit).any():
            raise FormatError("an SP-ORC index is out of range: the file is corrupt")
    return prior, layout, nbins, bins, local


def read_partitioned(data, seed, prior=None, index_model=None, mi_profile=None):
    """The decoder's view of a file: (layout, nbins, bins, local), without the sample."""
    header, words = container.unpack(data)
    if header.algorithm not in SP_ALGORITHMS:
        raise FormatError(f"not a space-partitioned file (algorithm {header.algorithm!r})")
    return _read_fields(header, words, seed, prior, index_model, mi_profile)[1:]


def encode(algorithm, target, seed, prior, block_bits=32.0, block_dims=None, orc_candidates=None, index_model=None,
           max_steps=2**31, progress=None, mi_profile=None, margin_bits=DEFAULT_MARGIN_BITS,
           dinf_limit=DEFAULT_DINF_LIMIT_BITS):
    """The registry's entry (``algorithms``): ``encode_partitioned``."""
    return encode_partitioned(target, seed, prior, algorithm, block_bits, block_dims, orc_candidates, index_model,
                              max_steps, progress, mi_profile=mi_profile, margin_bits=margin_bits,
                              dinf_limit=dinf_limit)


def decode(header, words, seed, prior, index_model=None, mi_profile=None, max_dims=container.MAX_DIMS):
    """The registry's entry (``algorithms``): ``decode_partitioned``."""
    return decode_partitioned(header, words, seed, prior, index_model, mi_profile, max_dims)
