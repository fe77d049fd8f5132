"""PFR and ORC on blocks of the target against the prior itself (no partition, no window).

An algorithm module of the registry (``algorithms``): ``plan_blocks`` lays out the blocks,
``search`` runs the numba kernels over them, ``candidates`` rebuilds the chosen candidates
from the shared PRNG (the decoder's sample, bit for bit the encoder's), and ``encode`` /
``decode`` write and read the file: the block layout and the entropy-coded indices.
"""

import math
import time

import numpy as np

from . import container
from .blocks import layout_by_budget, layout_fixed
from .distributions import dinf_bits, kl_bits, log_ratio_coefficients
from .entropy import PayloadReader, PayloadWriter
from .errors import FormatError, InputError
from .file_coding import (DEFAULT_BLOCK_BITS, DEFAULT_MAX_STEPS, DINF_SLACK_BITS, MAX_ORC_LOG2, EncodeResult,
                          check_max_steps, decoder_prior, dimension_name, f32, header_dims, index_octaves,
                          read_layout, resolve_prior, target_header, write_layout, zipf_bits_param)
from .interrupts import run_search
from .pfr_numpy import search_small
from .philox_numpy import candidate_normals
from .seed import split_seed

__all__ = ["ALGORITHMS", "plan_blocks", "default_orc_candidates", "search", "candidates", "encode", "decode"]

ALGORITHMS = ("pfr", "orc")


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
        InputError: an unknown algorithm, an empty target, a dimension with infinite D_inf
            under PFR, or a block whose D_inf would take PFR past max_steps.
    """
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if target.size == 0:
        raise InputError("the target is empty")
    kl = kl_bits(target, prior).ravel()
    dinf = dinf_bits(target, prior).ravel()
    if algorithm == "pfr" and not np.isfinite(dinf).all():
        i = int(np.argmax(~np.isfinite(dinf)))
        raise InputError(
            f"dimension {dimension_name(target.shape, i)} has D_inf = inf (target std "
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
    if budget + 2 > MAX_ORC_LOG2:
        i = int(np.argmax(block_kl))
        raise InputError(f"block {i} has KL {float(block_kl[i]):.4g} bits: ORC would need 2^{budget + 2} candidates, "
                         f"more than 2^{MAX_ORC_LOG2}; use --algorithm sp-orc (it splits a dimension into bins) "
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
        Interrupted: SIGINT or SIGTERM arrived (``interrupts``).
    """
    k0, k1 = split_seed(seed)
    a, b, c, lrmax = log_ratio_coefficients(target, prior)
    starts, lengths = layout.starts, layout.lengths
    nb = layout.num_blocks
    if block_ids is None:
        block_ids = np.arange(nb, dtype=np.int64)
    if algorithm == "pfr":
        # a small job is searched in numpy and never loads numba (``pfr_numpy``: same indices)
        indices, steps, finished = search_small(seed, layout, block_ids, a, b, c, lrmax, max_steps,
                                                progress=progress)
        left = np.flatnonzero(~finished)
        if left.shape[0] > 0:
            _search_left(k0, k1, block_ids[left], starts[left], lengths[left], (a, b, c, lrmax), max_steps, left,
                         indices, steps, progress)
    else:
        # the kernels are imported here, not at the top: decoding never needs numba, and it
        # costs most of a second of start-up
        from .kernels.block_search import orc_blocks

        indices = np.empty(nb, dtype=np.int64)
        steps = np.empty(nb, dtype=np.int64)
        run_search(nb, lambda lo, hi, stop, done: orc_blocks(
            k0, k1, block_ids, starts, lengths, a, b, c, lrmax, int(orc_candidates), stop, done, lo, hi, indices,
            steps), progress)
    if (indices < 0).any():
        i = int(np.argmax(indices < 0))
        raise InputError(f"block {i} ran past --max-steps {max_steps} candidates; use a larger --max-steps, "
                         "--algorithm sp-pfr or --algorithm orc")
    return indices, steps


