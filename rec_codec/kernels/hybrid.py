"""Hybrid coding with uniform proposals: PFR or ORC on a width-1 window (kernels).

Theis & Yosri, "Algorithms for the communication of samples", ICML 2022, section 4.3;
the hybrid of universal quantization and REC in patent claims 16-20 (rec_codec.hybrid).
In w = M Phi(z) (z in the prior's standard coordinates) the prior is uniform on [0, M); the
truncated target fits the window [start, start + 1). Candidate n of a block takes the shared
uniform u (the same stream and positions as PFR's candidates) to

    k = floor(start + 1 - u),  w = k + u  in [start, start + 1),  z = Phi^-1(w / M),

a cyclic shift of u, so w is uniform on the window. Its log ratio against the uniform
proposal is sum_d a_d + b_d z_d + c_d z_d^2 (up to the constant -sum log M_d), and -inf
outside the truncation box [zlo, zhi]. Arrival times, the argmin and the stopping rule are
PFR's (ORC's with Renyi's sorted exponentials when num_candidates > 0), with an interval
filter on the first dimension in the shifted coordinate s = w - start.
"""

import math

import numba
import numpy as np

from ..rng import (STREAM_ARRIVAL, STREAM_CANDIDATE, fill_filter_streams, mantissa_to_uniform, ndtri_as241, stream_word,
                   uniform_at)

BATCH = 64
_SQRT_HALF = math.sqrt(0.5)


@numba.njit(cache=True, inline="always")
def _phi(z):
    return 0.5 * math.erfc(-z * _SQRT_HALF)


@numba.njit(cache=True, inline="always")
def _shifted(u, start):
    """s = w - start in [0, 1) for the candidate uniform u."""
    x = u - start
    return x - math.floor(x)


@numba.njit(cache=True)
def truncated_lrmax(a, b, c, zlo, zhi):
    """sup of a + b z + c z^2 over [zlo, zhi], per dimension."""
    d = a.shape[0]
    out = np.empty(d)
    for k in range(d):
        lo = a[k] + (b[k] + c[k] * zlo[k]) * zlo[k]
        hi = a[k] + (b[k] + c[k] * zhi[k]) * zhi[k]
        best = max(lo, hi)
        if c[k] < 0.0:
            z = min(max(-b[k] / (2.0 * c[k]), zlo[k]), zhi[k])
            best = max(best, a[k] + (b[k] + c[k] * z) * z)
        out[k] = best
    return out


@numba.njit(cache=True)
def _intervals(slo, shi, a, b, c, lrmax, lrmax_total, zlo, zhi, m, start, log_threshold):
    """(slo[k], shi[k]): the s of dimension k that can still give log ratio > log_threshold."""
    for k in range(a.shape[0]):
        lo_z = zlo[k]
        hi_z = zhi[k]
        if c[k] < 0.0:
            theta = log_threshold - (lrmax_total - lrmax[k])
            centre = -b[k] / (2.0 * c[k])
            peak = a[k] + (b[k] + c[k] * centre) * centre
            if peak <= theta:
                slo[k] = 2.0
                shi[k] = -1.0
                continue
            w = math.sqrt((peak - theta) / -c[k]) * (1.0 + 1e-9) + 1e-9
            lo_z = max(lo_z, centre - w)
            hi_z = min(hi_z, centre + w)
        slo[k] = m[k] * _phi(lo_z) - start[k] - 1e-9
        shi[k] = m[k] * _phi(hi_z) - start[k] + 1e-9


@numba.njit(cache=True)
def _log_ratio(n, block, k0, k1, order, slo, shi, a, b, c, zlo, zhi, m, start, first_s):
    """log q/p of candidate n, or -inf when a dimension fails its interval or truncation."""
    total = 0.0
    for i in range(order.shape[0]):
        k = order[i]
        if i == 0:
            s = first_s
        else:
            s = _shifted(uniform_at(n, block, stream_word(STREAM_CANDIDATE, k), k0, k1), start[k])
            if s <= slo[k] or s >= shi[k]:
                return -math.inf
        z = ndtri_as241((start[k] + s) / m[k])
        if z < zlo[k] or z > zhi[k]:
            return -math.inf
        total += a[k] + (b[k] + c[k] * z) * z
    return total


