"""SP-PFR's bin tables and search in plain numpy, bit for bit the kernel's, for small jobs.

A space-partitioned job of a few dozen dimensions (one item coded with a codec model, a
small file) takes some ten thousand candidates; the numba kernel
(``kernels.partition.sp_block``) first costs an import of numba and the loading of its
cached code (most of a second), or on a first run a compilation of several seconds.
``search_small`` runs the kernel's search with numpy on the blocks of a job while the job
stays within a budget of candidates, and leaves the blocks it did not finish to the
kernel; ``bin_tables`` is ``kernels.partition.bin_tables`` in Python. Both give the same
results as the kernels, so the file does not depend on which one ran.

How the numpy search matches the kernel exactly:
- the bin of every candidate, hence its index within its bin, is drawn as the kernel
  draws it (one private uniform per dimension with J_d > 1; the first entry of the
  dimension's cumulative weights above it); the candidates' positions come from their
  bins' generators (``rng.bin_key``, ``rng.bin_uniform_pair``);
- the kernel keeps the arrival time as a running sum t -= log V (the C library's log):
  here the same sum in Python with ``math.log``;
- the kernel adds a candidate's log ratio dimension by dimension, giving up once the
  dimensions left cannot lift it past the best, and keeps a strict improvement: here
  candidates are dropped once they cannot come within a small slack of the best, and
  those that come that close are replayed in order, exactly as the kernel scores them;
- the kernel stops at the first candidate with log t - D'_inf >= the best score: here the
  candidates near that threshold are checked in order with ``math.log``.
A target wider than the prior somewhere (an unbounded ratio) sends the job to the kernel.
"""

import functools
import itertools
import math
import operator

import numpy as np

from .interrupts import stopped_by_signals
from .philox_numpy import _philox, _to_uniform, keyed_uniforms, ndtri
from .seed import STREAM_ARRIVAL, STREAM_BIN, WORD_SHIFT

__all__ = ["DEFAULT_BUDGET", "SMALL_TABLES", "bin_tables", "sp_block_numpy", "search_small"]

SMALL_TABLES = 4096  # bins in all up to which ``bin_tables`` is worth computing in Python
BATCH = 64  # kernels.partition.BATCH
_LOG_SLACK = 1e-9  # kernels.partition._LOG_SLACK, added to D'_inf in the stopping rule
_SLACK = 1e-9  # relative: approximate scores this close to the best are replayed exactly
_FIRST_CHUNK = 16 * BATCH
_MAX_CHUNK = 256 * BATCH
_MASK = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
# Candidates a job may take in numpy before the rest goes to the kernel: about 2.5 s of
# numpy for 16 dimensions here, where a first run of the kernel compiles for 10-20 s and
# a later one loads numba and the cached kernels in 1-2 s.
DEFAULT_BUDGET = 1 << 20
# SP-PFR draws about 2^D_inf(Q||P') candidates per block, sometimes twice that: a job
# expected to need more than this many budgets goes to the kernel at once, so that the
# numpy search seldom runs out of budget and leaves its work to the kernel.
_EXPECTED_BUDGETS = 0.5


@functools.lru_cache(maxsize=256)
def _boundaries(nb):
    """kernels.partition.bin_boundary(k, nb) for k = 1 .. nb - 1: Phi^-1(k / nb) from the
    nearer tail, then +inf (the upper end of the last bin)."""
    k = np.arange(1, nb)
    lower = 2 * k <= nb
    z = ndtri(np.where(lower, k / nb, (nb - k) / nb))
    return tuple(np.where(lower, z, -z).tolist()) + (math.inf,)


