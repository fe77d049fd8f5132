"""Space-partitioned PFR and ORC (SP-PFR, SP-ORC): bin weights, block search, candidates.

He, Flamich & Hernandez-Lobato, "Accelerating relative entropy coding with space
partitioning", NeurIPS 2024. Dimension d of a block is cut into J_d intervals of equal
prior mass, I_{d,k} = [F^-1(k/J_d), F^-1((k+1)/J_d)); a bin j is one interval per
dimension. The encoder runs PFR (or ORC) on

    P'(x) = J pi(j(x)) p(x),   r'(x) = q(x) / (p(x) J pi(j(x))),

drawing a candidate by picking bin j with probability pi(j) = prod_d pi_d(k_d) (from its
private stream) and then a point of P inside the bin from the bin's shared generator
(``rng.bin_key``): candidate m of bin j has x_d = F^-1((k_d + U_d) / J_d). A Poisson
process on P' is the superposition of one process per bin, so the decoder rebuilds the
chosen point from (j, m) alone, m counting the earlier candidates of the same bin, and never
needs pi. This is exact for PFR for any pi > 0 where Q has mass.

The weights are pi_d(k) ∝ M_{d,k} = sup over I_{d,k} of q_d/p_d, the ratio at the mode of
the (concave) log ratio clipped into the interval. Then log r'_d = log r_d - log M_{d,k} +
log mean_k M_{d,k} <= log mean_k M_{d,k} = r'_max,d, so D_inf(Q||P') = sum_d log2 mean_k
M_{d,k}, the least any pi reaches for these bins; everything is kept in log space. A
dimension whose ratio is unbounded (target wider than prior; ORC only) gets uniform weights.

Every candidate's bin must be drawn, to count local indices, but not every position. The
bin comes first, so the interval filter of plain PFR (``ratio.acceptance_intervals``)
carries over bin by bin: in each of a block's first dimensions, the uniforms of a bin whose
point could still lift a candidate past the best score (the other dimensions at their
suprema) form one interval (``_alive_bounds``), and a candidate outside it is dropped
without an inverse CDF. The search scores the others exactly and stops adding up a
candidate's log ratio as soon as the dimensions left cannot lift it past the best score;
the steps are few (about 2^D_inf(Q||P')).
"""

import math

import numba
import numpy as np

from ..rng import (
    STREAM_ARRIVAL,
    bin_key,
    bin_uniform_pair,
    fill_uniforms,
    ndtri_as241,
    stream_word,
)

BATCH = 64
# A dimension with at most this many bins draws a batch's bins by counting the cumulative
# weights at or below each uniform (a loop LLVM vectorises); more bins, by binary search.
# Both give the smallest k with cum[k] > u: the prefix cum[0 .. J - 2] is non-decreasing.
COUNTED_BINS = 32
# Slack on r'_max in the stopping rule: the sup of a bin and a candidate inside it are
# computed by two roundings of the inverse CDF, which may differ in the last bits.
_LOG_SLACK = 1e-9


@numba.njit(cache=True)
def bin_boundary(k, nbins):
    """z = Phi^-1(k / nbins), computed from the nearer tail (k in 1..nbins-1)."""
    if 2 * k <= nbins:
        return ndtri_as241(k / nbins)
    return -ndtri_as241((nbins - k) / nbins)


@numba.njit(cache=True)
def bin_normal(k, u, nbins):
    """z = Phi^-1((k + u) / nbins) for u in (0, 1), from the nearer tail."""
    if 2 * k < nbins:
        return ndtri_as241((k + u) / nbins)
    return -ndtri_as241((nbins - 1 - k + (1.0 - u)) / nbins)


