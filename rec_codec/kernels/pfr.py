"""Poisson functional representation (PFR) search of one block.

Li & El Gamal, "Strong functional representation lemma and applications to coding
theorems", IEEE Trans. IT 2018. Candidates X_n ~ P come from the shared stream, arrival
times T_n = E_0 + ... + E_n from the encoder's private stream; the encoder keeps the n that
minimises T_n / r(X_n) and stops once T_n / r_max >= best. X_{n*} is then exactly Q.

Work per candidate is kept to the PRNG and a few comparisons:
- T_n = T0 - log(V_0 V_1 ... V_j) within a batch, so the arrival times need a running
  product and no logarithm; the stopping rule is the comparison prod <= exp(T0 - best r_max);
- two dimensions' uniforms (the most selective ones) and the arrival's are drawn per
  candidate, the three streams in one loop and up to DRAWN_AHEAD candidates ahead; the
  other dimensions, and the ratio, only when both pass the interval filter of
  ``ratio.acceptance_intervals`` (T0 bounds T_n from below).
"""

import math

import numba
import numpy as np

from ..rng import STREAM_ARRIVAL, STREAM_CANDIDATE, fill_filter_streams, mantissa_to_uniform, stream_word
from .ratio import acceptance_intervals, draw_if_inside, filter_order, log_ratio_of_uniforms, pair_bounds

BATCH = 64
# Uniforms are drawn up to this many candidates ahead (a fill's length doubles from BATCH):
# the generator's loop runs longer, while the arithmetic stays in batches of BATCH.
DRAWN_AHEAD = 1024
_TINY = 1e-250
# The intervals only filter: ones computed from an earlier (smaller) t0 are wider, so they
# keep every candidate that can win; recompute them once t0 has grown by this factor.
_REFRESH = 1.03


@numba.njit(cache=True)
def _stop_product(t0, log_best, lrmax_total):
    # T_n >= best * r_max  <=>  prod <= exp(t0 - best * r_max)
    return math.exp(t0 - math.exp(log_best + lrmax_total))


@numba.njit(cache=True)
def pfr_block(k0, k1, block, a, b, c, lrmax, max_steps, stop):
    """Search one block with PFR.

    Args:
        k0, k1: key words of the seed (uint64).
        block: block index (counter field).
        a, b, c, lrmax: per-dimension log-ratio coefficients and suprema (finite).
        max_steps: give up after this many candidates.
        stop: int64[1]; the search returns (-2, steps) at the next batch once stop[0] != 0.
    Returns:
        (index, steps): the chosen candidate and how many candidates were drawn; index is
        -1 when max_steps ran out first.
    """
    d = a.shape[0]
    lrmax_total = 0.0
    for k in range(d):
        lrmax_total += lrmax[k]
    order = filter_order(c)
    first = order[0]
    first_stream = stream_word(STREAM_CANDIDATE, first)
    second = order[1] if d > 1 else d
    second_stream = stream_word(STREAM_CANDIDATE, order[1]) if d > 1 else -1
    m_first = np.empty(DRAWN_AHEAD, dtype=np.int64)  # uniforms as rng.words_to_mantissa's integers
    m_second = np.zeros(DRAWN_AHEAD, dtype=np.int64)  # stays 0, inside the filter of entry d, when d == 1
    v = np.empty(DRAWN_AHEAD)
    drawn_from = 0  # m_first[i], v[i], m_second[i] are candidate drawn_from + i's, for i < drawn
    drawn = 0
    u = np.empty(d)
    lo = np.zeros(d + 1)
    hi = np.ones(d + 1)
    lo[d], hi[d] = -1.0, 2.0  # entry d always passes: the second filter when d == 1
    lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
    best = -1
    log_best = math.inf
    stop_prod = -1.0  # no best yet: never stop
    t0 = 0.0
    t_intervals = 0.0  # the t0 the intervals were last computed from
    n0 = 0
    while n0 < max_steps:
        if stop[0] != 0:
            return -2, n0
        if n0 == drawn_from + drawn:
            drawn = min(max(2 * drawn, BATCH), DRAWN_AHEAD)
            drawn_from = n0
            fill_filter_streams(m_first[:drawn], v[:drawn], m_second[:drawn], n0, block, first_stream, STREAM_ARRIVAL,
                                second_stream, k0, k1)
        at = n0 - drawn_from
        count = min(BATCH, max_steps - n0)
        prod = 1.0
        leave_below = max(stop_prod, _TINY)  # a product below it stops the search or folds
        j = 0
        while True:
            # the candidates before the next one that stops, folds or passes the filter
            while j < count:
                prod *= v[at + j]
                x = m_first[at + j]
                y = m_second[at + j]
                if (prod <= leave_below) | ((x >= lo_first) & (x <= hi_first) & (y >= lo_second) & (y <= hi_second)):
                    break
                j += 1
            if j == count:
                break
            n = n0 + j
            if prod <= stop_prod:
                return best, n
            if prod < _TINY:  # fold the product into t0 before it underflows
                t0 -= math.log(prod)
                prod = 1.0
                if best >= 0:
                    stop_prod = _stop_product(t0, log_best, lrmax_total)
                    leave_below = max(stop_prod, _TINY)
                    acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t0) - log_best)
                    t_intervals = t0
                    lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
            x = m_first[at + j]
            y = m_second[at + j]
            if (x >= lo_first and x <= hi_first and y >= lo_second and y <= hi_second
                    and draw_if_inside(n, block, k0, k1, order, lo, hi, mantissa_to_uniform(x), mantissa_to_uniform(y),
                                       u)):
                t = t0 - math.log(prod)
                score = math.log(t) - log_ratio_of_uniforms(u, a, b, c)
                if score < log_best:
                    log_best = score
                    best = n
                    stop_prod = _stop_product(t0, log_best, lrmax_total)
                    leave_below = max(stop_prod, _TINY)
                    acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t) - log_best)
                    t_intervals = t
                    lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
            j += 1
        if count < BATCH:
            return -1, max_steps
        t0 -= math.log(prod)
        n0 += BATCH
        if best >= 0:
            stop_prod = _stop_product(t0, log_best, lrmax_total)
            if t0 > _REFRESH * t_intervals:
                acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t0) - log_best)
                t_intervals = t0
                lo_first, hi_first, lo_second, hi_second = pair_bounds(lo, hi, first, second)
    return -1, max_steps