def bin_tables(a, b, c, lrmax, nbins, tstart):
    """``kernels.partition.bin_tables`` in Python, bit for bit: (offset, cum, lrmax_p).

    Args:
        a, b, c, lrmax: float64 per-dimension log-ratio coefficients and suprema (nats).
        nbins: int64 J_d per dimension; tstart: int64 start of each dimension's entries.
    Returns:
        offset, cum (float64, sum(nbins) entries) and lrmax_p (float64 per dimension).
    """
    size = int(np.sum(nbins))
    offset = np.empty(size)
    cum = np.empty(size)
    lrmax_p = np.empty(len(nbins))
    for d, (nb, s) in enumerate(zip(np.asarray(nbins).tolist(), np.asarray(tstart).tolist())):
        ad, bd, cd, md = float(a[d]), float(b[d]), float(c[d]), float(lrmax[d])
        if nb == 1:
            offset[s], cum[s], lrmax_p[d] = 0.0, 1.0, md
            continue
        if not md < math.inf:
            offset[s:s + nb] = 0.0
            cum[s:s + nb] = [(k + 1) / nb for k in range(nb)]
            cum[s + nb - 1] = 1.0
            lrmax_p[d] = math.inf
            continue
        mode = -bd / (2.0 * cd) if cd < 0.0 else 0.0
        lo = -math.inf
        top = -math.inf
        peaks = []
        for hi in _boundaries(nb):
            z = min(max(mode, lo), hi)
            lm = ad + (bd + cd * z) * z
            peaks.append(lm)
            if lm > top:
                top = lm
            lo = hi
        total = 0.0
        for lm in peaks:
            total += math.exp(lm - top)
        lse = top + math.log(total)
        log_nb = math.log(nb)
        acc = 0.0
        for k, lm in enumerate(peaks):
            acc += math.exp(lm - lse)
            cum[s + k] = acc
            offset[s + k] = lse - log_nb - lm
        cum[s + nb - 1] = 1.0
        lrmax_p[d] = lse - log_nb
    return offset, cum, lrmax_p


class _LocalCounter:
    """Candidates drawn so far in each bin (the kernel's open-addressing table)."""

    def __init__(self):
        self.keys = np.empty(0, dtype=np.int64)  # sorted
        self.counts = np.empty(0, dtype=np.int64)

    def take(self, bins_j):
        """The index within its bin of each of the next candidates, whose bins are bins_j."""
        unique, inverse, counts = np.unique(bins_j, return_inverse=True, return_counts=True)
        at = np.searchsorted(self.keys, unique)
        known = at < self.keys.shape[0]
        known[known] = self.keys[at[known]] == unique[known]
        before = np.zeros(unique.shape[0], dtype=np.int64)
        before[known] = self.counts[at[known]]
        order = np.argsort(inverse, kind="stable")  # candidates grouped by bin, in order
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.empty(bins_j.shape[0], dtype=np.int64)
        rank[order] = np.arange(bins_j.shape[0]) - np.repeat(first, counts)
        self.counts[at[known]] += counts[known]
        keys = np.concatenate((self.keys, unique[~known]))
        totals = np.concatenate((self.counts, counts[~known]))
        order = np.argsort(keys, kind="stable")
        self.keys, self.counts = keys[order], totals[order]
        return before[inverse] + rank


def _bin_keys(k0, k1, block, bins_j):
    """``rng.bin_key`` of each bin in ``bins_j``: two uint64 arrays."""
    j = bins_j.astype(np.uint64)
    ones = np.ones_like(j)
    kb0, kb1, _, _ = _philox(j & _MASK, j >> _32, ones * np.uint64(block), ones * np.uint64(STREAM_BIN), k0, k1)
    return kb0, kb1


def _positions(kb0, kb1, local, pair):
    """``rng.bin_uniform_pair``: the uniforms of dimensions 2 pair and 2 pair + 1 of candidates
    ``local`` of the bins whose keys are (kb0, kb1)."""
    m = local.astype(np.uint64)
    ones = np.ones_like(m)
    w0, w1, w2, w3 = _philox(m & _MASK, m >> _32, ones * np.uint64(pair), ones * np.uint64(0), kb0, kb1)
    return _to_uniform(w0, w1), _to_uniform(w2, w3)


