"""Diagonal Gaussians: validation, KL and D_inf in closed form against numerical values."""

import numpy as np
import pytest
from scipy import integrate, stats

from rec_codec.distributions import DiagonalGaussian, dinf_bits, kl_bits, log_ratio_coefficients
from rec_codec.errors import InputError


def test_kl_matches_numerical_integral():
    q, p = DiagonalGaussian([0.3], [0.4]), DiagonalGaussian([-0.2], [1.3])
    f = lambda x: stats.norm.pdf(x, 0.3, 0.4) * (stats.norm.logpdf(x, 0.3, 0.4) - stats.norm.logpdf(x, -0.2, 1.3))
    nats, _ = integrate.quad(f, -10, 10)
    assert kl_bits(q, p)[0] == pytest.approx(nats / np.log(2), rel=1e-9)


def test_dinf_is_log2_sup_of_ratio():
    q, p = DiagonalGaussian([0.7], [0.3]), DiagonalGaussian([0.1], [0.9])
    x = np.linspace(-5, 5, 2_000_001)
    sup = np.max(stats.norm.logpdf(x, 0.7, 0.3) - stats.norm.logpdf(x, 0.1, 0.9)) / np.log(2)
    assert dinf_bits(q, p)[0] == pytest.approx(sup, abs=1e-8)


def test_dinf_is_infinite_when_target_is_wider_and_zero_when_equal():
    p = DiagonalGaussian([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    q = DiagonalGaussian([0.0, 0.5, 0.0], [1.5, 1.0, 1.0])
    assert dinf_bits(q, p).tolist() == [np.inf, np.inf, 0.0]


def test_log_ratio_coefficients_give_the_log_density_ratio():
    q, p = DiagonalGaussian([0.4, -1.0], [0.2, 0.5]), DiagonalGaussian([0.1, 0.0], [0.8, 2.0])
    a, b, c, _ = log_ratio_coefficients(q, p)
    z = np.array([0.3, -1.7])
    x = p.mean + p.std * z
    assert np.allclose(a + b * z + c * z * z, q.logpdf(x) - p.logpdf(x), rtol=1e-12)


@pytest.mark.parametrize("mean, std, message", [
    ([np.nan], [1.0], "NaN"), ([0.0], [np.inf], "infinite"), ([0.0], [0.0], "> 0"), ([0.0], [-1.0], "> 0"),
    ([0.0, 1.0], [1.0], "shape"),
])
def test_invalid_gaussians_are_refused(mean, std, message):
    with pytest.raises(InputError, match=message):
        DiagonalGaussian(mean, std)