@numba.njit(cache=True)
def hybrid_block(k0, k1, block, a, b, c, zlo, zhi, m, start, num_candidates, max_steps, stop):
    """Search one block: PFR when num_candidates == 0, else ORC over num_candidates.

    Args:
        k0, k1: key words of the seed (uint64).
        block: block index (counter field).
        a, b, c: per-dimension log-ratio coefficients in prior standard coordinates.
        zlo, zhi: the truncation box in the same coordinates.
        m: the widths M_d (float); start: the window's left end in w, per dimension.
        num_candidates: 0 for PFR, else ORC's N.
        max_steps: PFR's cap on candidates.
        stop: int64[1]; the search returns (-2, steps) at the next batch once stop[0] != 0.
    Returns:
        (index, steps): index is -1 when no candidate was accepted within the limit.
    """
    d = a.shape[0]
    lrmax = truncated_lrmax(a, b, c, zlo, zhi)
    lrmax_total = 0.0
    for k in range(d):
        lrmax_total += lrmax[k]
    order = np.argsort(c)  # also the order _log_ratio sums in, so part of the result: never change it
    first = order[0]
    first_stream = stream_word(STREAM_CANDIDATE, first)
    m_first = np.empty(BATCH, dtype=np.int64)  # uniforms as rng.words_to_mantissa's integers
    v = np.empty(BATCH)
    no_second = np.empty(0, dtype=np.int64)  # the fill's second dimension: none here
    slo = np.full(d, -1.0)
    shi = np.full(d, 2.0)
    orc = num_candidates > 0
    limit = num_candidates if orc else max_steps
    scale = float(num_candidates)
    best = -1
    log_best = math.inf
    t = 0.0
    t_stop = math.inf  # a t below this cannot end the search: log t - lrmax_total < log_best
    n0 = 0
    while n0 < limit:
        if stop[0] != 0:
            return -2, n0
        fill_filter_streams(m_first, v, no_second, n0, block, first_stream, STREAM_ARRIVAL, -1, k0, k1)
        for j in range(BATCH):
            n = n0 + j
            if n >= limit:
                return best, n
            e = -math.log(v[j])
            t += e * scale / (scale - n) if orc else e
            s = _shifted(mantissa_to_uniform(m_first[j]), start[first])
            passes = s > slo[first] and s < shi[first]
            if not passes and t < t_stop:
                continue
            log_t = math.log(t)
            if log_t - lrmax_total >= log_best:
                return best, n
            if not passes:
                continue
            lr = _log_ratio(n, block, k0, k1, order, slo, shi, a, b, c, zlo, zhi, m, start, s)
            if lr == -math.inf:
                continue
            score = log_t - lr
            if score < log_best:
                log_best = score
                best = n
                t_stop = math.exp(log_best + lrmax_total) * (1.0 - 1e-12)
                _intervals(slo, shi, a, b, c, lrmax, lrmax_total, zlo, zhi, m, start, log_t - log_best)
        n0 += BATCH
    return best, limit


@numba.njit(cache=True, nogil=True)
def hybrid_search_blocks(k0, k1, block_ids, starts, lengths, a, b, c, zlo, zhi, m, start,
                         num_candidates, max_steps, stop, done, lo, hi, indices, steps):
    """``hybrid_block`` of blocks lo .. hi - 1 (flat per-dimension inputs), writing
    indices[i] and steps[i].

    stop, done, lo and hi as in ``block_search.pfr_blocks``."""
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        index, count = hybrid_block(k0, k1, block_ids[i], a[s:e], b[s:e], c[s:e], zlo[s:e], zhi[s:e],
                                    m[s:e], start[s:e], num_candidates, max_steps, stop)
        indices[i] = index
        steps[i] = count
        done[i] = 1


@numba.njit(cache=True)
def window_symbols(k0, k1, block_ids, starts, lengths, indices, start, out):
    """out[s+d] = k_d = floor(start_d + 1 - u_d) of candidate indices[i] of each block i."""
    for i in range(starts.shape[0]):
        s = starts[i]
        for k in range(lengths[i]):
            u = uniform_at(indices[i], block_ids[i], stream_word(STREAM_CANDIDATE, k), k0, k1)
            out[s + k] = math.floor(start[s + k] + 1.0 - u)


@numba.njit(cache=True)
def hybrid_values(k0, k1, block_ids, starts, lengths, indices, symbols, m, mean, std, out):
    """out[s+d] = mean + std Phi^-1((k_d + u_d) / M_d): the sample of the chosen candidates.

    The codec rebuilds it in numpy (``rebuild.hybrid_values``, bit for bit this, as the
    tests check) so that decoding never imports numba; this kernel is that check's reference.
    """
    for i in range(starts.shape[0]):
        s = starts[i]
        for k in range(lengths[i]):
            u = uniform_at(indices[i], block_ids[i], stream_word(STREAM_CANDIDATE, k), k0, k1)
            out[s + k] = mean[s + k] + std[s + k] * ndtri_as241((symbols[s + k] + u) / m[s + k])
