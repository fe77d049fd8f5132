"""Encode a diagonal Gaussian target into a reccodec file, and decode it back.

The front door of every algorithm: ``encode`` checks what all algorithms share, narrows a
too-wide dimension for the exact ones (``narrowing``), and hands the target to the
algorithm's module through the registry (``algorithms``); ``decode`` unpacks the container
and hands the header and payload to the module named by the file's algorithm. The modules
plan blocks, search, code their parameters and indices, and rebuild the decoder's sample
from the shared PRNG, bit for bit the encoder's.
"""

import dataclasses

from . import algorithms, container
from .block_rec import candidates, default_orc_candidates, plan_blocks, search
from .distributions import DiagonalGaussian, kl_bits
from .errors import FormatError, InputError, MismatchError
from .file_coding import (DEFAULT_BLOCK_BITS, DEFAULT_MAX_STEPS, DINF_SLACK_BITS, MAX_MAX_STEPS, MAX_MEAN_SIGMAS,
                          MAX_STD_RATIO, EncodeResult, check_max_steps, check_target_range, decoder_prior,
                          dimension_name, read_layout, resolve_prior, target_header, write_layout)
from .narrowing import narrow_stds

__all__ = [
    "ALGORITHMS",
    "DEFAULT_BLOCK_BITS",
    "DEFAULT_MAX_STEPS",
    "DINF_SLACK_BITS",
    "MAX_MAX_STEPS",
    "MAX_STD_RATIO",
    "MAX_MEAN_SIGMAS",
    "check_max_steps",
    "check_target_range",
    "EncodeResult",
    "NARROWED_ALGORITHMS",
    "SP_ALGORITHMS",
    "plan_blocks",
    "search",
    "candidates",
    "encode",
    "decode",
    "default_orc_candidates",
    "decoder_prior",
    "read_layout",
    "target_header",
    "write_layout",
]

ALGORITHMS = algorithms.NAMES
# Space-partitioned algorithms: they take an MI profile.
SP_ALGORITHMS = tuple(a.name for a in algorithms.REGISTRY.values() if a.takes_mi_profile)
# Exact algorithms whose search needs a finite D_inf: they narrow too-wide dimensions.
NARROWED_ALGORITHMS = tuple(a.name for a in algorithms.REGISTRY.values() if a.narrows)


def encode(target, seed, prior=None, algorithm="pfr", block_bits=DEFAULT_BLOCK_BITS, block_dims=None,
           orc_candidates=None, index_model=None, max_steps=DEFAULT_MAX_STEPS, progress=None, mi_profile=None,
           strict=False, **options):
    """Encode one sample of the target into a reccodec file.

    Args:
        target (DiagonalGaussian): Q, any shape.
        seed (int): shared seed in [0, 2^64); never stored in the file.
        prior (DiagonalGaussian or None): P, the target's shape; default N(0, 1).
        algorithm (str): a name of ``algorithms.NAMES``: "pfr" (exact), "orc" (approximate,
            fixed candidates), "sp-pfr", "sp-orc" (space partitioned) or "hybrid".
        block_bits (float): KL budget per block (contiguous dimensions grouped by KL).
        block_dims (int or None): fixed dimensions per block instead.
        orc_candidates (int or None): ORC's N; default 2^(budget + 2).
        index_model (EmpiricalIndexModel or None): index code; default Zipf.
        max_steps (int): PFR's cap on candidates per block.
        progress (callable or None): progress(blocks_done, blocks_total).
        **options: the algorithm's own options (``algorithms.REGISTRY[algorithm].options``):
            hybrid's ``eps`` and ``search`` (``hybrid.encode_hybrid``), sp-pfr's ``dinf_limit``
            and ``margin_bits`` (``partition.encode_partitioned``).
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
    if not algorithms.get(algorithm).narrows:
        return _encode(target, seed, prior, algorithm, block_bits, block_dims, orc_candidates, index_model,
                       max_steps, progress, mi_profile, **options)
    prior = resolve_prior(target, prior)
    std, narrowed, tv = narrow_stds(target.mean.reshape(1, -1), target.std.reshape(1, -1), prior.mean.ravel(),
                                    prior.std.ravel(), strict=strict,
                                    dim_name=lambda i: dimension_name(target.shape, i))
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
    """``encode`` of a target that needs no narrowing: the algorithm's module does it."""
    chosen = algorithms.get(algorithm)
    unknown = sorted(set(options) - set(chosen.options))
    if unknown:
        takers = [a.name for a in algorithms.REGISTRY.values() if unknown[0] in a.options]
        raise InputError(f"option {unknown[0]!r} does not apply to {algorithm}"
                         + (f"; it applies to {' and '.join(takers)}" if takers else ""))
    if mi_profile is not None:
        if not chosen.takes_mi_profile:
            raise InputError(f"--mi-profile applies to {' and '.join(SP_ALGORITHMS)} only")
        options["mi_profile"] = mi_profile
    return chosen.implementation().encode(algorithm, target, seed, prior, block_bits=block_bits,
                                          block_dims=block_dims, orc_candidates=orc_candidates,
                                          index_model=index_model, max_steps=max_steps, progress=progress,
                                          **options)


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
    chosen = algorithms.REGISTRY.get(header.algorithm)
    if chosen is None:
        raise FormatError(f"this reccodec cannot decode algorithm {header.algorithm!r} files")
    if chosen.takes_mi_profile:
        return chosen.implementation().decode(header, words, seed, prior, index_model, mi_profile=mi_profile,
                                              max_dims=max_dims)
    if mi_profile is not None:
        raise MismatchError("this file was coded without an MI profile; do not pass --mi-profile")
    return chosen.implementation().decode(header, words, seed, prior, index_model, max_dims=max_dims)
