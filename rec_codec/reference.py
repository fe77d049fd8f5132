"""Plain numpy reference of PFR, for tests and the throughput comparison.

``pfr_reference`` draws from ``philox_numpy`` (the shared stream, as the kernel does) and
runs PFR on a block in growing chunks of candidates with cumulative sums, so its choice can be compared with the kernel's and its
speed with the kernel's in one run. With ``generator`` set, candidates and arrival times
come from a numpy Generator instead (the fastest plain numpy PFR; not the shared stream).
"""

import numpy as np
from scipy import special

from .philox_numpy import philox_uniforms
from .seed import STREAM_ARRIVAL, STREAM_CANDIDATE, WORD_SHIFT

__all__ = ["pfr_reference"]


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
            u = np.stack([philox_uniforms(seed, STREAM_CANDIDATE + WORD_SHIFT * k, block, n0, chunk)
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
