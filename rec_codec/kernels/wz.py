"""Wyner-Ziv kernels: nested scalar quantization and REC binning (Poisson matching).

Nested scalar quantization (NSQ). A sample x with shared dither u in [-1/2, 1/2) falls in
cell k = round(x / Delta - u), the interval Delta [k + u - 1/2, k + u + 1/2); only the
coset k mod L is sent. Given side information, X | y ~ N(m, s^2), the decoder weighs
every member k' = c + L j of the coset by the Gaussian mass of its cell and returns the
MMSE estimate (soft) or the truncated mean of the heaviest cell (hard).

REC binning (Li & Anantharam, "A unified framework for one-shot achievability via the
Poisson matching lemma", IEEE Trans. IT 2021). A block of d samples has shared
candidates W_i ~ N(0, s_w^2 I), shared arrival times T_i = E_0 + ... + E_i and shared
labels l_i ~ Uniform{0..L-1}. The encoder picks i* = argmin T_i / r_x(W_i) with
r_x = N(w; x, s_v^2 I) / N(w; 0, s_w^2 I) and sends l_{i*}; the decoder takes the argmin
of T_i / r_y(W_i), r_y = N(w; m_y, (s^2 + s_v^2) I) / N(w; 0, s_w^2 I), over the
candidates that carry the label. Both searches stop by the PFR rule (T_n / r_max >= best),
which is exact, and are capped at N candidates. The soft decoder estimates
E[X | y, label, shared randomness] by importance sampling: draws of x from N(m_y, s^2 I)
and from Gaussians around the best label-matching candidates (balance heuristic), each
run through the encoder's search, weighted when it lands on the received label.
The draws' searches are exact but share scans: the candidates that can win for any point
of a ball holding a group of draws (nearby draws from N(m_y, s^2 I), or those around one
component) are listed once per group (``_ball_candidates``), and each draw searches only
its group's list.

Memory stays bounded whatever N and the thread count. Each block keeps its first
candidates, up to ``WINDOW_WORDS`` float64 words of them, generated lazily into buffers
that grow by doubling, so the searches of a block (the encoder's, the hard decoder's and
all the soft draws) that stop inside this window read the same candidates and pay the
PRNG once; a scan that goes past it generates the later candidates again, a chunk at a
time (``_next_chunk``). Nothing else grows with N: the hard decoder keeps its K best
candidates' rows, and a soft decoder's candidate list holds copies of at most
``LIST_WORDS`` words; a group whose list would not fit runs each of its draws' own
searches instead, in one pass (``_search_draws``), which choose what the list would.

The decoders never raise (an exception inside a parallel loop would leave their outputs
unwritten): they check their arguments first and return a status with their results,
``STATUS_OK``, ``STATUS_BAD_ARGUMENTS`` (nothing is computed) or ``STATUS_NOT_FINITE``
(an estimate overflowed). A variance pair that leaves the supremum of a score unbounded
makes the search scan all of its N candidates instead of dividing by zero.
"""

import math

import numba
import numpy as np

from ..rng import STREAM_ARRIVAL, STREAM_CANDIDATE, STREAM_LABEL, fill_uniforms, ndtri_as241, stream_word

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CHUNK = 64
WINDOW_WORDS = 2**20  # float64 words of candidates a block keeps in memory (8 MiB a thread)
LIST_WORDS = 2**20  # float64 words of a soft decoder's candidate list (8 MiB a thread)
REACH = 10.0  # cells farther than this many posterior stds carry no mass in double precision
STATUS_OK = 0
STATUS_BAD_ARGUMENTS = 1
STATUS_NOT_FINITE = 2
_MAX_CELL_INDEX = 2.0**52  # |x / delta| past this has no exact cell index in float64


# --------------------------------------------------------------------------- NSQ


@numba.njit(cache=True, inline="always")
def _normal_mass(lo, hi):
    """Phi(hi) - Phi(lo) for lo <= hi, accurate in both tails."""
    if lo >= 0.0:
        return 0.5 * (math.erfc(lo * _SQRT_HALF) - math.erfc(hi * _SQRT_HALF))
    if hi <= 0.0:
        return 0.5 * (math.erfc(-hi * _SQRT_HALF) - math.erfc(-lo * _SQRT_HALF))
    return 1.0 - 0.5 * math.erfc(hi * _SQRT_HALF) - 0.5 * math.erfc(-lo * _SQRT_HALF)