@numba.njit(cache=True)
def bin_tables(a, b, c, lrmax, nbins, tstart, offset, cum, lrmax_p):
    """Fill the encoder's tables of every dimension.

    Args:
        a, b, c, lrmax: per-dimension log-ratio coefficients (prior standard coordinates)
            and suprema in nats.
        nbins: int64 J_d of each dimension.
        tstart: int64 start of dimension d's entries in the flat tables.
        offset: out, log r'_d - log r_d of each bin: log mean_k M - log M_k (0 if J_d = 1).
        cum: out, cumulative pi_d of each bin (the last entry of a dimension is 1).
        lrmax_p: out, r'_max,d in nats (= lrmax for J_d = 1; +inf where unbounded).
    """
    for d in range(a.shape[0]):
        nb = nbins[d]
        s = tstart[d]
        if nb == 1:
            offset[s] = 0.0
            cum[s] = 1.0
            lrmax_p[d] = lrmax[d]
            continue
        if not lrmax[d] < math.inf:
            for k in range(nb):
                offset[s + k] = 0.0
                cum[s + k] = (k + 1) / nb
            cum[s + nb - 1] = 1.0
            lrmax_p[d] = math.inf
            continue
        mode = -b[d] / (2.0 * c[d]) if c[d] < 0.0 else 0.0
        lo = -math.inf
        top = -math.inf
        for k in range(nb):
            hi = bin_boundary(k + 1, nb) if k < nb - 1 else math.inf
            z = min(max(mode, lo), hi)
            lm = a[d] + (b[d] + c[d] * z) * z
            offset[s + k] = lm
            if lm > top:
                top = lm
            lo = hi
        total = 0.0
        for k in range(nb):
            total += math.exp(offset[s + k] - top)
        lse = top + math.log(total)
        log_nb = math.log(nb)
        acc = 0.0
        for k in range(nb):
            acc += math.exp(offset[s + k] - lse)
            cum[s + k] = acc
            offset[s + k] = lse - log_nb - offset[s + k]
        cum[s + nb - 1] = 1.0
        lrmax_p[d] = lse - log_nb


@numba.njit(cache=True)
def _draw_bin(cum, s, nb, u):
    """Smallest k < nb with cum[s + k] > u (binary search)."""
    lo = 0
    hi = nb - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[s + mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True)
def _count_bins(cum, s, nb, u, out):
    """out[i] = the number of j < nb - 1 with cum[s + j] <= u[i]: ``_draw_bin`` for a whole
    batch, as counted loops."""
    out[:] = 0
    for j in range(nb - 1):
        edge = cum[s + j]
        for i in range(u.shape[0]):
            out[i] += u[i] >= edge


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_HASH_SHIFT = np.uint64(28)


@numba.njit(cache=True)
def _slot(keys, j):
    """Slot of bin j in the open-addressing table ``keys`` (its own or the empty one, -1)."""
    mask = keys.shape[0] - 1
    i = np.int64((np.uint64(j) * _GOLDEN) >> _HASH_SHIFT) & mask
    while keys[i] != j and keys[i] != -1:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True)
