"""PFR's search in plain numpy, bit for bit the kernel's, for jobs too small to pay for numba.

A small target's whole search takes a few thousand candidates, milliseconds of work; the
numba kernel (``kernels.pfr.pfr_block``) first costs an import of numba and the loading of
its cached code (most of a second), or on a first run a compilation of several seconds.
``search_small`` runs the kernel's search with numpy on the blocks of a job while the job
stays within a budget of candidates, and leaves the blocks it did not finish to the kernel.
Both give the same index and steps, so the file does not depend on which one searched.

How the numpy search matches the kernel exactly:
- the kernel draws candidates in batches of ``BATCH`` and keeps the arrival time of
  candidate j of a batch as T0 - log(V_0 ... V_j), T0 moving on at the end of each batch by
  the logarithm of the batch's product: here a cumulative product per batch, and T0 per
  batch with ``math.log`` (the C library's, which the kernel calls too);
- the kernel scores only candidates that can beat the best one (its filter keeps every
  candidate that can; see ``kernels.ratio``) and keeps a strict improvement: here every
  candidate gets an approximate score (numpy's log), and only candidates within a small
  slack of the best are scored exactly, in order, as the kernel scores them;
- the kernel stops at the first candidate whose product falls to exp(T0 - best r_max):
  that threshold is computed per batch with ``math``, and the products compared exactly.
A product below 10^-250 (which the kernel folds into T0 to avoid underflow; about e^-575,
never met in practice) sends the block to the kernel.
"""

import math

import numpy as np

from .interrupts import stopped_by_signals
from .philox_numpy import ndtri, philox_uniforms, uniforms_at
from .seed import STREAM_ARRIVAL, STREAM_CANDIDATE, WORD_SHIFT

__all__ = ["BATCH", "DEFAULT_BUDGET", "pfr_block_numpy", "search_small"]

BATCH = 64  # kernels.pfr.BATCH: candidates per product of arrival times
_TINY = 1e-250  # kernels.pfr._TINY: the kernel folds a product below this into T0
_FIRST_CHUNK = 16 * BATCH
_MAX_CHUNK = 256 * BATCH
_SQRT_HALF = math.sqrt(0.5)
_SLACK = 1e-9  # relative: approximate scores this close to the best are scored exactly
# Candidates a job may take in numpy before the rest goes to the kernel: about 0.1-0.3 s of
# numpy here, less than importing numba and loading its kernels.
DEFAULT_BUDGET = 1 << 19
# PFR draws about e^D_inf candidates per block (D_inf in nats, the sum of lrmax): a job
# expected to need more than this many budgets goes to the kernel at once, rather than
# spending a budget of numpy first.
_EXPECTED_BUDGETS = 8


def _sequential_sum(values):
    """0.0 + values[0] + values[1] + ..., in order, as the kernel's loops add."""
    total = 0.0
    for value in values.tolist():
        total += value
    return total