def _log_ratios(k0, k1, block, a, b, c, nbins, tstart, offset, lrmax_p, ks, bins_j, local, needed):
    """The log ratios of the candidates that can come within the slack of ``needed``.

    Dimensions are taken in pairs (one generator call gives both uniforms), and after each
    pair a candidate is dropped once even the other dimensions' suprema cannot lift it
    within the slack. The survivors' terms are added in dimension order from 0.0, as the
    kernel adds them, so they are bit for bit the kernel's.

    Returns:
        (kept, terms, total): survivors' offsets, their terms (dims, survivors) and sums.
    """
    d = a.shape[0]
    kept = np.arange(ks.shape[1])
    terms = np.empty((d, kept.shape[0]))
    partial = np.zeros(kept.shape[0])
    rest = float(np.sum(lrmax_p))
    kb0, kb1 = _bin_keys(k0, k1, block, bins_j)
    for pair in range((d + 1) // 2):
        u_even, u_odd = _positions(kb0[kept], kb1[kept], local[kept], pair)
        for k, u in ((2 * pair, u_even), (2 * pair + 1, u_odd)):
            if k >= d:
                break
            kk, nb = ks[k, kept], int(nbins[k])
            lower = 2 * kk < nb
            z = ndtri(np.where(lower, (kk + u) / nb, (nb - 1 - kk + (1.0 - u)) / nb))
            z = np.where(lower, z, -z)
            terms[k, kept] = a[k] + (b[k] + c[k] * z) * z + offset[tstart[k] + kk]
            partial += terms[k, kept]
            rest -= float(lrmax_p[k])
        need = needed[kept]
        alive = partial + max(rest, 0.0) > need - _SLACK * (1.0 + np.abs(need)) - 1e-9 * (1.0 + abs(rest))
        kept, partial = kept[alive], partial[alive]
    total = np.zeros(kept.shape[0])
    for k in range(d):
        total = total + terms[k, kept]
    return kept, terms[:, kept], total


def sp_block_numpy(k0, k1, block, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, max_steps, budget,
                   stop=None):
    """``kernels.partition.sp_block``'s PFR search of one block, in numpy.

    Args:
        k0, k1: key words of the seed; block: the block's counter field.
        a, b, c, nbins, strides, tstart, offset, cum, lrmax_p: as the kernel takes them
            (tstart into the flat tables offset and cum).
        max_steps (int): PFR's cap on candidates.
        budget (int): give up after this many candidates, handing the block to the kernel.
        stop (np.ndarray or None): int64[1]; the search returns (-2, steps, None) at the
            next chunk once stop[0] != 0.
    Returns:
        (local, steps, bins) as the kernel gives them (bins: int64 per dimension, None
        when no candidate was kept; local -1 when max_steps ran out), or None when the
        budget ran out or the ratio is unbounded.
    """
    d = a.shape[0]
    rest = [0.0] * d
    total = 0.0
    for k in range(d - 1, -1, -1):
        rest[k] = total
        total += float(lrmax_p[k])
    if not total < math.inf:
        return None
    total += _LOG_SLACK
    tstart = np.asarray(tstart)
    rows = [cum[tstart[k]:tstart[k] + nbins[k] - 1] for k in range(d)]
    multi = [k for k in range(d) if nbins[k] > 1]
    counter = _LocalCounter()
    best_local, best_bins, log_best = -1, None, math.inf
    t, n0, chunk = 0.0, 0, _FIRST_CHUNK
    while n0 < max_steps:
        if stop is not None and stop[0] != 0:
            return -2, n0, best_bins
        count = min(chunk, max_steps - n0)
        if n0 + count > budget:
            return None
        arrival = keyed_uniforms(k0, k1, STREAM_ARRIVAL, block, n0, count)
        # t -= log V one candidate after another, as the kernel sums
        times = np.array(list(itertools.accumulate(map(math.log, arrival.tolist()), operator.sub, initial=t))[1:])
        t = float(times[-1])
        log_t = np.log(times)
        ks = np.zeros((d, count), dtype=np.int64)
        bins_j = np.zeros(count, dtype=np.int64)
        for k in multi:
            u = keyed_uniforms(k0, k1, STREAM_ARRIVAL + WORD_SHIFT * (1 + k), block, n0, count)
            ks[k] = np.searchsorted(rows[k], u, side="right")
            bins_j += ks[k] * int(strides[k])
        local = counter.take(bins_j)
        kept, terms, lr = _log_ratios(k0, k1, block, a, b, c, nbins, tstart, offset, lrmax_p, ks, bins_j, local,
                                      log_t - log_best)
        approx = np.full(count, math.inf)
        approx[kept] = log_t[kept] - lr
        column = np.full(count, -1)
        column[kept] = np.arange(kept.shape[0])
        j = 0
        while j < count:
            ahead = slice(j, count)
            slack = _SLACK * (1.0 + abs(log_best)) if log_best < math.inf else 0.0
            event = approx[ahead] < log_best + slack
            if log_best < math.inf:
                event |= log_t[ahead] - total >= log_best - slack
            if not event.any():
                break
            n = j + int(np.argmax(event))
            exact_log_t = math.log(float(times[n]))
            if exact_log_t - total >= log_best:
                return best_local, n0 + n, best_bins
            if column[n] >= 0:
                need = exact_log_t - log_best
                score = 0.0
                alive = True
                for k in range(d):
                    score += float(terms[k, column[n]])
                    if score + rest[k] <= need:
                        alive = False
                        break
                if alive and exact_log_t - score < log_best:
                    log_best = exact_log_t - score
                    best_local = int(local[n])
                    best_bins = ks[:, n].copy()
            j = n + 1
        n0 += count
        chunk = min(2 * chunk, _MAX_CHUNK)
    return -1, max_steps, best_bins


def search_small(keys, block_ids, starts, lengths, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, max_steps,
                 bins, budget=None, progress=None):
    """SP-PFR with numpy on blocks while the job stays within ``budget`` candidates.

    A job expected to draw far more candidates than the budget (about 2^D_inf(Q||P') per
    block) is left to the kernel whole.

    Args:
        keys: (k0, k1) of the seed, or two uint64 arrays with each block's key words.
        block_ids, starts, lengths: int64 per block (counter field, first dimension, size).
        a, b, c, nbins, strides, tstart, offset, cum, lrmax_p: flat tables (``bin_tables``).
        max_steps (int): PFR's cap per block.
        bins (np.ndarray): out, int64 per dimension: the chosen candidates' bins.
        budget (int or None): candidates for the whole job; None: ``DEFAULT_BUDGET``.
        progress (callable or None): progress(blocks_done, blocks_total).
    Returns:
        tuple (local, steps, finished): int64 per block and a bool array; the blocks not
        finished are left to the kernel (their entries are undefined).
    Raises:
        Interrupted: SIGINT or SIGTERM arrived (``interrupts.stopped_by_signals``).
    """
    nb = block_ids.shape[0]
    local = np.full(nb, -1, dtype=np.int64)
    steps = np.zeros(nb, dtype=np.int64)
    finished = np.zeros(nb, dtype=bool)
    left = DEFAULT_BUDGET if budget is None else int(budget)
    sums = [float(np.sum(lrmax_p[s:s + n])) for s, n in zip(starts.tolist(), lengths.tolist())]
    expected = sum(math.exp(min(v, 700.0)) for v in sums)
    if expected > _EXPECTED_BUDGETS * left:
        return local, steps, finished
    k0s, k1s = (np.broadcast_to(np.asarray(w, dtype=np.uint64), (nb,)) for w in keys)
    stop = np.zeros(1, dtype=np.int64)
    with stopped_by_signals(stop):
        for i, (s, n, block) in enumerate(zip(starts.tolist(), lengths.tolist(), block_ids.tolist())):
            e = s + n
            found = sp_block_numpy(k0s[i], k1s[i], block, a[s:e], b[s:e], c[s:e], nbins[s:e], strides[s:e],
                                   tstart[s:e], offset, cum, lrmax_p[s:e], int(max_steps), left, stop)
            if found is None or found[0] == -2:
                break
            local[i], steps[i] = found[0], found[1]
            if found[2] is not None:
                bins[s:e] = found[2]
            finished[i] = True
            left -= found[1]
            if progress is not None:
                progress(i + 1, nb)
    return local, steps, finished