def _grown(keys, counts):
    """The table rehashed into twice the slots: (keys, counts)."""
    new_keys = np.full(2 * keys.shape[0], -1, dtype=np.int64)
    new_counts = np.zeros(2 * keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        if keys[i] != -1:
            t = _slot(new_keys, keys[i])
            new_keys[t] = keys[i]
            new_counts[t] = counts[i]
    return new_keys, new_counts


@numba.njit(cache=True)
def _bin_keys(bins_j, count, block, k0, k1, kb0, kb1):
    """kb0[i], kb1[i] = ``bin_key`` of bin bins_j[i], for i < count (a counted loop)."""
    for i in range(count):
        kb0[i], kb1[i] = bin_key(bins_j[i], block, k0, k1)


@numba.njit(cache=True)
def _first_pairs(local, count, kb0, kb1, u0, u1):
    """u0[i], u1[i] = the uniforms of dimensions 0 and 1 of candidate local[i] of its bin."""
    for i in range(count):
        u0[i], u1[i] = bin_uniform_pair(local[i], 0, kb0[i], kb1[i])


_SQRT_HALF = math.sqrt(0.5)
# The candidate filter checks the first FILTER_DIMS dimensions of a block. Its bounds are
# widened by _FILTER_SLACK (relative and absolute: nats, z and u), so that it only drops
# candidates that the exact test drops too, and recomputed once the least threshold of a
# batch has grown by _FILTER_STALE nats.
FILTER_DIMS = 8
_FILTER_SLACK = 1e-9
_FILTER_STALE = 0.02


@numba.njit(cache=True)
def _bin_u(k, z, nb):
    """The u with bin_normal(k, u, nb) = z (not clipped to (0, 1)), from the nearer tail."""
    if 2 * k < nb:
        return nb * (0.5 * math.erfc(-z * _SQRT_HALF)) - k
    return 1.0 - (nb * (0.5 * math.erfc(z * _SQRT_HALF)) - (nb - 1 - k))


@numba.njit(cache=True)
def _alive_bounds(ak, bk, ck, nb, offset, s, theta, lo, hi):
    """Bounds (lo[k], hi[k]) on u for each bin k of one dimension: a candidate of bin k whose
    uniform lies outside them has ak + (bk + ck z) z + offset[s + k] <= theta, z =
    bin_normal(k, u, nb). As in ``ratio.acceptance_intervals``, a bounded log ratio is
    concave (ck < 0) or constant, so the z that can pass lie within w of its mode; the
    threshold, w and u are widened by _FILTER_SLACK."""
    for k in range(nb):
        th = theta - offset[s + k]
        th -= _FILTER_SLACK * (1.0 + abs(th))
        if ck < 0.0:
            mode = -bk / (2.0 * ck)
            top = ak + 0.5 * bk * mode
            if top > th:
                w = math.sqrt((top - th) / -ck) * (1.0 + _FILTER_SLACK) + _FILTER_SLACK
                lo[k] = _bin_u(k, mode - w, nb) - _FILTER_SLACK
                hi[k] = _bin_u(k, mode + w, nb) + _FILTER_SLACK
                continue
            none = True  # the whole bin is at or below th
        else:  # constant (ck = bk = 0); a linear or convex ratio is unbounded: never filtered
            none = ck == 0.0 and bk == 0.0 and not ak > th
        lo[k] = 2.0 if none else -1.0
        hi[k] = -1.0 if none else 2.0


@numba.njit(cache=True, inline="always")
def _outside(u, lo, hi):
    """u outside (lo, hi); false when a bound is NaN, so that the filter keeps the candidate."""
    return (u <= lo) | (u >= hi)


@numba.njit(cache=True)
def _passes_from_pair_1(m, kb0, kb1, bins, filtered, lo, hi):
    """Whether candidate m of its bin passes the filter in dimensions 2 .. filtered - 1 (its
    uniforms drawn a pair at a time; ``bins`` its bin in each dimension)."""
    for k in range(2, filtered, 2):
        u_a, u_b = bin_uniform_pair(m, k >> 1, kb0, kb1)
        if _outside(u_a, lo[k, bins[k]], hi[k, bins[k]]):
            return False
        if k + 1 < filtered and _outside(u_b, lo[k + 1, bins[k + 1]], hi[k + 1, bins[k + 1]]):
            return False
    return True


@numba.njit(cache=True)
def sp_block(k0, k1, block, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, num_candidates, max_steps,
             out_bins, stop, filter_dims=FILTER_DIMS):
    """Search one block over P' with PFR (num_candidates == 0) or ORC (N = num_candidates).

    A batch draws its candidates' bins dimension by dimension, counts their local indices
    in a flat open-addressing table (bin -> candidates so far), and makes their bin keys
    and first two uniforms in counted loops. A filter then drops, without an inverse CDF,
    each candidate that one of its first filter_dims dimensions alone rules out (bounds on
    its uniform per bin, ``_alive_bounds``; dimensions 0 and 1 for the whole batch, the
    next ones a Philox call per pair for the candidates left), and the rest of a
    candidate's uniforms are drawn only while its log ratio can still win. The filter only
    drops candidates that the exact test drops, so it changes no result: filter_dims = 0
    turns it off.

    Args:
        k0, k1: key words of the seed.
        block: block index (counter field).
        a, b, c: the block's log-ratio coefficients.
        nbins, strides: J_d and the mixed-radix stride of each dimension (j = sum k_d stride_d).
        tstart: start of each dimension's entries in the flat tables offset and cum.
        offset, cum, lrmax_p: from ``bin_tables`` (lrmax_p of this block's dimensions).
        num_candidates: 0 for PFR, else ORC's N.
        max_steps: PFR's cap on candidates.
        out_bins: out, the chosen bin k_d of each dimension.
        stop: int64[1]; the search returns (-2, steps) at the next batch once stop[0] != 0.
        filter_dims: how many leading dimensions the filter checks (0: none).
    Returns:
        (local, steps): the chosen candidate's index within its bin and the candidates drawn;
        local is -1 when PFR ran past max_steps.
    """
    d = a.shape[0]
    rest = np.zeros(d)  # r'_max of the dimensions after each one
    total = 0.0
    for k in range(d - 1, -1, -1):
        rest[k] = total
        total += lrmax_p[k]
    bounded = total < math.inf
    total += _LOG_SLACK
    orc = num_candidates > 0
    limit = num_candidates if orc else max_steps
    scale = float(num_candidates)
    draws = np.empty((d + 1, BATCH))
    ks = np.zeros((max(d, 2), BATCH), dtype=np.int64)
    drawn = np.empty(BATCH, dtype=np.int64)
    bins_j = np.empty(BATCH, dtype=np.int64)
    local = np.empty(BATCH, dtype=np.int64)
    kb0 = np.empty(BATCH, dtype=np.uint64)
    kb1 = np.empty(BATCH, dtype=np.uint64)
    u0 = np.empty(BATCH)
    u1 = np.empty(BATCH)
    filtered = min(d, filter_dims)
    # the filter's bounds on u per dimension and bin; rows past the filtered ones pass all
    width = nbins[:max(filtered, 2)].max()
    lo = np.full((max(filtered, 2), width), -1.0)
    hi = np.full((max(filtered, 2), width), 2.0)
    passed = np.ones(BATCH, dtype=np.bool_)
    need_tab = -math.inf  # the threshold the bounds were made for, at most any candidate's since
    t_stop = math.inf  # a t below this cannot end the search: log t - total < log_best
    keys = np.full(1024, -1, dtype=np.int64)
    counts = np.zeros(1024, dtype=np.int64)
    used = 0
    best_local = -1
    log_best = math.inf
    t = 0.0
    n0 = 0
    while n0 < limit:
        if stop[0] != 0:
            return -2, n0
        count = min(BATCH, limit - n0)
        fill_uniforms(draws[0], n0, block, STREAM_ARRIVAL, k0, k1)
        bins_j[:] = 0
        for k in range(d):
            if nbins[k] > 1:
                fill_uniforms(draws[k + 1], n0, block, stream_word(STREAM_ARRIVAL, 1 + k), k0, k1)
                s = tstart[k]
                nb = nbins[k]
                if nb <= COUNTED_BINS:
                    _count_bins(cum, s, nb, draws[k + 1], drawn)
                else:
                    for i in range(count):
                        drawn[i] = _draw_bin(cum, s, nb, draws[k + 1, i])
                stride = strides[k]
                for i in range(count):
                    ks[k, i] = drawn[i]
                    bins_j[i] += drawn[i] * stride
        if 2 * (used + count) > keys.shape[0]:
            keys, counts = _grown(keys, counts)
        for i in range(count):
            slot = _slot(keys, bins_j[i])
            if keys[slot] == -1:
                keys[slot] = bins_j[i]
                used += 1
            local[i] = counts[slot]
            counts[slot] += 1
        _bin_keys(bins_j, count, block, k0, k1, kb0, kb1)
        _first_pairs(local, count, kb0, kb1, u0, u1)
        filtering = filtered > 0 and bounded and log_best < math.inf
        if filtering:
            # a candidate must lift its log ratio past need = log t - log_best, which grows
            # through the search (t up, log_best down): this batch's candidates need at least
            need_lo = math.log(t) - log_best
            if need_lo - need_tab > _FILTER_STALE:
                need_tab = need_lo
                for k in range(filtered):
                    # dimension k alone, the others at their suprema
                    _alive_bounds(a[k], b[k], c[k], nbins[k], offset, tstart[k], need_tab - (total - lrmax_p[k]),
                                  lo[k], hi[k])
            for i in range(count):
                passed[i] = not (_outside(u0[i], lo[0, ks[0, i]], hi[0, ks[0, i]])
                                 | _outside(u1[i], lo[1, ks[1, i]], hi[1, ks[1, i]]))
        for i in range(count):
            n = n0 + i
            if orc:
                t -= math.log(draws[0, i]) * scale / (scale - n)
            else:
                t -= math.log(draws[0, i])
            alive = True
            if filtering:
                alive = passed[i] and (filtered <= 2 or _passes_from_pair_1(local[i], kb0[i], kb1[i], ks[:, i],
                                                                            filtered, lo, hi))
                if not alive and t < t_stop:
                    continue
            log_t = math.log(t)
            if bounded and log_t - total >= log_best:
                return best_local, n
            if not alive:
                continue
            need = log_t - log_best  # the log ratio must exceed this to win
            lr = 0.0
            u_even = u0[i]
            u_odd = u1[i]
            alive = True
            for k in range(d):
                if k & 1 == 0 and k > 0:
                    u_even, u_odd = bin_uniform_pair(local[i], k >> 1, kb0[i], kb1[i])
                z = bin_normal(ks[k, i], u_odd if k & 1 else u_even, nbins[k])
                lr += a[k] + (b[k] + c[k] * z) * z + offset[tstart[k] + ks[k, i]]
                if bounded and lr + rest[k] <= need:
                    alive = False
                    break
            if alive and log_t - lr < log_best:
                log_best = log_t - lr
                t_stop = math.exp(log_best + total) * (1.0 - 1e-12)  # inf when unbounded
                best_local = local[i]
                for k in range(d):
                    out_bins[k] = ks[k, i]
        if count < BATCH:
            return (best_local if orc else -1), limit
        n0 += BATCH
    return (best_local if orc else -1), limit


@numba.njit(cache=True, nogil=True)
def sp_search_blocks(k0, k1, block_ids, starts, lengths, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p,
                     num_candidates, max_steps, out_bins, stop, done, lo, hi, local, steps, filter_dims=FILTER_DIMS):
    """``sp_block`` on blocks lo .. hi - 1, writing local[i] and steps[i] (int64 per block).

    stop, done, lo and hi as in ``block_search.pfr_blocks``; filter_dims as in ``sp_block``."""
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        m, n = sp_block(k0, k1, block_ids[i], a[s:e], b[s:e], c[s:e], nbins[s:e], strides[s:e], tstart[s:e],
                        offset, cum, lrmax_p[s:e], num_candidates, max_steps, out_bins[s:e], stop, filter_dims)
        local[i] = m
        steps[i] = n
        done[i] = 1


@numba.njit(cache=True)
def sp_candidate_values(k0, k1, block_ids, starts, lengths, nbins, strides, bins, local, mean, std, out):
    """out[s + k] = mean + std * Phi^-1((k_d + U_d) / J_d) for candidate local[i] of each block's bin."""
    for i in range(starts.shape[0]):
        s = starts[i]
        j = 0
        for k in range(lengths[i]):
            j += bins[s + k] * strides[s + k]
        kb0, kb1 = bin_key(j, block_ids[i], k0, k1)
        u_even = u_odd = 0.5
        for k in range(lengths[i]):
            if k & 1 == 0:
                u_even, u_odd = bin_uniform_pair(local[i], k >> 1, kb0, kb1)
            z = bin_normal(bins[s + k], u_odd if k & 1 else u_even, nbins[s + k])
            out[s + k] = mean[s + k] + std[s + k] * z


@numba.njit(cache=True, nogil=True)
def sp_search_keyed_blocks(k0s, k1s, block_ids, starts, lengths, a, b, c, nbins, strides, tstart, offset, cum,
                           lrmax_p, max_steps, out_bins, stop, done, lo, hi, local, steps, filter_dims=FILTER_DIMS):
    """SP-PFR on blocks lo .. hi - 1, each with its own seed key words (k0s[i], k1s[i]);
    otherwise as ``sp_search_blocks``."""
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        m, n = sp_block(k0s[i], k1s[i], block_ids[i], a[s:e], b[s:e], c[s:e], nbins[s:e], strides[s:e],
                        tstart[s:e], offset, cum, lrmax_p[s:e], 0, max_steps, out_bins[s:e], stop, filter_dims)
        local[i] = m
        steps[i] = n
        done[i] = 1
