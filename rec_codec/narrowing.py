"""Narrowing: coding a posterior that is too wide for exact REC against its proposal.

Exact PFR and SP-PFR stop only when D_inf(Q||P) is finite, and take about 2^D_inf steps.
A Gaussian target dimension N(mu, sigma^2) against N(m, s^2) has D_inf infinite when
sigma >= s, and huge when sigma is a hair below s with mu away from m, although its KL is
tiny. Real VAE posteriors have such dimensions (collapsed ones with std 1.004 against
N(0, 1)). Rather than refuse, such a dimension is coded with its std lowered to the largest
of g * s, g = 0.999, 0.998, 0.995, ..., 0.3, whose D_inf is within ``slack`` bits of its KL
(a dimension already within is left alone). The sample then follows the narrowed target
exactly, and so the real target within a total variation of at most the sum, over
narrowed dimensions, of the TV between N(mu, sigma^2) and N(mu, sigma'^2); callers report
it and mark the result approximate. ``strict`` refuses instead.
"""

import math

import numpy as np

from .errors import InputError

__all__ = ["NARROW_STEPS", "DEFAULT_SLACK_BITS", "excess_bits", "narrow_stds"]

NARROW_STEPS = (0.999, 0.998, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.7, 0.5, 0.3)
DEFAULT_SLACK_BITS = 8.0
_LN2 = math.log(2.0)


def excess_bits(mean, std, m, s):
    """D_inf - KL in bits of N(mean, std^2) against N(m, s^2), elementwise (inf where unbounded)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        delta2 = (mean - m) ** 2
        gap = s**2 - std**2
        excess = delta2 / 2 * (1 / gap - 1 / s**2) - std**2 / (2 * s**2) + 0.5
        excess = np.where(gap > 0, excess, np.where((gap == 0) & (delta2 == 0), 0.0, np.inf))
    return excess / _LN2


def _tv_same_mean(wide, narrow):
    """Total variation between N(0, wide^2) and N(0, narrow^2), narrow < wide."""
    t = math.sqrt(2 * wide**2 * narrow**2 * math.log(wide / narrow) / (wide**2 - narrow**2))
    return math.erf(t / (narrow * math.sqrt(2))) - math.erf(t / (wide * math.sqrt(2)))


def narrow_stds(mean, std, m, s, slack=DEFAULT_SLACK_BITS, strict=False, against="the prior std", dim_name=str,
                item_name=None):
    """Stds with every too-wide dimension narrowed (see the module docstring).

    Args:
        mean, std (np.ndarray): float64 [items, dims], the targets.
        m, s (np.ndarray): float64 [dims], the proposal's mean and std.
        slack (float): bits of D_inf allowed over a dimension's KL.
        strict (bool): refuse instead of narrowing.
        against (str): what to call s in messages.
        dim_name (callable): flat dimension index -> its name in messages.
        item_name (callable or None): row -> the item's number in messages (default: the
            row, and no item named when there is one row).
    Returns:
        (std, narrowed, tv_bound): the new stds, the count of narrowed dimensions per item
        (int64) and the TV bound per item (float64, at most 1).
    Raises:
        InputError: with ``strict``, naming the first item and dimension that would need it.
    """
    needs = excess_bits(mean, std, m, s) > slack
    narrowed = needs.sum(axis=1).astype(np.int64)
    tv = np.zeros(mean.shape[0])
    if not needs.any():
        return std, narrowed, tv
    if strict:
        item, dim = np.argwhere(needs)[0]
        where = f"dimension {dim_name(dim)}"
        if item_name is not None or mean.shape[0] > 1:
            where = f"item {item if item_name is None else item_name(item)}, {where}"
        raise InputError(
            f"{where}: target std {std[item, dim]:g} (mean {mean[item, dim]:g}) is too wide for exact coding "
            f"against {against} {s[dim]:g}; without --strict it is coded with a slightly narrowed std and "
            "reported as approximate")
    out = std.copy()
    for item, dim in np.argwhere(needs):
        wide, cap = std[item, dim], s[dim]
        for g in NARROW_STEPS:
            candidate = min(wide, g * cap)
            if excess_bits(mean[item, dim], candidate, m[dim], cap) <= slack:
                break
        out[item, dim] = candidate
        if candidate < wide:
            tv[item] += _tv_same_mean(wide, candidate)
    return out, narrowed, np.minimum(tv, 1.0)
