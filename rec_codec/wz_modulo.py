"""The modulo architecture of a learned Wyner-Ziv model: a nested quantizer fitted to pairs,
decoded by Bayes' rule under a conditional density of x given y fitted to the same pairs.

For one-dimensional x and y, ``learned_wz.train_for_rate`` adds to its MLP trainings one
trial of this architecture, fitted rather than trained by gradients. On normalised
coordinates x' = (x - mean(x)) / std(x) and y' likewise:

- encoder: u = floor(x' / step + offset) mod L: cells of width ``step``, each index reused
  on every L-th cell (the nested scalar quantizer of Zamir, Shamai & Erez, "Nested
  linear/lattice codes for structured multiterminal binning", IEEE Trans. IT 2002);
- rate model q(u): the frequencies of u on the training split;
- decoder: x_hat = E[x' | u, y'] under a density fitted to the pairs: x' = a y' + b + e,
  (a, b) the least-squares line, and e given y' a histogram of the residuals of the pairs
  whose y' falls in the same quantile group (``Y_GROUPS``), smoothed by a Gaussian kernel
  of Silverman's bandwidth (0.9 min(sd, IQR / 1.34) n^(-1/5)) and mixed with a little of
  the histogram of all residuals, so that no group is empty. The histogram spans 1.1 times
  the largest residual, or 16 spreads min(sd, IQR / 1.34) if less (farther outliers are
  left out).
  The decoder adds up the mass and the first moment of that density over the cells of
  index u (closed forms for a piecewise-constant density).

Nothing assumes a law of (x, y). ``design`` tries L in {2^floor(R), 2^ceil(R)} (at most
K), offsets 0 and 1/2 and a grid of steps; it skips periods L step shorter than half the
spread of the residual x' - a y' - b (their index says next to nothing) and designs whose
index entropy exceeds the rate, and keeps the least squared error, first among the designs
that spend the rate to within ``RATE_WINDOW``. A design's error is the mean of two folds
(the density fitted on one half of the training split, the error measured on the other).
The MLP encoder of the talk learns few cells per index; this trial has as many as binning
needs, which is where it wins the search (y = x + n at 2 and 3 bits).

Evaluating a fitted model needs numpy only.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DENSITY_BINS", "Y_GROUPS", "indices", "fit_density", "decode", "design"]

DENSITY_BINS = 256  # bins of the residual histogram
Y_GROUPS = 16  # quantile groups of y' with a histogram each
POOLED_PAIRS = 1.0  # each group's histogram gains this many pairs spread like all residuals
SPAN = 1.1  # the histogram covers SPAN times the largest residual either side,
SPAN_SPREADS = 16.0  # but no more than this many spreads (``_spread``): outliers fall outside
MAX_CELLS = 4096  # a model's histogram may span at most this many periods L step (``decode`` loops over them)
STEPS = np.geomspace(0.005, 4.0, 48)  # in standard deviations of x
REFINE = 16  # steps tried between the neighbours of the grid's best
OFFSETS = (0.0, 0.5)
RATE_SLACK = 0.01  # relative: a design may spend this much more than the rate
RATE_WINDOW = 0.02  # relative: designs spending at least this much less come second
MIN_PERIOD = 0.5  # designs whose period L step is below this many residual standard deviations are skipped


def indices(xn, step, offset, cosets):
    """u = floor(xn / step + offset) mod cosets, int64."""
    return np.mod(np.floor(xn / step + offset), cosets).astype(np.int64)


def _spread(values):
    """min(sd, IQR / 1.34) of ``values`` (sd where the quartiles coincide): a spread that
    a few outliers do not inflate."""
    sd = float(np.std(values))
    quartiles = np.quantile(values, [0.25, 0.75])
    return min(sd, float(quartiles[1] - quartiles[0]) / 1.34) or sd


def residual_spread(arrays, xn, yn):
    """``_spread`` of x' - a y' - b under a fitted density's line."""
    return _spread(xn - arrays["dec_line"][0] * yn - arrays["dec_line"][1])


def fit_density(xn, yn):
    """The decoder's arrays for normalised pairs: {"dec_line": (a, b), "dec_edges": the
    residual bins' edges, "dec_y_edges": the inner edges of the y' groups, "dec_density":
    (groups, bins) densities of the residual, each integrating to 1}."""
    design_matrix = np.stack([yn, np.ones_like(yn)], axis=1)
    line = np.linalg.lstsq(design_matrix, xn, rcond=None)[0]
    residual = xn - design_matrix @ line
    span = max(min(SPAN * float(np.abs(residual).max()), SPAN_SPREADS * _spread(residual)), 1e-9)
    edges = np.linspace(-span, span, DENSITY_BINS + 1)
    width = edges[1] - edges[0]
    y_edges = np.unique(np.quantile(yn, np.linspace(0.0, 1.0, Y_GROUPS + 1)[1:-1]))
    group = np.searchsorted(y_edges, yn)

    def smoothed(values):
        """The histogram of ``values`` smoothed by a Gaussian kernel of Silverman's bandwidth."""
        counts = np.histogram(values, edges)[0].astype(np.float64)
        if values.size < 2:
            return counts
        bins = 0.9 * _spread(values) * values.size ** -0.2 / width
        if not bins > 0.25:
            return counts
        taps = np.arange(-math.ceil(4 * bins), math.ceil(4 * bins) + 1)
        kernel = np.exp(-0.5 * (taps / bins) ** 2)
        return np.convolve(counts, kernel / kernel.sum(), mode="same")

    pooled = smoothed(residual)
    pooled /= pooled.sum()
    density = np.empty((y_edges.size + 1, DENSITY_BINS))
    for g in range(y_edges.size + 1):
        counts = smoothed(residual[group == g]) + POOLED_PAIRS * pooled
        density[g] = counts / (counts.sum() * width)
    return {"dec_line": line, "dec_edges": edges, "dec_y_edges": y_edges, "dec_density": density}


