"""Diagonal Gaussian priors and targets: validation, densities, KL and D_inf in bits.

Everything is factorised over dimensions (DESIGN section 4). The search kernels work in the
prior's standard coordinates z, x = m + s z, where the log density ratio of one dimension is
the quadratic

    log q(x)/p(x) = a + b z + c z^2,   a = ln(s/sigma) - (mu-m)^2/(2 sigma^2),
                                       b = s (mu-m)/sigma^2,  c = (sigma^2 - s^2)/(2 sigma^2),

whose supremum ln(s/sigma) + (mu-m)^2 / (2 (s^2-sigma^2)) is finite only when sigma < s
(or the two densities are equal).
"""

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = [
    "DiagonalGaussian",
    "standard_normal_like",
    "kl_bits",
    "dinf_bits",
    "log_ratio_coefficients",
]

_LN2 = np.log(2.0)


@dataclass(frozen=True, eq=False)
class DiagonalGaussian:
    """A Gaussian with independent dimensions, N(mean, std^2) elementwise.

    Args:
        mean (array_like): means, any shape.
        std (array_like): standard deviations, the same shape, all > 0.
    Raises:
        InputError: on a shape mismatch, NaN or infinite values, or std <= 0.
    """

    mean: np.ndarray
    std: np.ndarray

    def __init__(self, mean, std, name="distribution"):
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if mean.shape != std.shape:
            raise InputError(f"{name}: mean has shape {mean.shape} but std has shape {std.shape}")
        for label, values in (("mean", mean), ("std", std)):
            bad = ~np.isfinite(values)
            if bad.any():
                raise InputError(f"{name}: {label} has a NaN or infinite value at index {_first(bad)}")
        if (std <= 0).any():
            raise InputError(f"{name}: std must be > 0, but std[{_first(std <= 0)}] = {std[std <= 0].flat[0]}")
        # np.array, not np.ascontiguousarray, which would turn a 0-d array into a 1-d one
        object.__setattr__(self, "mean", np.array(mean, order="C"))
        object.__setattr__(self, "std", np.array(std, order="C"))

    @property
    def shape(self):
        return self.mean.shape

    @property
    def size(self):
        return self.mean.size

    def logpdf(self, x):
        """Elementwise log density in nats."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return -0.5 * z * z - np.log(self.std) - 0.5 * np.log(2 * np.pi)

    def cdf(self, x):
        """Elementwise CDF."""
        from scipy import special  # imported here: scipy.special costs 0.3 s of CLI start-up

        return special.ndtr((np.asarray(x, dtype=np.float64) - self.mean) / self.std)

    def ppf(self, u):
        """Elementwise inverse CDF."""
        from scipy import special  # imported here: scipy.special costs 0.3 s of CLI start-up

        return self.mean + self.std * special.ndtri(np.asarray(u, dtype=np.float64))

    def flat(self):
        """The same distribution with 1-D contiguous arrays."""
        return DiagonalGaussian(self.mean.ravel(), self.std.ravel())


def _first(mask):
    index = np.argwhere(mask)[0]
    return tuple(int(i) for i in index) if len(index) != 1 else int(index[0])


def standard_normal_like(shape):
    """The default prior N(0, 1) of the given shape."""
    return DiagonalGaussian(np.zeros(shape), np.ones(shape))


def _check_pair(target, prior):
    if target.shape != prior.shape:
        raise InputError(f"target has shape {target.shape} but the prior has shape {prior.shape}")


def kl_bits(target, prior):
    """KL(Q||P) per dimension, in bits.

    Args:
        target (DiagonalGaussian): Q.
        prior (DiagonalGaussian): P, the same shape.
    Returns:
        np.ndarray: float64, the shape of the inputs.
    """
    _check_pair(target, prior)
    mu, sigma, m, s = target.mean, target.std, prior.mean, prior.std
    nats = np.log(s / sigma) + (sigma**2 + (mu - m) ** 2) / (2 * s**2) - 0.5
    return np.maximum(nats, 0.0) / _LN2


def dinf_bits(target, prior):
    """D_inf(Q||P) = log2 sup q/p per dimension; +inf where sigma >= s and Q != P.

    Args:
        target (DiagonalGaussian): Q.
        prior (DiagonalGaussian): P, the same shape.
    Returns:
        np.ndarray: float64, the shape of the inputs.
    """
    _check_pair(target, prior)
    _, _, _, lrmax = log_ratio_coefficients(target, prior)
    return lrmax / _LN2


def log_ratio_coefficients(target, prior):
    """Coefficients of log q/p = a + b z + c z^2 in prior standard coordinates, and its sup.

    Args:
        target (DiagonalGaussian): Q.
        prior (DiagonalGaussian): P, the same shape.
    Returns:
        tuple of four float64 arrays (a, b, c, lrmax), flattened; lrmax in nats, +inf where
        the ratio is unbounded.
    """
    _check_pair(target, prior)
    mu, sigma = target.mean.ravel(), target.std.ravel()
    m, s = prior.mean.ravel(), prior.std.ravel()
    delta = mu - m
    a = np.log(s / sigma) - delta**2 / (2 * sigma**2)
    b = s * delta / sigma**2
    c = (sigma**2 - s**2) / (2 * sigma**2)
    lrmax = np.full(a.shape, np.inf)
    concave = c < 0
    lrmax[concave] = np.log(s / sigma)[concave] + delta[concave] ** 2 / (2 * (s**2 - sigma**2)[concave])
    equal = (c == 0) & (b == 0)
    lrmax[equal] = a[equal]
    return a, b, c, lrmax
