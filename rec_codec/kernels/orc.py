"""Ordered random coding (ORC) search of one block.

Theis & Yosri, "Algorithms for the communication of samples", ICML 2022. A fixed number N of
shared candidates; the encoder's exponentials are turned into sorted arrival times by
Renyi's representation, T_n = T_{n-1} + E_n N / (N - n), and the n minimising T_n / r(X_n)
is sent. The sample is approximately Q, with a bias that falls as N grows past 2^KL. When
r_max is finite the search stops early by the PFR rule T_n / r_max >= best, which does not
change the result, and skips candidates by the same interval filter as PFR; the logarithm
of T_n is taken only for a candidate that passes it or may end the search.
"""

import math

import numba
import numpy as np

from ..rng import STREAM_ARRIVAL, STREAM_CANDIDATE, fill_filter_streams, mantissa_to_uniform, stream_word
from .ratio import acceptance_intervals, draw_if_inside, filter_order, log_ratio_of_uniforms, pair_bounds

BATCH = 64


@numba.njit(cache=True)
def orc_block(k0, k1, block, a, b, c, lrmax, num_candidates, stop):
    """Search one block with ORC over num_candidates candidates.

    Args:
        k0, k1: key words of the seed (uint64).
        block: block index (counter field).
        a, b, c, lrmax: per-dimension log-ratio coefficients and suprema (may be +inf).
        num_candidates: N.
        stop: int64[1]; the search returns (-2, steps) at the next batch once stop[0] != 0.
    Returns:
        (index, steps): the chosen candidate in [0, N) and how many were drawn.
    """
    d = a.shape[0]
    lrmax_total = 0.0
    for k in range(d):
        lrmax_total += lrmax[k]
    bounded = lrmax_total < math.inf
    order = filter_order(c)
    first = order[0]
    first_stream = stream_word(STREAM_CANDIDATE, first)
    second = order[1] if d > 1 else d
    second_stream = stream_word(STREAM_CANDIDATE, order[1]) if d > 1 else -1
    m_first = np.empty(BATCH, dtype=np.int64)  # uniforms as rng.words_to_mantissa's integers
    m_second = np.zeros(BATCH, dtype=np.int64)  # stays 0, inside the filter of entry d, when d == 1
    v = np.empty(BATCH)
    u = np.empty(d)
    lo = np.full(d + 1, -1.0)  # entry d always passes: the second filter when d == 1
    hi = np.full(d + 1, 2.0)
    lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
    scale = float(num_candidates)
    best = -1
    log_best = math.inf
    t = 0.0
    # a t below t_stop cannot end the search (log t - lrmax_total < log_best), so a candidate
    # the filter drops needs no logarithm of t while t stays below it
    t_stop = math.inf
    n0 = 0
    while n0 < num_candidates:
        if stop[0] != 0:
            return -2, n0
        fill_filter_streams(m_first, v, m_second, n0, block, first_stream, STREAM_ARRIVAL, second_stream, k0, k1)
        for j in range(BATCH):
            n = n0 + j
            if n >= num_candidates:
                return best, n
            t -= math.log(v[j]) * scale / (scale - n)
            x = m_first[j]
            y = m_second[j]
            passes = x >= lo_first and x <= hi_first and y >= lo_second and y <= hi_second
            if not passes and t < t_stop:
                continue
            log_t = math.log(t)
            if bounded and log_t - lrmax_total >= log_best:
                return best, n
            if passes and draw_if_inside(n, block, k0, k1, order, lo, hi, mantissa_to_uniform(x), mantissa_to_uniform(y),
                                         u):
                score = log_t - log_ratio_of_uniforms(u, a, b, c)
                if score < log_best:
                    log_best = score
                    best = n
                    if bounded:
                        t_stop = math.exp(log_best + lrmax_total) * (1.0 - 1e-12)
                        acceptance_intervals(lo, hi, a, b, c, lrmax, log_t - log_best)
                        lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
        n0 += BATCH
    return best, num_candidates
