"""The shared PRNG in plain numpy: Philox4x32-10 uniforms and AS241 normals.

Bit for bit the numba generator of ``rng`` (the tests check it), vectorised over counters.
The codec rebuilds the chosen candidates with it on both sides, so the encoder's sample and
the decoder's are computed by the same code, and decoding never imports numba (whose
import and kernel loading take most of a second).
"""

import math

import numpy as np

from .as241 import A, B, C, D, E, F
from .seed import PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, STREAM_CANDIDATE, WORD_SHIFT, check_position, split_seed

__all__ = ["philox_uniforms", "keyed_uniforms", "uniforms_at", "ndtri", "candidate_uniforms", "candidate_normals"]

_MASK = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def _philox(c0, c1, c2, c3, k0, k1):
    for _ in range(10):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = (p1 >> _32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _32) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + PHILOX_W0) & _MASK
        k1 = (k1 + PHILOX_W1) & _MASK
    return c0, c1, c2, c3


def _to_uniform(hi, lo):
    return ((hi >> np.uint64(5)).astype(np.float64) * 2.0**26 + (lo >> np.uint64(6)).astype(np.float64) + 0.5) * 2.0**-53


def _uniforms_at(k0, k1, positions, blocks, streams):
    """Uniform number positions[i] of (streams[i], blocks[i]), elementwise (uint64 arrays)."""
    calls = positions >> np.uint64(1)
    w0, w1, w2, w3 = _philox(calls & _MASK, calls >> _32, blocks, streams, k0, k1)
    return np.where((positions & np.uint64(1)) == 0, _to_uniform(w0, w1), _to_uniform(w2, w3))


def philox_uniforms(seed, stream, block, start, count):
    """Uniforms start .. start+count-1 of (stream, block), as ``rng.uniforms`` gives them."""
    return keyed_uniforms(*split_seed(seed), stream, block, start, count)


def keyed_uniforms(k0, k1, stream, block, start, count):
    """``philox_uniforms`` for the seed whose key words are (k0, k1) (``seed.split_seed``)."""
    check_position(stream, block, start, count)
    if count == 0:
        return np.empty(0)
    calls = np.arange(start >> 1, ((start + count - 1) >> 1) + 1, dtype=np.uint64)
    ones = np.ones_like(calls)
    w0, w1, w2, w3 = _philox(calls & _MASK, calls >> _32, ones * np.uint64(block), ones * np.uint64(stream), k0, k1)
    pairs = np.empty((calls.shape[0], 2))  # both uniforms of each call, in order
    pairs[:, 0] = _to_uniform(w0, w1)
    pairs[:, 1] = _to_uniform(w2, w3)
    first = start & 1
    return pairs.ravel()[first:first + count]


def uniforms_at(seed, stream, block, positions):
    """Uniforms number ``positions`` (int64, in [0, 2^63)) of (stream, block), as
    ``philox_uniforms`` gives them, for scattered positions."""
    k0, k1 = split_seed(seed)
    positions = np.asarray(positions, dtype=np.uint64)
    ones = np.ones_like(positions)
    return _uniforms_at(k0, k1, positions, ones * np.uint64(block), ones * np.uint64(stream))


def _poly(c, x):
    return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x + c[1]) * x + c[0]


def ndtri(p):
    """Inverse standard normal CDF by AS241, elementwise, as ``rng.ndtri_as241`` computes it."""
    p = np.asarray(p, dtype=np.float64)
    q = p - 0.5
    central = np.abs(q) <= 0.425
    r = 0.180625 - q * q
    out = q * _poly(A, r) / _poly(B, r)
    tail = ~central
    if tail.any():
        qt = q[tail]
        # math.log, the C library's, as in the numba kernels: numpy's own log differs from it
        # in the last bit for about 1 value in 70,000
        tails = np.where(qt < 0.0, p[tail], 1.0 - p[tail])
        r = np.sqrt(-np.fromiter(map(math.log, tails.tolist()), dtype=np.float64, count=tails.shape[0]))
        near = r <= 5.0
        val = np.where(near, _poly(C, r - 1.6) / _poly(D, r - 1.6), _poly(E, r - 5.0) / _poly(F, r - 5.0))
        out[tail] = np.where(qt < 0.0, -val, val)
    return out


def candidate_uniforms(seed, block_ids, lengths, indices):
    """The uniforms of candidate indices[i] of each block i, one per dimension, flat and
    block after block (dimension k of a block reads word k of the candidate stream).

    Args:
        seed (int): shared seed.
        block_ids (np.ndarray): counter field of each block.
        lengths (np.ndarray): dimensions of each block.
        indices (np.ndarray): the chosen candidate of each block.
    Returns:
        np.ndarray: float64, sum(lengths) values in (0, 1).
    """
    k0, k1 = split_seed(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(lengths.shape[0]), lengths)
    word = np.arange(owner.shape[0]) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.asarray(indices, dtype=np.uint64)[owner]
    blocks = np.asarray(block_ids, dtype=np.uint64)[owner]
    streams = (STREAM_CANDIDATE + WORD_SHIFT * word).astype(np.uint64)
    return _uniforms_at(k0, k1, positions, blocks, streams)


def candidate_normals(seed, block_ids, lengths, indices):
    """Standard normals Phi^-1(u) of ``candidate_uniforms`` (same arguments)."""
    return ndtri(candidate_uniforms(seed, block_ids, lengths, indices))