def _cumulative_tables(edges, density):
    """Mass and first moment of each row of the density below each edge: two (rows, bins + 1)."""
    width = edges[1] - edges[0]
    zero = np.zeros((density.shape[0], 1))
    mass = np.concatenate([zero, np.cumsum(density * width, axis=1)], axis=1)
    moment = np.concatenate([zero, np.cumsum(density * (edges[1:] ** 2 - edges[:-1] ** 2) / 2, axis=1)], axis=1)
    return mass, moment


def _below(edges, density, tables, group, t):
    """Mass and first moment of row ``group`` of the density below t (clipped to the edges)."""
    mass, moment = tables
    t = np.clip(t, edges[0], edges[-1])
    i = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, density.shape[1] - 1)
    f = density[group, i]
    return mass[group, i] + f * (t - edges[i]), moment[group, i] + f * (t * t - edges[i] ** 2) / 2


def decode(arrays, u, yn, step, offset, cosets):
    """x_hat' = E[x' | u, y'] under the fitted density (``fit_density``'s arrays): the mass
    and first moment of e = x' - a y' - b over every cell of index u within the histogram,
    summed; where none has mass, a y' + b."""
    edges, density = arrays["dec_edges"], arrays["dec_density"]
    tables = _cumulative_tables(edges, density)
    group = np.searchsorted(arrays["dec_y_edges"], yn)
    centre = arrays["dec_line"][0] * yn + arrays["dec_line"][1]
    period = cosets * step
    first = np.floor(((centre + edges[0]) / step + offset - u) / cosets) - 1  # the lowest cell, as (m - u) / L
    mass = np.zeros_like(centre)
    moment = np.zeros_like(centre)
    for k in range(int(math.ceil((edges[-1] - edges[0]) / period)) + 3):
        lo = (u + cosets * (first + k) - offset) * step - centre
        mass_lo, moment_lo = _below(edges, density, tables, group, lo)
        mass_hi, moment_hi = _below(edges, density, tables, group, lo + step)
        mass += mass_hi - mass_lo
        moment += moment_hi - moment_lo
    return centre + np.where(mass > 0, moment / np.where(mass > 0, mass, 1.0), 0.0)


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
        (step, offset, cosets, mse): mse is the design's two-fold squared error
        (normalised units), or None when no design fits the rate (then the coarsest step).
    """
    half = xn.size // 2
    folds = ((slice(None, half), slice(half, None)), (slice(half, None), slice(None, half)))
    densities = [fit_density(xn[fit], yn[fit]) for fit, _ in folds]
    spread = residual_spread(densities[0], xn, yn)
    choices = sorted({c for c in (2 ** math.floor(rate), 2 ** math.ceil(rate)) if 2 <= c <= max_cosets}) or [2]
    best = None  # (whether it spends the rate, step, offset, cosets, mse)

    def trial(step, offset, cosets):
        nonlocal best
        if cosets * step < MIN_PERIOD * spread:
            return  # the index says next to nothing about x given y, and decoding it costs the most
        u = indices(xn, step, offset, cosets)
        bits = _entropy_bits(u, cosets)
        if bits > rate * (1.0 + RATE_SLACK):
            return
        mse = 0.0
        for (_, test), arrays in zip(folds, densities):
            estimate = decode(arrays, u[test], yn[test], step, offset, cosets)
            mse += float(np.mean((estimate - xn[test]) ** 2)) / 2
        spends = bits >= rate * (1.0 - RATE_WINDOW)
        if best is None or (spends, -mse) > (best[0], -best[4]):
            best = (spends, float(step), float(offset), int(cosets), mse)

    for cosets in choices:
        for step in STEPS:
            for offset in OFFSETS:
                trial(step, offset, cosets)
    if best is None:
        return float(STEPS[-1]), 0.0, choices[0], None
    at = int(np.searchsorted(STEPS, best[1]))
    lo, hi = STEPS[max(0, at - 1)], STEPS[min(STEPS.size - 1, at + 1)]
    for step in np.geomspace(lo, hi, REFINE):
        for offset in OFFSETS:
            trial(step, offset, best[3])
    return best[1:]