@numba.njit(cache=True, inline="always")
def _pdf(z):
    return _INV_SQRT_2PI * math.exp(-0.5 * z * z)


@numba.njit(cache=True, parallel=True)
def coset_probabilities(u, delta, cosets, scale):
    """P(k mod L = c | u) for X ~ N(0, scale^2): one row of L probabilities per dither.

    Args:
        u: float64 (n,) dithers in [-1/2, 1/2).
        delta: cell width.
        cosets: L.
        scale: standard deviation of X's marginal.
    Returns:
        float64 (n, L).
    """
    n = u.shape[0]
    out = np.zeros((n, cosets))
    reach = int(math.ceil(REACH * scale / delta)) + 2
    w = delta / scale
    for i in numba.prange(n):
        for k in range(-reach, reach + 1):
            lo = (k + u[i] - 0.5) * w
            c = k % cosets
            if c < 0:
                c += cosets
            out[i, c] += _normal_mass(lo, lo + w)
    return out


@numba.njit(cache=True, parallel=True)
def nsq_decode(mean, s, cosets_sent, u, delta, cosets, soft):
    """Decode nested scalar quantization with X | y ~ N(mean, s^2).

    Args:
        mean: float64 (n,) posterior means E[X | y].
        s: posterior standard deviation (one for all samples).
        cosets_sent: int64 (n,) received k mod L.
        u: float64 (n,) dithers.
        delta, cosets: Delta and L.
        soft: True for the MMSE estimate over the coset, False for the heaviest cell.
    Returns:
        (xhat, khat, status): float64 (n,) estimates, int64 (n,) most likely cells, and
        STATUS_OK, STATUS_BAD_ARGUMENTS (s, delta or L not positive and finite, a received
        coset out of range) or STATUS_NOT_FINITE (a posterior mean too far out for the
        cell width, or an estimate that overflowed).
    """
    n = mean.shape[0]
    xhat = np.zeros(n)
    khat = np.zeros(n, dtype=np.int64)
    if not (0.0 < s < math.inf and 0.0 < delta < math.inf and cosets >= 1 and cosets_sent.shape[0] == n
            and u.shape[0] == n):
        return xhat, khat, STATUS_BAD_ARGUMENTS
    for i in range(n):
        if not 0 <= cosets_sent[i] < cosets:
            return xhat, khat, STATUS_BAD_ARGUMENTS
    period = float(cosets)
    reach = REACH * s / delta + 1.0
    bad = np.zeros(n, dtype=np.bool_)
    for i in numba.prange(n):
        m = mean[i]
        c = cosets_sent[i]
        centre = m / delta - u[i]  # the cell index (real) of the posterior mean
        if not abs(centre) + reach + period < _MAX_CELL_INDEX:
            bad[i] = True
            continue
        j_lo = int(math.floor((centre - reach - c) / period))
        j_hi = int(math.ceil((centre + reach - c) / period))
        num = 0.0
        den = 0.0
        best_p = -1.0
        best_mu = 0.0
        best_k = 0
        near_k = 0
        near_d = math.inf
        for j in range(j_lo, j_hi + 1):
            k = c + cosets * j
            left = delta * (k + u[i] - 0.5)
            dist = abs(left + 0.5 * delta - m)
            if dist < near_d:
                near_d = dist
                near_k = k
            lo = (left - m) / s
            hi = lo + delta / s
            p = _normal_mass(lo, hi)
            if p <= 0.0:
                continue
            mu = m + s * (_pdf(lo) - _pdf(hi)) / p
            mu = min(max(mu, left), left + delta)
            num += p * mu
            den += p
            if p > best_p:
                best_p = p
                best_mu = mu
                best_k = k
        if den > 0.0:
            xhat[i] = num / den if soft else best_mu
            khat[i] = best_k
        else:  # no member within reach: the nearest cell, clipped
            left = delta * (near_k + u[i] - 0.5)
            xhat[i] = min(max(m, left), left + delta)
            khat[i] = near_k
        if not abs(xhat[i]) < math.inf:
            bad[i] = True
    return xhat, khat, STATUS_NOT_FINITE if bad.any() else STATUS_OK


# --------------------------------------------------------------------------- REC binning


