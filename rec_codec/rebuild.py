"""Chosen candidates rebuilt in plain numpy, so that decoding never imports numba.

Bit for bit what the numba kernels compute (the tests compare them): the same Philox4x32-10
words (``philox_numpy``), the same AS241 inverse CDF and the same floating-point operations
in the same order. Both the encoder (for the sample it reports) and the decoder call these.
"""

import numpy as np

from .philox_numpy import _philox, _to_uniform, candidate_uniforms, ndtri
from .seed import STREAM_BIN, split_seed

__all__ = ["sp_candidate_values", "hybrid_values"]

_MASK = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def sp_candidate_values(seed, block_ids, starts, lengths, nbins, strides, bins, local, mean, std):
    """Values of the space-partitioned candidates that (bins, local) name, flat.

    Value k of block i is mean + std * Phi^-1((k_d + U_d) / J_d) (from the nearer tail), U
    from the generator of block i's bin keyed by ``rng.bin_key`` at candidate local[i]: what
    ``kernels.partition.sp_candidate_values`` computes.

    Args:
        seed (int): shared seed.
        block_ids, starts, lengths (np.ndarray): int64 counter field, first dimension and
            dimensions of each block (blocks are contiguous and in order).
        nbins, strides, bins (np.ndarray): int64 J_d, mixed-radix stride and chosen bin k_d
            of each dimension.
        local (np.ndarray): int64 index of the chosen candidate within its bin, per block.
        mean, std (np.ndarray): the prior, flat.
    Returns:
        np.ndarray: float64 values, one per dimension.
    """
    k0, k1 = split_seed(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    nbins = np.asarray(nbins, dtype=np.int64)
    bins = np.asarray(bins, dtype=np.int64)
    owner = np.repeat(np.arange(lengths.shape[0]), lengths)
    word = np.arange(owner.shape[0]) - np.repeat(np.asarray(starts, dtype=np.int64), lengths)
    j = np.zeros(lengths.shape[0], dtype=np.int64)
    np.add.at(j, owner, bins * np.asarray(strides, dtype=np.int64))
    j = j.astype(np.uint64)
    kb0, kb1, _, _ = _philox(j & _MASK, j >> _32, np.asarray(block_ids, dtype=np.uint64),
                             np.full(j.shape[0], STREAM_BIN, dtype=np.uint64), k0, k1)
    m = np.asarray(local, dtype=np.int64).astype(np.uint64)[owner]
    w0, w1, w2, w3 = _philox(m & _MASK, m >> _32, (word >> 1).astype(np.uint64), np.zeros_like(m), kb0[owner],
                             kb1[owner])
    u = np.where((word & 1) == 1, _to_uniform(w2, w3), _to_uniform(w0, w1))
    lower = 2 * bins < nbins
    p = np.where(lower, (bins + u) / nbins, (nbins - 1 - bins + (1.0 - u)) / nbins)
    z = ndtri(p)
    z = np.where(lower, z, -z)
    return np.asarray(mean, dtype=np.float64) + np.asarray(std, dtype=np.float64) * z


def hybrid_values(seed, block_ids, lengths, indices, symbols, m, mean, std):
    """The hybrid coder's sample: mean + std Phi^-1((k_d + u_d) / M_d), flat.

    u_d is the uniform of dimension d of the chosen candidate indices[i] of block i, k_d its
    window symbol and M_d the window's width: what ``kernels.hybrid.hybrid_values``
    computes.

    Args:
        seed (int): shared seed.
        block_ids, lengths (np.ndarray): int64 counter field and dimensions of each block
            (blocks are contiguous and in order).
        indices (np.ndarray): int64 chosen candidate of each block.
        symbols (np.ndarray): int64 k_d, one per dimension.
        m (np.ndarray): float64 M_d, one per dimension.
        mean, std (np.ndarray): the prior, flat.
    Returns:
        np.ndarray: float64 values, one per dimension.
    """
    u = candidate_uniforms(seed, block_ids, lengths, indices)
    p = (np.asarray(symbols, dtype=np.int64).astype(np.float64) + u) / np.asarray(m, dtype=np.float64)
    return np.asarray(mean, dtype=np.float64) + np.asarray(std, dtype=np.float64) * ndtri(p)
