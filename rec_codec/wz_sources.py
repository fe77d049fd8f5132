"""Non-Gaussian sources for the Wyner-Ziv bench, with their Gaussian fits and references.

- ``signed-laplace``: X ~ Laplace(0, 1) (scale 1), Y = sign(X) (the source of the
  learned compressor's paper). Gaussian fit X = Y + N, var_n = 1.
- ``y=x+n:laplace``: X Laplace with unit variance, Y = X + N, N ~ N(0, 0.1).
- ``y=x+n:mix``: X an equal mixture of N(-1, 0.1) and N(+1, 0.1), Y = X + N,
  N ~ N(0, 0.1).

Each gives draws, the jointly Gaussian source with the same second moments (what nsq is
designed for), E[X | y] (by quadrature where there is no closed form) and the
conditional differential entropy h(X | Y) for the Shannon lower bound on the conditional
rate-distortion function, D >= exp(2 h(X|Y)) / (2 pi e) 2^-2R: a lower bound on R_X|Y,
which is itself below the Wyner-Ziv function R_WZ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .wyner_ziv import GaussianSource

__all__ = ["SOURCES", "NonGaussianSource", "source", "shannon_lower_bound"]

SOURCES = ("signed-laplace", "y=x+n:laplace", "y=x+n:mix")
_NOISE = 0.1
_MIX_VAR = 0.1
_GRID = np.linspace(-12.0, 12.0, 4801)


def _normal_pdf(z, var):
    return np.exp(-0.5 * z * z / var) / math.sqrt(2.0 * math.pi * var)


@dataclass(frozen=True)
class NonGaussianSource:
    """One of ``SOURCES``: draws, Gaussian fit, E[X|y], h(X|Y)."""

    name: str

    @property
    def gaussian_fit(self):
        """The jointly Gaussian source with the same means, variances and covariance."""
        if self.name == "signed-laplace":
            return GaussianSource("x = y + n", 1.0, 1.0)
        var_x = 1.0 if self.name == "y=x+n:laplace" else 1.0 + _MIX_VAR
        return GaussianSource("y = x + n", var_x, _NOISE)

    def sample(self, count, rng):
        """``count`` draws (x, y) from a numpy Generator."""
        if self.name == "signed-laplace":
            x = rng.laplace(0.0, 1.0, count)
            return x, np.sign(x)
        if self.name == "y=x+n:laplace":
            x = rng.laplace(0.0, 1.0 / math.sqrt(2.0), count)
        else:
            x = rng.choice([-1.0, 1.0], count) + rng.normal(0.0, math.sqrt(_MIX_VAR), count)
        return x, x + rng.normal(0.0, math.sqrt(_NOISE), count)

    def _prior(self, x):
        if self.name == "y=x+n:laplace":
            b = 1.0 / math.sqrt(2.0)
            return np.exp(-np.abs(x) / b) / (2.0 * b)
        return 0.5 * (_normal_pdf(x + 1.0, _MIX_VAR) + _normal_pdf(x - 1.0, _MIX_VAR))

    def mmse_estimate(self, y):
        """E[X | y] for an array y."""
        y = np.asarray(y, dtype=np.float64)
        if self.name == "signed-laplace":
            return y.copy()
        if self.name == "y=x+n:mix":
            weights = np.stack([_normal_pdf(y + 1.0, _MIX_VAR + _NOISE), _normal_pdf(y - 1.0, _MIX_VAR + _NOISE)])
            means = np.stack([(-_NOISE + _MIX_VAR * y), (_NOISE + _MIX_VAR * y)]) / (_MIX_VAR + _NOISE)
            return (weights * means).sum(axis=0) / weights.sum(axis=0)
        out = np.empty_like(y)
        prior = self._prior(_GRID)
        for i in range(0, y.size, 256):
            chunk = y.ravel()[i:i + 256]
            w = prior[None, :] * _normal_pdf(chunk[:, None] - _GRID[None, :], _NOISE)
            out.ravel()[i:i + 256] = (w * _GRID).sum(axis=1) / w.sum(axis=1)
        return out

    def conditional_entropy(self, samples=200000, seed=0):
        """h(X | Y) in nats (exact for signed-laplace; Monte Carlo of h(Y) otherwise)."""
        if self.name == "signed-laplace":
            return 1.0  # X | y is exponential with scale 1
        h_noise = 0.5 * math.log(2.0 * math.pi * math.e * _NOISE)
        if self.name == "y=x+n:laplace":
            h_x = 1.0 + math.log(2.0 / math.sqrt(2.0))
        else:
            h_x = None
        x, y = self.sample(samples, np.random.default_rng(seed))
        dx = _GRID[1] - _GRID[0]
        prior = self._prior(_GRID)
        p_y = np.concatenate([(prior[None, :] * _normal_pdf(y[i:i + 512, None] - _GRID[None, :], _NOISE)).sum(axis=1)
                              * dx for i in range(0, y.size, 512)])
        h_y = float(-np.log(p_y).mean())
        if h_x is None:
            h_x = float(-np.log(self._prior(x)).mean())
        return h_x + h_noise - h_y


def source(name):
    """The ``NonGaussianSource`` of a name in ``SOURCES``; None for another name."""
    return NonGaussianSource(name) if name in SOURCES else None


def shannon_lower_bound(h_cond, rate):
    """exp(2 h(X|Y)) / (2 pi e) 2^-2R: below the conditional (and so the Wyner-Ziv) R-D function."""
    return math.exp(2.0 * h_cond) / (2.0 * math.pi * math.e) * 2.0 ** (-2.0 * np.asarray(rate, dtype=float))