def _exp(x):
    """math.exp, with infinity on overflow as in the kernel (Python raises instead)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _inside(u, a, b, c, lrmax, theta):
    """Which uniforms u of one dimension can give a term a + b z + c z^2 (z = Phi^-1(u))
    above theta (less a slack), by an interval of u as ``kernels.ratio`` computes it; None
    when every one can (c >= 0, or theta out of reach below)."""
    theta -= _SLACK * (1.0 + abs(theta)) + 1e-9
    if not c < 0.0 or not math.isfinite(theta):
        return None
    w = math.sqrt(max(lrmax - theta, 0.0) / -c) * (1.0 + 1e-9) + 1e-9
    centre = -b / (2.0 * c)
    lo = 0.5 * math.erfc((w - centre) * _SQRT_HALF)
    hi = 0.5 * math.erfc((-centre - w) * _SQRT_HALF)
    return (u > lo) & (u < hi)


def _log_ratios(seed, block, n0, a, b, c, lrmax, needed):
    """The log ratios of the candidates n0 + i that can reach ``needed[i]`` (approximately).

    Dimensions are drawn narrowest first (the kernel's filter order), and after each one a
    candidate is dropped once even the other dimensions' suprema cannot lift its partial
    sum within a small slack of ``needed``. The survivors' log ratios are then added in
    dimension order, as the kernel adds them, so they are bit for bit the kernel's.

    Returns:
        tuple (kept, total): the survivors' offsets i (int64) and their log ratios.
    """
    d = a.shape[0]
    count = needed.shape[0]
    kept = np.arange(count)
    terms = {}
    partial = np.zeros(count)
    rest = float(np.sum(lrmax))
    for k in np.argsort(c, kind="stable").tolist():
        stream = STREAM_CANDIDATE + WORD_SHIFT * k
        if kept.shape[0] == count:
            u = philox_uniforms(seed, stream, block, n0, count)
        else:
            u = uniforms_at(seed, stream, block, n0 + kept)
        rest -= float(lrmax[k])
        inside = _inside(u, a[k], b[k], c[k], lrmax[k], float(np.min(needed - partial, initial=math.inf)) - rest)
        if inside is not None:
            kept, partial, needed, u = kept[inside], partial[inside], needed[inside], u[inside]
            terms = {j: t[inside] for j, t in terms.items()}
        z = ndtri(u)
        terms[k] = a[k] + (b[k] + c[k] * z) * z
        partial += terms[k]
        alive = partial + rest > needed - _SLACK * (1.0 + np.abs(needed)) - 1e-9 * (1.0 + abs(rest))
        if not alive.all():
            kept, partial, needed = kept[alive], partial[alive], needed[alive]
            terms = {j: t[alive] for j, t in terms.items()}
    total = np.zeros(kept.shape[0])
    for k in range(d):  # in dimension order, as log_ratio_of_uniforms adds
        total += terms[k]
    return kept, total


def pfr_block_numpy(seed, block, a, b, c, lrmax, max_steps, budget, stop=None):
    """``kernels.pfr.pfr_block``'s search of one block, in numpy.

    Args:
        seed (int): shared seed.
        block (int): block index (counter field).
        a, b, c, lrmax (np.ndarray): the block's log-ratio coefficients and suprema.
        max_steps (int): give up after this many candidates.
        budget (int): give up after this many candidates, handing the block to the kernel.
        stop (np.ndarray or None): int64[1]; the search returns (-2, steps) at the next
            chunk of candidates once stop[0] != 0, as the kernel does.
    Returns:
        tuple (index, steps) as the kernel returns them (index -1 when max_steps ran out),
        or None when the budget ran out or a product fell below 10^-250.
    """
    lrmax_total = _sequential_sum(lrmax)
    best, log_best, t0, n0, chunk = -1, math.inf, 0.0, 0, _FIRST_CHUNK
    while n0 < max_steps:
        if stop is not None and stop[0] != 0:
            return -2, n0
        count = min(chunk, max_steps - n0)
        if n0 + count > budget:
            return None
        batches = -(-count // BATCH)
        v = np.ones(batches * BATCH)
        v[:count] = philox_uniforms(seed, STREAM_ARRIVAL, block, n0, count)
        products = np.cumprod(v.reshape(batches, BATCH), axis=1)
        if products.min() < _TINY:
            return None
        batch_t0 = np.empty(batches)  # T0 of each batch, as the kernel moves it on
        for i, last in enumerate(products[:, -1].tolist()):
            batch_t0[i] = t0
            t0 -= math.log(last)
        prod = products.ravel()[:count]
        batch_of = np.arange(count) // BATCH
        log_t = np.log(batch_t0[batch_of] - np.log(prod))
        kept, total = _log_ratios(seed, block, n0, a, b, c, lrmax, log_t - log_best)
        approx = np.full(count, math.inf)
        approx[kept] = log_t[kept] - total
        total_of = np.zeros(count)
        total_of[kept] = total
        j = 0
        while j < count:
            rest = slice(j, count)
            contender = approx[rest] < log_best + _SLACK * (1.0 + abs(log_best))
            if best >= 0:
                scale = _exp(log_best + lrmax_total)
                stop_prod = np.array([_exp(t - scale) for t in batch_t0.tolist()])
                event = contender | (prod[rest] <= stop_prod[batch_of[rest]])
            else:
                event = contender
            if not event.any():
                break
            n = j + int(np.argmax(event))
            if best >= 0 and prod[n] <= stop_prod[batch_of[n]]:
                return best, n0 + n
            t = float(batch_t0[batch_of[n]]) - math.log(float(prod[n]))
            score = math.log(t) - float(total_of[n])
            if score < log_best:
                best, log_best = n0 + n, score
            j = n + 1
        n0 += count
        chunk = min(2 * chunk, _MAX_CHUNK)
    return -1, max_steps


def search_small(seed, layout, block_ids, a, b, c, lrmax, max_steps, budget=None, progress=None):
    """Search blocks with numpy while the job stays within ``budget`` candidates.

    A job expected to draw far more candidates than the budget (about e^D_inf per block)
    is left to the kernel whole.

    Args:
        seed (int): shared seed.
        layout (BlockLayout): the blocks.
        block_ids (np.ndarray): counter field of each block.
        a, b, c, lrmax (np.ndarray): flat log-ratio coefficients and suprema.
        max_steps (int): PFR's cap per block.
        budget (int or None): candidates for the whole job; None: ``DEFAULT_BUDGET``.
        progress (callable or None): progress(blocks_done, blocks_total).
    Returns:
        tuple (indices, steps, finished): int64 arrays per block and a bool array; the
        blocks not finished are left to the kernel (their entries are undefined).
    Raises:
        Interrupted: SIGINT or SIGTERM arrived (``interrupts.stopped_by_signals``).
    """
    nb = layout.num_blocks
    indices = np.full(nb, -1, dtype=np.int64)
    steps = np.zeros(nb, dtype=np.int64)
    finished = np.zeros(nb, dtype=bool)
    left = DEFAULT_BUDGET if budget is None else int(budget)
    expected = sum(math.exp(min(_sequential_sum(lrmax[s:s + n]), 700.0))
                   for s, n in zip(layout.starts.tolist(), layout.lengths.tolist()))
    if expected > _EXPECTED_BUDGETS * left:
        return indices, steps, finished
    stop = np.zeros(1, dtype=np.int64)
    with stopped_by_signals(stop):
        for i, (s, n, block) in enumerate(zip(layout.starts.tolist(), layout.lengths.tolist(), block_ids.tolist())):
            e = s + n
            found = pfr_block_numpy(seed, block, a[s:e], b[s:e], c[s:e], lrmax[s:e], int(max_steps), left, stop)
            if found is None or found[0] == -2:
                break
            indices[i], steps[i] = found
            finished[i] = True
            left -= found[1]
            if progress is not None:
                progress(i + 1, nb)
    return indices, steps, finished
