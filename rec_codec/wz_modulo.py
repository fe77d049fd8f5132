"""The modulo trial of a learned Wyner-Ziv search: a nested quantizer fitted to pairs.

For one-dimensional x and y, ``learned_wz.train_for_rate`` adds to its MLP trainings one
trial of another architecture, fitted to the training pairs rather than trained by
gradients:

- encoder: u = floor(x' / step + offset) mod L, x' = (x - mean(x)) / std(x): cells of
  width ``step``, each index reused on every L-th cell (the nested scalar quantizer of
  Zamir, Shamai & Erez, "Nested linear/lattice codes for structured multiterminal
  binning", IEEE Trans. IT 2002);
- rate model q(u): the frequencies of u on the training split;
- decoder g(u, y): one piecewise-linear function of y' = (y - mean(y)) / std(y) per
  index, with knots at quantiles of the training y', fitted by least squares with a small
  penalty on second differences (which keeps knots that see few pairs smooth), linear
  beyond the outer knots.

Nothing here assumes a law of (x, y). ``design`` tries L in {2^floor(R), 2^ceil(R)} (at
most K), offsets 0 and 1/2 and a grid of steps, fits the decoder on one half of the
training split and keeps the least squared error on the other half among the designs
whose index entropy is at most the rate. Each design's error is the mean of the two ways
round (fit on one half, measure on the other), which steadies the choice of the step. The decoder is the data's own estimate of
E[x | u, y], so on a non-Gaussian source it is not the linear decoder nsq derives from
a Gaussian fit. The MLP encoder of the talk learns few cells per index; this trial has
as many as binning needs, which is where it wins the search (y = x + n at 2 and 3 bits).

Evaluating a fitted model needs numpy only.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DECODER_KNOTS", "knots", "indices", "spline_output", "fit_decoder", "design"]

DECODER_KNOTS = 128  # at most; fewer for small training splits (``PAIRS_PER_KNOT``)
PAIRS_PER_KNOT = 8
SMOOTHING = 1e-3  # second-difference penalty, relative to the pairs per knot
ANCHOR = 0.01
STEPS = np.geomspace(0.005, 4.0, 48)  # in standard deviations of x
REFINE = 16  # steps tried between the neighbours of the grid's best
OFFSETS = (0.0, 0.5)
RATE_SLACK = 0.01  # relative: a design may spend this much more than the rate


def knots(z, count):
    """Sorted distinct quantiles of z (at least two points)."""
    points = np.unique(np.quantile(z, np.linspace(0.0, 1.0, max(2, int(count)))))
    if points.size < 2:
        points = np.array([points[0], points[0] + 1.0])
    return points


def _basis(points, z):
    """Segment i and the position w along it of each z; w < 0 or > 1 beyond the outer knots."""
    i = np.clip(np.searchsorted(points, z, side="right") - 1, 0, points.size - 2)
    return i, (z - points[i]) / (points[i + 1] - points[i])


def indices(xn, step, offset, cosets):
    """u = floor(xn / step + offset) mod cosets, int64."""
    return np.mod(np.floor(xn / step + offset), cosets).astype(np.int64)


def spline_output(table, points, u, yn):
    """g(u, y') = the piecewise-linear function of row u of ``table`` (L, knots) at y'."""
    i, w = _basis(points, yn)
    return (1.0 - w) * table[u, i] + w * table[u, i + 1]


def fit_decoder(u, yn, xn, cosets, points):
    """The least-squares table (cosets, knots) of the decoder for indices u of pairs (xn, yn).

    First the fit ``a`` of all pairs, whatever their index; then each row solves
    (B'B + s D'D + r I) t = B'x + r a, B the hat functions of its pairs' y', D the
    second differences, s = ``SMOOTHING`` times its pairs per knot, r = ``ANCHOR``: where
    an index has (almost) no pairs, between the clusters of y its cells leave, its row
    follows E[x | y] instead of carrying the slopes at a cluster's edge across the gap.
    """
    count = points.size
    i, w = _basis(points, yn)
    second = np.diff(np.eye(count), 2, axis=0)
    penalty = second.T @ second

    def solve(mask, anchor):
        ii, ww, xx = i[mask], w[mask], xn[mask]
        a = np.diag(np.bincount(ii, (1.0 - ww) ** 2, count) + np.bincount(ii + 1, ww**2, count)).astype(np.float64)
        off = np.bincount(ii, (1.0 - ww) * ww, count - 1)
        a[np.arange(count - 1), np.arange(1, count)] += off
        a[np.arange(1, count), np.arange(count - 1)] += off
        b = (np.bincount(ii, (1.0 - ww) * xx, count) + np.bincount(ii + 1, ww * xx, count)).astype(np.float64)
        a += SMOOTHING * max(1.0, mask.sum() / count) * penalty + 1e-9 * np.eye(count)
        if anchor is not None:
            a += ANCHOR * np.eye(count)
            b = b + ANCHOR * anchor
        return np.linalg.solve(a, b)

    overall = solve(np.ones(u.size, dtype=bool), None)
    table = np.empty((cosets, count))
    for k in range(cosets):
        table[k] = solve(u == k, overall)
    return table


def _entropy_bits(u, cosets):
    freq = np.bincount(u, minlength=cosets) / u.size
    freq = freq[freq > 0]
    return float(-(freq * np.log2(freq)).sum())


def design(xn, yn, rate, max_cosets):
    """Choose (step, offset, L) for normalised training pairs; see the module docstring.

    Args:
        xn, yn: float64 (n,) normalised x and y of the training split (n >= 4).
        rate: the target bits per sample.
        max_cosets: K, the most indices.
    Returns:
        (step, offset, cosets, mse): mse is the held-out squared error (normalised units)
        of the design, or None when no design fits the rate (then the coarsest is given).
    """
    half = xn.size // 2
    folds = ((slice(None, half), slice(half, None)), (slice(half, None), slice(None, half)))
    count = min(DECODER_KNOTS, max(2, half // PAIRS_PER_KNOT))
    points = [knots(yn[fit], count) for fit, _ in folds]
    choices = sorted({c for c in (2 ** math.floor(rate), 2 ** math.ceil(rate)) if 2 <= c <= max_cosets}) or [2]
    best = None

    def trial(step, offset, cosets):
        nonlocal best
        u = indices(xn, step, offset, cosets)
        if _entropy_bits(u, cosets) > rate * (1.0 + RATE_SLACK):
            return
        mse = 0.0
        for (fit, test), at in zip(folds, points):
            table = fit_decoder(u[fit], yn[fit], xn[fit], cosets, at)
            mse += float(np.mean((spline_output(table, at, u[test], yn[test]) - xn[test]) ** 2)) / 2
        if best is None or mse < best[3]:
            best = (float(step), float(offset), int(cosets), mse)

    for cosets in choices:
        for step in STEPS:
            for offset in OFFSETS:
                trial(step, offset, cosets)
    if best is None:
        return float(STEPS[-1]), 0.0, choices[0], None
    at = int(np.searchsorted(STEPS, best[0]))
    lo, hi = STEPS[max(0, at - 1)], STEPS[min(STEPS.size - 1, at + 1)]
    for step in np.geomspace(lo, hi, REFINE):
        for offset in OFFSETS:
            trial(step, offset, best[2])
    return best
