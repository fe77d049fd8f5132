"""Poisson functional representation (PFR) search of one block.

Li & El Gamal, "Strong functional representation lemma and applications to coding
theorems", IEEE Trans. IT 2018. Candidates X_n ~ P come from the shared stream, arrival
times T_n = E_0 + ... + E_n from the encoder's private stream; the encoder keeps the n that
minimises T_n / r(X_n) and stops once T_n / r_max >= best. X_{n*} is then exactly Q.

Work per candidate is kept to the PRNG and a few comparisons:
- T_n = T0 - log(V_0 V_1 ... V_j) within a batch, so the arrival times need a running
  product and no logarithm; the stopping rule is the comparison prod <= exp(T0 - best r_max);
- one dimension's uniform is drawn per candidate; the others, and the ratio, only when it
  passes the interval filter of ``ratio.acceptance_intervals`` (T0 bounds T_n from below).
"""

import math

import numba
import numpy as np

from ..rng import STREAM_ARRIVAL, STREAM_CANDIDATE, fill_uniforms, stream_word
from .ratio import acceptance_intervals, draw_if_inside, filter_order, log_ratio_of_uniforms

BATCH = 64
_TINY = 1e-250


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
    u_first = np.empty(BATCH)
    v = np.empty(BATCH)
    u = np.empty(d)
    lo = np.zeros(d)
    hi = np.ones(d)
    best = -1
    log_best = math.inf
    stop_prod = -1.0  # no best yet: never stop
    t0 = 0.0
    n0 = 0
    while n0 < max_steps:
        if stop[0] != 0:
            return -2, n0
        fill_uniforms(u_first, n0, block, first_stream, k0, k1)
        fill_uniforms(v, n0, block, STREAM_ARRIVAL, k0, k1)
        prod = 1.0
        for j in range(BATCH):
            n = n0 + j
            if n >= max_steps:
                return -1, n
            prod *= v[j]
            if prod <= stop_prod:
                return best, n
            if prod < _TINY:  # fold the product into t0 before it underflows
                t0 -= math.log(prod)
                prod = 1.0
                if best >= 0:
                    stop_prod = _stop_product(t0, log_best, lrmax_total)
                    acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t0) - log_best)
            x = u_first[j]
            if x > lo[first] and x < hi[first] and draw_if_inside(n, block, k0, k1, order, lo, hi, x, u):
                t = t0 - math.log(prod)
                score = math.log(t) - log_ratio_of_uniforms(u, a, b, c)
                if score < log_best:
                    log_best = score
                    best = n
                    stop_prod = _stop_product(t0, log_best, lrmax_total)
                    acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t) - log_best)
        t0 -= math.log(prod)
        n0 += BATCH
        if best >= 0:
            stop_prod = _stop_product(t0, log_best, lrmax_total)
            acceptance_intervals(lo, hi, a, b, c, lrmax, math.log(t0) - log_best)
    return -1, max_steps
