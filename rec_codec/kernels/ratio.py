"""The log density ratio of a candidate, and the filter that skips hopeless candidates.

A candidate z (prior standard coordinates) has log q/p = sum_d a_d + b_d z_d + c_d z_d^2.
PFR and ORC only need the ratio of a candidate that could still become the best one: one
with log r(z) > log T_lb - log(best), T_lb a lower bound on its arrival time. Since every
other dimension contributes at most its supremum, dimension d must then lie in an interval
around the mode of its (concave) log ratio, which maps to an interval of the candidate's
uniform u_d = Phi(z_d). Testing u against those intervals costs two comparisons, so the
other dimensions' uniforms, the inverse normal CDF and the ratio are computed only for the
few candidates whose first (most selective) dimension passes.
"""

import math

import numba
import numpy as np

from ..rng import STREAM_CANDIDATE, mantissa_bounds, ndtri_as241, stream_word, uniform_at

_SQRT_HALF = math.sqrt(0.5)


@numba.njit(cache=True)
def filter_order(c):
    """Dimensions in the order to test them: the narrowest log ratio (most negative c) first.

    Only the filter's speed depends on this order, never a result: a stable bottom-up merge
    sort in plain loops, which numba compiles in a fraction of the time of ``np.argsort``.
    """
    d = c.shape[0]
    order = np.arange(d)
    spare = np.empty(d, dtype=order.dtype)
    width = 1
    while width < d:
        for lo in range(0, d, 2 * width):
            mid = min(lo + width, d)
            hi = min(lo + 2 * width, d)
            i, j = lo, mid
            for k in range(lo, hi):
                if j >= hi or (i < mid and c[order[i]] <= c[order[j]]):
                    spare[k] = order[i]
                    i += 1
                else:
                    spare[k] = order[j]
                    j += 1
        order, spare = spare, order
        width *= 2
    return order


@numba.njit(cache=True)
def log_ratio_of_uniforms(u, a, b, c):
    """log q/p of the candidate whose uniforms (one per dimension) are u."""
    total = 0.0
    for k in range(u.shape[0]):
        z = ndtri_as241(u[k])
        total += a[k] + (b[k] + c[k] * z) * z
    return total


@numba.njit(cache=True)
def acceptance_intervals(lo, hi, a, b, c, lrmax, log_threshold):
    """Fill (lo[k], hi[k]) with the uniforms of dimension k that can reach log_threshold.

    A candidate whose log ratio exceeds log_threshold has every u_k strictly inside
    (lo[k], hi[k]). The intervals are widened slightly, so rounding never drops a candidate.
    Returns False when no candidate can reach log_threshold at all.
    """
    d = a.shape[0]
    total_max = 0.0
    for k in range(d):
        total_max += lrmax[k]
    if not total_max > log_threshold:
        return False
    for k in range(d):
        theta = log_threshold - (total_max - lrmax[k])
        if c[k] < 0.0:
            w = math.sqrt((lrmax[k] - theta) / -c[k]) * (1.0 + 1e-9) + 1e-9
            centre = -b[k] / (2.0 * c[k])
            lo[k] = 0.5 * math.erfc((w - centre) * _SQRT_HALF)
            hi[k] = 0.5 * math.erfc((-centre - w) * _SQRT_HALF)
        else:
            lo[k] = -1.0
            hi[k] = 2.0
    return True


@numba.njit(cache=True)
def pair_bounds(lo, hi, first, second):
    """The intervals of dimensions ``first`` and ``second`` as bounds on their uniforms' 53-bit
    integers (``rng.mantissa_bounds``): (lo_first, hi_first, lo_second, hi_second)."""
    lo_first, hi_first = mantissa_bounds(lo[first], hi[first])
    lo_second, hi_second = mantissa_bounds(lo[second], hi[second])
    return lo_first, hi_first, lo_second, hi_second


@numba.njit(cache=True)
def draw_if_inside(n, block, k0, k1, order, lo, hi, first_u, second_u, u):
    """Draw candidate n's other uniforms into u while each lies inside its interval.

    u[order[0]] = first_u and u[order[1]] = second_u (ignored when there is one dimension)
    have passed already. Returns True when every dimension passes, with all of u filled;
    False as soon as one falls outside.
    """
    u[order[0]] = first_u
    if order.shape[0] > 1:
        u[order[1]] = second_u
    for i in range(2, order.shape[0]):
        k = order[i]
        x = uniform_at(n, block, stream_word(STREAM_CANDIDATE, k), k0, k1)
        if x <= lo[k] or x >= hi[k]:
            return False
        u[k] = x
    return True