def _search_left(k0, k1, block_ids, starts, lengths, coefficients, max_steps, where, indices, steps, progress):
    """PFR's kernel on the blocks that ``pfr_numpy.search_small`` left (positions ``where``)."""
    from .kernels.block_search import pfr_blocks  # numba: only when a job is not small

    count = where.shape[0]
    k0s, k1s = np.full(count, k0), np.full(count, k1)
    found = np.empty(count, dtype=np.int64)
    drawn = np.empty(count, dtype=np.int64)
    total, before = indices.shape[0], indices.shape[0] - count
    run_search(count, lambda lo, hi, stop, done: pfr_blocks(
        k0s, k1s, block_ids, starts, lengths, *coefficients, int(max_steps), stop, done, lo, hi, found, drawn),
        None if progress is None else lambda done, _: progress(before + done, total))
    indices[where] = found
    steps[where] = drawn


def candidates(seed, prior, layout, indices, block_ids=None):
    """The candidates that indices name, as a flat float64 array (the decoder's sample).

    The encoder's sample comes from this same function, so the two agree bit for bit.
    """
    if block_ids is None:
        block_ids = np.arange(layout.num_blocks, dtype=np.int64)
    z = candidate_normals(seed, block_ids, layout.lengths, indices)
    return prior.mean.ravel() + prior.std.ravel() * z


def encode(algorithm, target, seed, prior, block_bits=DEFAULT_BLOCK_BITS, block_dims=None, orc_candidates=None,
           index_model=None, max_steps=DEFAULT_MAX_STEPS, progress=None):
    """Encode one sample of the target with PFR (exact) or ORC (approximate); arguments as
    ``codec.encode``. Returns an EncodeResult."""
    started = time.perf_counter()
    split_seed(seed)
    prior = resolve_prior(target, prior)
    check_max_steps(max_steps)
    layout, kl, _ = plan_blocks(target, prior, algorithm, block_bits, block_dims, max_steps)
    if algorithm == "orc":
        orc_candidates = default_orc_candidates(layout, kl) if orc_candidates is None else int(orc_candidates)
        if not 1 <= orc_candidates <= 2**MAX_ORC_LOG2:
            raise InputError(f"--orc-candidates must be in [1, 2^{MAX_ORC_LOG2}], got {orc_candidates}")
    indices, steps = search(target, prior, seed, layout, algorithm, orc_candidates, max_steps, progress=progress)

    zipf_bits = f32(layout.block_sums(kl).mean())
    params = {"zipf_bits": zipf_bits}
    if algorithm == "orc":
        params["orc_candidates"] = orc_candidates
    writer = PayloadWriter()
    layout_bits = write_layout(writer, params, layout, block_dims)
    if index_model is not None:
        params["index_model"] = index_model.fingerprint()
    writer.add_indices(indices, index_octaves(index_model, zipf_bits))
    data = container.pack(target_header(algorithm, target, seed, prior, params, algorithm == "orc"), writer.finish())
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


def decode(header, words, seed, prior, index_model=None, max_dims=container.MAX_DIMS):
    """Decode the payload of a pfr or orc file into the encoder's sample, bit for bit;
    arguments as ``codec.decode`` after ``container.unpack``."""
    prior = decoder_prior(header, seed, prior, index_model, max_dims)
    num_dims = header_dims(header)
    zipf_bits = zipf_bits_param(header)
    reader = PayloadReader(words)
    layout = read_layout(header, reader, num_dims)
    indices = reader.read_indices(layout.num_blocks, index_octaves(index_model, zipf_bits))
    reader.finish()
    if header.algorithm == "orc":
        limit = header.params.get("orc_candidates")
        if limit is None or (indices >= limit).any():
            raise FormatError("an ORC index is out of range: the file is corrupt")
    return candidates(seed, prior, layout, indices).reshape(tuple(header.shape))
