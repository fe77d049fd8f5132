"""Plain numpy reference of the PRNG and of PFR, for tests and the throughput comparison.

``philox_uniforms`` computes the same 53-bit uniforms as the numba generator in ``rng``,
vectorised over counters (candidates dimension-major, as in ``rng``); ``pfr_reference`` runs PFR on a block in growing chunks of
candidates with cumulative sums, so its choice can be compared with the kernel's and its
speed with the kernel's in one run. With ``generator`` set, candidates and arrival times
come from a numpy Generator instead (the fastest plain numpy PFR; not the shared stream).
"""

import numpy as np
from scipy import special

from .rng import STREAM_ARRIVAL, STREAM_CANDIDATE, split_seed, stream_word

__all__ = ["philox_uniforms", "pfr_reference"]

_MASK = np.uint64(0xFFFFFFFF)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_32 = np.uint64(32)


def _philox(c0, c1, c2, c3, k0, k1):
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _32) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def _to_uniform(hi, lo):
    return ((hi >> np.uint64(5)).astype(np.float64) * 2.0**26 + (lo >> np.uint64(6)).astype(np.float64) + 0.5) * 2.0**-53


def philox_uniforms(seed, stream, block, start, count):
    """Uniforms start .. start+count-1 of (stream, block), as ``rng.uniforms`` gives them."""
    k0, k1 = split_seed(seed)
    if count == 0:
        return np.empty(0)
    calls = np.arange(start >> 1, ((start + count - 1) >> 1) + 1, dtype=np.uint64)
    zeros = np.zeros_like(calls)
    w0, w1, w2, w3 = _philox(calls & _MASK, calls >> _32, zeros + np.uint64(block), zeros + np.uint64(stream), k0, k1)
    pairs = np.empty((calls.shape[0], 2))
    pairs[:, 0] = _to_uniform(w0, w1)
    pairs[:, 1] = _to_uniform(w2, w3)
    first = start & 1
    return pairs.ravel()[first:first + count]


def pfr_reference(a, b, c, lrmax, seed, block, generator=None, first_chunk=1024, max_chunk=1 << 18):
    """PFR on one block with numpy: (index, steps), as ``kernels.pfr.pfr_block`` returns.

    Args:
        a, b, c, lrmax (np.ndarray): per-dimension log-ratio coefficients and suprema
            (``distributions.log_ratio_coefficients``), all finite.
        seed (int): shared seed.
        block (int): block index.
        generator (np.random.Generator or None): draw from it instead of the shared stream.
        first_chunk, max_chunk (int): candidates in the first and the largest chunk.
    Returns:
        tuple (index, steps).
    """
    d = a.shape[0]
    lrmax_total = float(np.sum(lrmax))
    best, best_n, t0, n0, chunk = np.inf, -1, 0.0, 0, first_chunk
    while True:
        if generator is None:
            u = np.stack([philox_uniforms(seed, stream_word(STREAM_CANDIDATE, k), block, n0, chunk)
                          for k in range(d)], axis=1)
            v = philox_uniforms(seed, STREAM_ARRIVAL, block, n0, chunk)
        else:
            u = generator.random((chunk, d))
            v = generator.random(chunk)
        z = special.ndtri(u)
        t = t0 + np.cumsum(-np.log(v))
        log_t = np.log(t)
        score = log_t - (a + (b + c * z) * z).sum(axis=1)
        best_before = np.minimum.accumulate(np.concatenate(([best], score[:-1])))
        stop = log_t - lrmax_total >= best_before
        last = int(np.argmax(stop)) if stop.any() else chunk
        if last > 0:
            k = int(np.argmin(score[:last]))
            if score[k] < best:
                best, best_n = score[k], n0 + k
        if last < chunk:
            return best_n, n0 + last
        t0 = float(t[-1])
        n0 += chunk
        chunk = min(2 * chunk, max_chunk)