@numba.njit(cache=True)
def _window_size(d, cap):
    """Candidates of a block that stay in memory: the first ``WINDOW_WORDS / (d + 2)``,
    a multiple of the chunk, at most N."""
    return min(cap, max(_CHUNK, WINDOW_WORDS // (d + 2) // _CHUNK * _CHUNK))


@numba.njit(cache=True)
def _candidate_buffers(d):
    """Empty candidate buffers (w, log_t, labels: one chunk, grown on demand) and the
    uniforms' scratch."""
    return np.empty(_CHUNK * d), np.empty(_CHUNK), np.empty(_CHUNK, dtype=np.int64), np.empty(_CHUNK)


@numba.njit(cache=True)
def _grow(w, log_t, labels, d, need, limit):
    """Buffers with room for at least ``need`` candidates (capacity doubles, at most ``limit``)."""
    cap = labels.shape[0]
    while cap < need:
        cap *= 2
    cap = max(need, min(cap, limit))
    w2 = np.empty(cap * d)
    t2 = np.empty(cap)
    l2 = np.empty(cap, dtype=np.int64)
    have = labels.shape[0]
    w2[: have * d] = w[: have * d]
    t2[:have] = log_t[:have]
    l2[:have] = labels[:have]
    return w2, t2, l2


@numba.njit(cache=True)
def _generate(w, log_t, labels, slot, first, count, t_prev, block, d, sw, num_labels, k0, k1, tmp):
    """Write candidates first..first+count-1 of a block to slots slot..slot+count-1; returns
    the arrival time of the last, given ``t_prev``, that of candidate first - 1 (0 for none)."""
    buf = tmp[:count]
    for k in range(d):
        fill_uniforms(buf, first, block, stream_word(STREAM_CANDIDATE, k), k0, k1)
        for j in range(count):
            w[(slot + j) * d + k] = sw * ndtri_as241(buf[j])
    fill_uniforms(buf, first, block, stream_word(STREAM_LABEL, 0), k0, k1)
    for j in range(count):
        lab = int(buf[j] * num_labels)
        labels[slot + j] = lab if lab < num_labels else num_labels - 1
    fill_uniforms(buf, first, block, stream_word(STREAM_ARRIVAL, 0), k0, k1)
    t = t_prev
    for j in range(count):
        t -= math.log(buf[j])
        log_t[slot + j] = math.log(t)
    return t


@numba.njit(cache=True)
def _next_chunk(w, log_t, labels, n, have, t_have, t_stream, block, d, sw, num_labels, k0, k1, tmp, cap):
    """Make candidates n, n + 1, ... of a block readable, for a scan that has read 0..n-1.

    Candidates below the window (``_window_size``) are generated once and kept: slots 0..have-1
    hold candidates 0..have-1, and ``t_have`` is the arrival time of candidate have - 1.
    Candidates past it are generated again by every scan that reaches them, a chunk at a
    time, into the slots after the window; ``t_stream`` carries the arrival time of the
    scan's last candidate from one of its chunks to the next (arrival times are running
    sums, the only state the counter-based generator does not give directly).

    Returns:
        (w, log_t, labels, stop, shift, have, t_have, t_stream): candidates n..stop-1 sit
        in slots n - shift .. stop - 1 - shift.
    """
    window = _window_size(d, cap)
    if n < have:
        return w, log_t, labels, have, 0, have, t_have, t_stream
    limit = window + _CHUNK if window < cap else window
    if n < window:
        stop = min(n + _CHUNK, window)
        if stop > labels.shape[0]:
            w, log_t, labels = _grow(w, log_t, labels, d, stop, limit)
        t_have = _generate(w, log_t, labels, n, n, stop - n, t_have, block, d, sw, num_labels, k0, k1, tmp)
        return w, log_t, labels, stop, 0, stop, t_have, t_stream
    if n == window:  # the window is full: continue from its last arrival time
        t_stream = t_have
    stop = min(n + _CHUNK, cap)
    if labels.shape[0] < limit:
        w, log_t, labels = _grow(w, log_t, labels, d, limit, limit)
    t_stream = _generate(w, log_t, labels, window, n, stop - n, t_stream, block, d, sw, num_labels, k0, k1, tmp)
    return w, log_t, labels, stop, n - window, have, t_have, t_stream


@numba.njit(cache=True)
def _log_r_rest(w, n, d, x, inv_v, inv_w):
    """sum_k -(w_k - x_k)^2 / (2 var) + w_k^2 / (2 s_w^2) of the candidate in slot n,
    without the constant term."""
    total = 0.0
    base = n * d
    for k in range(d):
        wk = w[base + k]
        diff = wk - x[k]
        total += wk * wk * inv_w - diff * diff * inv_v
    return 0.5 * total


@numba.njit(cache=True)
def _score_terms(centre, rho, d, var, sw2):
    """(1/var, 1/sw2, const, lrmax) of log r_x(w) = const + |w|^2 / (2 sw2) - |w - x|^2 / (2 var).

    lrmax bounds log r_x(w) over every w and every x within ``rho`` of ``centre``:
    const + (|centre| + rho)^2 / (2 (sw2 - var)), or +inf when sw2 <= var.
    """
    csq = 0.0
    for k in range(d):
        csq += centre[k] * centre[k]
    reach_sq = csq if rho == 0.0 else (math.sqrt(csq) + rho) ** 2
    const = 0.5 * d * math.log(sw2 / var)
    spread = sw2 - var
    if not spread > 0.0:  # no finite supremum (sw2 <= var, or lost to rounding): scan all N
        return 1.0 / var, 1.0 / sw2, const, math.inf
    return 1.0 / var, 1.0 / sw2, const, const + 0.5 * reach_sq / spread


@numba.njit(cache=True)
def _search(w, log_t, labels, have, t_have, block, d, sw, num_labels, k0, k1, tmp,
            x, var, sw2, cap):
    """argmin_n log T_n - log r(W_n) over n < cap, r = N(w; x, var I) / N(w; 0, sw2 I).

    Candidates come from ``_next_chunk``. Returns (best index, its label, buffers, have,
    t_have).
    """
    inv_v, inv_w, const, lrmax = _score_terms(x, 0.0, d, var, sw2)
    best = math.inf
    best_n = -1
    best_label = -1
    t_stream = 0.0
    n = 0
    done = False
    while n < cap and not done:
        w, log_t, labels, stop, shift, have, t_have, t_stream = _next_chunk(
            w, log_t, labels, n, have, t_have, t_stream, block, d, sw, num_labels, k0, k1, tmp, cap)
        for i in range(n, stop):  # the buffers stay put in here, which keeps the loop tight
            slot = i - shift
            lt = log_t[slot]
            if lt - lrmax >= best:
                done = True
                break
            score = lt - const - _log_r_rest(w, slot, d, x, inv_v, inv_w)
            if score < best:
                best = score
                best_n = i
                best_label = labels[slot]
        n = stop
    return best_n, best_label, w, log_t, labels, have, t_have


@numba.njit(cache=True)
def _search_draws(w, log_t, labels, have, t_have, block, d, sw, num_labels, k0, k1, tmp,
                  draws, mine, var, sw2, cap, winner_label):
    """``_search`` for each draw ``draws[j]``, j in ``mine``, all in one pass over the
    candidates; the winner's label goes to ``winner_label[j]`` (-1: none). Returns
    (buffers, have, t_have)."""
    count = mine.shape[0]
    best = np.full(count, math.inf)
    lrmax = np.empty(count)
    inv_v = inv_w = const = 0.0
    for a in range(count):
        winner_label[mine[a]] = -1
        inv_v, inv_w, const, lrmax[a] = _score_terms(draws[mine[a]], 0.0, d, var, sw2)
    live = np.ones(count, dtype=np.bool_)
    alive = count
    t_stream = 0.0
    n = 0
    while n < cap and alive > 0:
        w, log_t, labels, stop, shift, have, t_have, t_stream = _next_chunk(
            w, log_t, labels, n, have, t_have, t_stream, block, d, sw, num_labels, k0, k1, tmp, cap)
        for a in range(count):
            if not live[a]:
                continue
            x = draws[mine[a]]
            for i in range(n, stop):
                slot = i - shift
                lt = log_t[slot]
                if lt - lrmax[a] >= best[a]:
                    live[a] = False
                    alive -= 1
                    break
                score = lt - const - _log_r_rest(w, slot, d, x, inv_v, inv_w)
                if score < best[a]:
                    best[a] = score
                    winner_label[mine[a]] = labels[slot]
        n = stop
    return w, log_t, labels, have, t_have


@numba.njit(cache=True)
def _list_buffers(d, cap):
    """Room for a candidate list (``_ball_candidates``): rows, log T, labels, indices and
    lowest scores of at most ``LIST_WORDS / (d + 4)`` candidates (and at most N)."""
    size = min(cap, max(_CHUNK, LIST_WORDS // (d + 4)))
    return np.empty(size * d), np.empty(size), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), \
        np.empty(size)


@numba.njit(cache=True)
def _keep_possible(list_w, list_t, list_l, list_n, list_low, count, d, upper):
    """Drop the listed candidates whose lowest score exceeds ``upper``, keeping the order;
    returns how many stay."""
    kept = 0
    for i in range(count):
        if list_low[i] <= upper:
            if kept != i:
                for k in range(d):
                    list_w[kept * d + k] = list_w[i * d + k]
                list_t[kept] = list_t[i]
                list_l[kept] = list_l[i]
                list_n[kept] = list_n[i]
                list_low[kept] = list_low[i]
            kept += 1
    return kept


@numba.njit(cache=True)
def _ball_candidates(w, log_t, labels, have, t_have, block, d, sw, num_labels, k0, k1, tmp,
                     m, rho, var, sw2, cap, list_w, list_t, list_l, list_n, list_low):
    """Every candidate that can win the encoder's search for some x within ``rho`` of m.

    With r_x as in ``_search``, log r_x(w) lies between const + |w|^2 / (2 s_w^2) -
    (|w - m| + rho)^2 / (2 var) and the same with the distance to the ball,
    max(0, |w - m| - rho), in place of |w - m| + rho. So U = min_n [log T_n - that lower
    bound on log r] is at least the best score of any x in the ball, and a candidate whose
    lowest possible score exceeds U never wins; scanning stops once log T_n minus the
    largest log r over the ball reaches U.

    The list holds copies (row, log T, label, index, lowest score), in arrival order, in
    the ``_list_buffers`` given. U only falls during the scan, so a full list drops the
    candidates already beyond it and goes on; when that frees less than half of it, the
    scan gives up.

    Returns:
        (count, buffers, have, t_have): the number of candidates listed, or -1 when they
        would not fit.
    """
    inv_v, inv_w, const, lrmax = _score_terms(m, rho, d, var, sw2)
    room = list_t.shape[0]
    upper = math.inf
    count = 0
    t_stream = 0.0
    n = 0
    done = False
    while n < cap and not done:
        w, log_t, labels, stop, shift, have, t_have, t_stream = _next_chunk(
            w, log_t, labels, n, have, t_have, t_stream, block, d, sw, num_labels, k0, k1, tmp, cap)
        for i in range(n, stop):  # the buffers stay put in here, which keeps the loop tight
            slot = i - shift
            lt = log_t[slot]
            if lt - lrmax >= upper:
                done = True
                break
            wsq = 0.0
            dist = 0.0
            for k in range(d):
                wk = w[slot * d + k]
                wsq += wk * wk
                dist += (wk - m[k]) ** 2
            dist = math.sqrt(dist)
            base = lt - const - 0.5 * wsq * inv_w
            far = dist + rho
            near = max(0.0, dist - rho)
            high = base + 0.5 * far * far * inv_v
            low = base + 0.5 * near * near * inv_v
            if high < upper:
                upper = high
            if low <= upper:
                if count == room:
                    count = _keep_possible(list_w, list_t, list_l, list_n, list_low, count, d, upper)
                    if 2 * count > room:
                        return -1, w, log_t, labels, have, t_have
                for k in range(d):
                    list_w[count * d + k] = w[slot * d + k]
                list_t[count] = lt
                list_l[count] = labels[slot]
                list_n[count] = i
                list_low[count] = low
                count += 1
        n = stop
    count = _keep_possible(list_w, list_t, list_l, list_n, list_low, count, d, upper)  # U only fell
    return count, w, log_t, labels, have, t_have


@numba.njit(cache=True)
def _search_list(list_w, list_t, count, d, x, var, sw2):
    """``_search`` over the first ``count`` listed candidates (arrival order); returns the
    winner's position in the list, -1 for none."""
    inv_v, inv_w, const, lrmax = _score_terms(x, 0.0, d, var, sw2)
    best = math.inf
    best_i = -1
    for i in range(count):
        lt = list_t[i]
        if lt - lrmax >= best:
            break
        score = lt - const - _log_r_rest(list_w, i, d, x, inv_v, inv_w)
        if score < best:
            best = score
            best_i = i
    return best_i


@numba.njit(cache=True, parallel=True)
def rec_encode(k0, k1, x, starts, lengths, sw2, sv2, num_labels, cap):
    """The encoder's choice i* and its label for every block.

    Each block keeps at most ``WINDOW_WORDS`` words of candidates, whatever N.

    Args:
        k0, k1: key words of the seed.
        x: float64 flat samples.
        starts, lengths: int64 block slices of x (block b has counter field b).
        sw2, sv2: variances of W's marginal and of the test channel V.
        num_labels: L.
        cap: N, the most candidates per block.
    Returns:
        (indices, labels): int64 arrays, one entry per block.
    """
    nb = starts.shape[0]
    indices = np.empty(nb, dtype=np.int64)
    labs = np.empty(nb, dtype=np.int64)
    sw = math.sqrt(sw2)
    for b in numba.prange(nb):
        d = lengths[b]
        w, log_t, labels, tmp = _candidate_buffers(d)
        xb = x[starts[b]: starts[b] + d].copy()
        best, best_label, w, log_t, labels, have, t_have = _search(
            w, log_t, labels, 0, 0.0, b, d, sw, num_labels, k0, k1, tmp, xb, sv2, sw2, cap)
        indices[b] = best
        labs[b] = best_label
    return indices, labs


@numba.njit(cache=True)
def _top_matching(w, log_t, labels, have, t_have, block, d, sw, num_labels, k0, k1, tmp,
                  m, vy, sw2, cap, want_label, top_n, top_s, top_w):
    """The hard decoder's search keeping the K best label-matching candidates (sorted):
    indices, scores and rows (K, d). Returns (buffers, have, t_have)."""
    kk = top_n.shape[0]
    for i in range(kk):
        top_n[i] = -1
        top_s[i] = math.inf
    inv_v, inv_w, const, lrmax = _score_terms(m, 0.0, d, vy, sw2)
    t_stream = 0.0
    n = 0
    done = False
    while n < cap and not done:
        w, log_t, labels, stop, shift, have, t_have, t_stream = _next_chunk(
            w, log_t, labels, n, have, t_have, t_stream, block, d, sw, num_labels, k0, k1, tmp, cap)
        for c in range(n, stop):  # the buffers stay put in here, which keeps the loop tight
            slot = c - shift
            lt = log_t[slot]
            if lt - lrmax >= top_s[kk - 1]:
                done = True
                break
            if labels[slot] == want_label:
                score = lt - const - _log_r_rest(w, slot, d, m, inv_v, inv_w)
                if score < top_s[kk - 1]:
                    i = kk - 1
                    while i > 0 and top_s[i - 1] > score:
                        top_s[i] = top_s[i - 1]
                        top_n[i] = top_n[i - 1]
                        for k in range(d):
                            top_w[i, k] = top_w[i - 1, k]
                        i -= 1
                    top_s[i] = score
                    top_n[i] = c
                    for k in range(d):
                        top_w[i, k] = w[slot * d + k]
        n = stop
    return w, log_t, labels, have, t_have


@numba.njit(cache=True)
def _group_members(group, groups):
    """Draw indices sorted by group (stable), and each group's offsets into them."""
    offsets = np.zeros(groups + 1, dtype=np.int64)
    for j in range(group.shape[0]):
        offsets[group[j] + 1] += 1
    for g in range(groups):
        offsets[g + 1] += offsets[g]
    fill = offsets[:groups].copy()
    members = np.empty(group.shape[0], dtype=np.int64)
    for j in range(group.shape[0]):
        members[fill[group[j]]] = j
        fill[group[j]] += 1
    return members, offsets


@numba.njit(cache=True)
def _all_finite(values):
    for v in values:
        if not abs(v) < math.inf:
            return False
    return True


@numba.njit(cache=True)
def _rec_arguments_ok(mean, starts, lengths, sc2, sw2, sv2, num_labels, cap, sent, z_prior, prior_group,
                      prior_groups, z_comp, components, inflate):
    """Whether ``rec_decode`` can run on these arguments without an error."""
    for v in (sc2, sw2, sv2, inflate):
        if not 0.0 < v < math.inf:
            return False
    if not (sc2 + sv2 < math.inf and min(inflate * sc2 / (sc2 + sv2) * sv2, sc2) > 0.0):
        return False  # the posterior given (y, w) and the components' variance
    if num_labels < 1 or cap < 1 or components < 1 or prior_groups < 1:
        return False
    nb = starts.shape[0]
    if lengths.shape[0] != nb or sent.shape[0] != nb or prior_group.shape[0] != z_prior.shape[0]:
        return False
    for b in range(nb):
        if lengths[b] < 1 or starts[b] < 0 or starts[b] + lengths[b] > mean.shape[0]:
            return False
        if lengths[b] > z_prior.shape[1] or lengths[b] > z_comp.shape[1]:
            return False
        if not 0 <= sent[b] < num_labels:
            return False
    for g in prior_group:
        if not 0 <= g < prior_groups:
            return False
    return _all_finite(mean)


@numba.njit(cache=True, parallel=True)
def rec_decode(k0, k1, mean, starts, lengths, sc2, sw2, sv2, num_labels, cap, sent, soft,
               z_prior, prior_group, prior_groups, z_comp, components, inflate):
    """Decode REC binning with X | y ~ N(mean, sc2 I) per block.

    Each block keeps at most ``WINDOW_WORDS`` words of candidates and ``LIST_WORDS`` of a
    candidate list, whatever N, besides its draws.

    Args:
        k0, k1: key words of the seed.
        mean: float64 flat posterior means E[X | y].
        starts, lengths: int64 block slices.
        sc2, sw2, sv2: conditional variance of X, variance of W, of V.
        num_labels, cap: L and N.
        sent: int64 received labels, one per block.
        soft: False for the hard decoder (linear estimate from the chosen candidate).
        z_prior: float64 (G0, dmax) standard normals: draws from N(mean, sc2 I).
        prior_group: int64 (G0,) the group of each prior draw, in [0, prior_groups): nearby
            draws share a candidate list. Any grouping gives the same estimate; a tight one
            gives short lists.
        prior_groups: the number of groups of prior draws.
        z_comp: float64 (Gc, dmax) standard normals: draws around each of the
            ``components`` best label-matching candidates.
        components: K.
        inflate: variance of the components over the posterior given (y, w).
    Returns:
        (xhat, indices, status): float64 flat estimates, int64 hard choices (-1: no
        candidate carries the label), and STATUS_OK, STATUS_BAD_ARGUMENTS (a variance not
        positive and finite, L, N or K below 1, blocks, labels, draws or groups that do
        not fit; nothing is computed) or STATUS_NOT_FINITE (an estimate overflowed).
    """
    nb = starts.shape[0]
    xhat = np.zeros(mean.shape[0])
    indices = np.full(nb, -1, dtype=np.int64)
    if not _rec_arguments_ok(mean, starts, lengths, sc2, sw2, sv2, num_labels, cap, sent, z_prior, prior_group,
                             prior_groups, z_comp, components, inflate):
        return xhat, indices, STATUS_BAD_ARGUMENTS
    bad = np.zeros(nb, dtype=np.bool_)
    sw = math.sqrt(sw2)
    vy = sc2 + sv2
    beta = sc2 / vy
    tau2 = min(inflate * beta * sv2, sc2)
    g0 = z_prior.shape[0]
    gc = z_comp.shape[0]
    prior_members, prior_offsets = _group_members(prior_group, prior_groups)
    for b in numba.prange(nb):
        d = lengths[b]
        s0 = starts[b]
        m = mean[s0: s0 + d].copy()
        w, log_t, labels, tmp = _candidate_buffers(d)
        top_n = np.empty(max(components, 1), dtype=np.int64)
        top_s = np.empty(max(components, 1))
        top_w = np.empty((max(components, 1), d))
        w, log_t, labels, have, t_have = _top_matching(
            w, log_t, labels, 0, 0.0, b, d, sw, num_labels, k0, k1, tmp, m, vy, sw2, cap, sent[b], top_n, top_s,
            top_w)
        best = top_n[0]
        indices[b] = best
        hard = m.copy()
        if best >= 0:
            for k in range(d):
                hard[k] = m[k] + beta * (top_w[0, k] - m[k])
        if not soft or best < 0:
            xhat[s0: s0 + d] = hard
            bad[b] = not _all_finite(hard)
            continue
        kc = 0
        for i in range(top_n.shape[0]):
            if top_n[i] >= 0:
                kc += 1
        centres = np.empty((kc, d))
        for i in range(kc):
            for k in range(d):
                centres[i, k] = m[k] + beta * (top_w[i, k] - m[k])
        total = g0 + kc * gc
        log_a0 = math.log(g0 / total) - 0.5 * d * math.log(sc2) if g0 > 0 else -math.inf
        log_ac = math.log(gc / total) - 0.5 * d * math.log(tau2) if gc > 0 else -math.inf
        acc = np.zeros(d)
        wsum = 0.0
        ndraws = g0 + kc * gc
        draws = np.empty((ndraws, d))
        for j in range(ndraws):
            for k in range(d):
                if j < g0:
                    draws[j, k] = m[k] + math.sqrt(sc2) * z_prior[j, k]
                else:
                    draws[j, k] = centres[(j - g0) // gc, k] + math.sqrt(tau2) * z_comp[(j - g0) % gc, k]
        # Groups 0 .. prior_groups - 1 hold the draws from p(x|y), group prior_groups + i those
        # around centre i. The candidates that can win for any draw of a group are listed in
        # one scan of a ball around the group, and its draws search only that list; a list
        # too long for its buffers gives way to one pass of every draw's own search.
        # members[offsets[g]:offsets[g + 1]]: the draws of group g
        groups = prior_groups + kc
        members = np.empty(ndraws, dtype=np.int64)
        members[:g0] = prior_members
        offsets = np.empty(groups + 1, dtype=np.int64)
        offsets[: prior_groups + 1] = prior_offsets
        for j in range(g0, ndraws):
            members[j] = j
        for i in range(kc):
            offsets[prior_groups + 1 + i] = g0 + (i + 1) * gc
        winner_label = np.empty(ndraws, dtype=np.int64)  # label of each draw's choice, -1: none
        list_w, list_t, list_l, list_n, list_low = _list_buffers(d, cap)
        centre = np.empty(d)
        for group in range(groups):
            mine = members[offsets[group]: offsets[group + 1]]
            if mine.shape[0] == 0:
                continue
            centre[:] = 0.0
            for j in mine:
                for k in range(d):
                    centre[k] += draws[j, k]
            for k in range(d):
                centre[k] /= mine.shape[0]
            rho = 0.0
            for j in mine:
                r2 = 0.0
                for k in range(d):
                    r2 += (draws[j, k] - centre[k]) ** 2
                rho = max(rho, math.sqrt(r2))
            count, w, log_t, labels, have, t_have = _ball_candidates(
                w, log_t, labels, have, t_have, b, d, sw, num_labels, k0, k1, tmp, centre, rho, sv2, sw2, cap,
                list_w, list_t, list_l, list_n, list_low)
            if count < 0:
                w, log_t, labels, have, t_have = _search_draws(
                    w, log_t, labels, have, t_have, b, d, sw, num_labels, k0, k1, tmp, draws, mine, sv2, sw2, cap,
                    winner_label)
                continue
            for j in mine:
                i = _search_list(list_w, list_t, count, d, draws[j], sv2, sw2)
                winner_label[j] = list_l[i] if i >= 0 else -1
        for j in range(ndraws):  # in draw order, so the sums do not depend on the grouping
            xs = draws[j]
            if winner_label[j] != sent[b]:
                continue
            # balance heuristic: weight p(x|y) / sum_c a_c q_c(x), constants (2 pi)^(d/2) cancel
            q0 = 0.0
            for k in range(d):
                q0 += (xs[k] - m[k]) ** 2
            log_p = -0.5 * q0 / sc2 - 0.5 * d * math.log(sc2)
            top = log_a0 - 0.5 * q0 / sc2
            logs = np.empty(kc + 1)
            logs[0] = top
            for i in range(kc):
                qi = 0.0
                for k in range(d):
                    qi += (xs[k] - centres[i, k]) ** 2
                logs[i + 1] = log_ac - 0.5 * qi / tau2
                if logs[i + 1] > top:
                    top = logs[i + 1]
            s = 0.0
            for i in range(kc + 1):
                s += math.exp(logs[i] - top)
            weight = math.exp(log_p - top - math.log(s))
            wsum += weight
            for k in range(d):
                acc[k] += weight * xs[k]
        if wsum > 0.0:
            for k in range(d):
                xhat[s0 + k] = acc[k] / wsum
        else:
            xhat[s0: s0 + d] = hard
        bad[b] = not _all_finite(xhat[s0: s0 + d])
    return xhat, indices, STATUS_NOT_FINITE if bad.any() else STATUS_OK
