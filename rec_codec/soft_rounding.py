"""Soft rounding: a differentiable, invertible stand-in for rounding, and its inverse.

Agustsson & Theis, "Universally quantized neural compression", NeurIPS 2020 (section 4.1).
With m = floor(y) + 1/2 and r = y - m in [-1/2, 1/2),

    s_alpha(y) = m + tanh(alpha r) / (2 tanh(alpha / 2)),

which fixes every integer and half integer, satisfies s_alpha(y + 1) = s_alpha(y) + 1, is
strictly increasing, tends to the identity as alpha -> 0 and to rounding as alpha -> inf.
Sent through universal quantization, z = s_alpha(y) + U with U ~ U[-1/2, 1/2), the
reconstruction that minimises the MSE of y, for a y whose density is flat on the scale of
one unit, is the conditional mean

    r_alpha(z) = E[y | z] = s_alpha^-1(z - 1/2) + 1/2.

The functions follow tensorflow-compression's ``soft_round`` ops: alpha below 1e-3 gives
the identity, and the inverse clips its residual to [-1/2, 1/2] where atanh would overflow.
"""

import numpy as np

from .errors import InputError

__all__ = ["soft_round", "soft_round_inverse", "soft_round_conditional_mean", "check_alpha"]

_IDENTITY_BELOW = 1e-3


def check_alpha(alpha):
    """The soft-rounding sharpness as a float.

    Args:
        alpha (float): sharpness, finite and > 0.
    Returns:
        float.
    Raises:
        InputError: when alpha is not a finite number > 0.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a number > 0, got {alpha!r}") from None
    if not np.isfinite(value) or value <= 0.0:
        raise InputError(f"alpha must be finite and > 0, got {alpha}")
    return value


def soft_round(y, alpha):
    """s_alpha(y), elementwise.

    Args:
        y (array_like): values.
        alpha (float): sharpness > 0; below 1e-3 the result is y itself.
    Returns:
        np.ndarray: float64, the shape of y.
    Raises:
        InputError: for alpha <= 0 or not finite.
    """
    alpha = check_alpha(alpha)
    y = np.asarray(y, dtype=np.float64)
    if alpha < _IDENTITY_BELOW:
        return y.copy()
    m = np.floor(y) + 0.5
    return m + np.tanh(alpha * (y - m)) / (2.0 * np.tanh(alpha / 2.0))


def soft_round_inverse(z, alpha):
    """s_alpha^-1(z), elementwise.

    Args:
        z (array_like): values.
        alpha (float): sharpness > 0; below 1e-3 the result is z itself.
    Returns:
        np.ndarray: float64, the shape of z.
    Raises:
        InputError: for alpha <= 0 or not finite.
    """
    alpha = check_alpha(alpha)
    z = np.asarray(z, dtype=np.float64)
    if alpha < _IDENTITY_BELOW:
        return z.copy()
    m = np.floor(z) + 0.5
    with np.errstate(divide="ignore"):
        r = np.arctanh((z - m) * (2.0 * np.tanh(alpha / 2.0))) / alpha
    return m + np.clip(r, -0.5, 0.5)


def soft_round_conditional_mean(z, alpha):
    """r_alpha(z) = s_alpha^-1(z - 1/2) + 1/2: the MSE reconstruction of y from z = s_alpha(y) + U.

    Args:
        z (array_like): received values s_alpha(y) + U.
        alpha (float): sharpness > 0.
    Returns:
        np.ndarray: float64, the shape of z.
    Raises:
        InputError: for alpha <= 0 or not finite.
    """
    return soft_round_inverse(np.asarray(z, dtype=np.float64) - 0.5, alpha) + 0.5
