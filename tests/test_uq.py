"""Universal quantization and soft rounding: error law, code length, round trips, refusals."""

import numpy as np
import pytest
from scipy import special, stats

from rec_codec import InputError, MismatchError, soft_round, soft_round_conditional_mean, soft_round_inverse
from rec_codec.uq import UQPrior, decode_uq, dither, encode_uq

SEED = 11


def _values(n, seed=0, family="gaussian"):
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=n) * 3.0
    scale = rng.uniform(0.5, 4.0, n)
    noise = rng.normal(size=n) if family == "gaussian" else rng.laplace(size=n)
    return loc + scale * noise, UQPrior(family, loc, scale)


# --------------------------------------------------------------------------- soft rounding


def test_soft_round_is_monotone_and_fixes_integers():
    y = np.linspace(-3, 3, 10001)
    for alpha in (0.5, 4.0, 20.0):
        s = soft_round(y, alpha)
        assert (np.diff(s) > 0).all()
        assert np.allclose(soft_round(np.arange(-3.0, 4.0), alpha), np.arange(-3.0, 4.0))
        assert np.allclose(soft_round(y + 1, alpha), s + 1)


def test_soft_round_inverse_inverts():
    y = np.linspace(-3, 3, 10001)
    for alpha in (0.01, 1.0, 8.0):
        assert np.allclose(soft_round_inverse(soft_round(y, alpha), alpha), y, atol=1e-9)


def test_soft_round_small_alpha_is_identity():
    y = np.linspace(-3, 3, 1001)
    assert np.allclose(soft_round(y, 1e-2), y, atol=1e-5)
    assert np.array_equal(soft_round(y, 1e-4), y)


def test_soft_round_large_alpha_is_round():
    y = np.linspace(-3, 3, 1000)
    y = y[np.abs(y - np.floor(y) - 0.5) > 0.1]  # away from the half integers, where s is steep
    assert np.allclose(soft_round(y, 200.0), np.round(y), atol=1e-6)


def test_soft_round_conditional_mean_is_the_posterior_mean():
    # y flat over a wide range, z = s_alpha(y) + u: E[y | z] must be r_alpha(z) in every bin of z
    rng = np.random.default_rng(3)
    alpha = 3.0
    y = rng.uniform(-20, 20, 2_000_000)
    z = soft_round(y, alpha) + rng.uniform(-0.5, 0.5, y.size)
    keep = np.abs(z) < 18
    y, z = y[keep], z[keep]
    residual = y - soft_round_conditional_mean(z, alpha)
    frac = z - np.floor(z)
    bins = np.minimum((frac * 20).astype(int), 19)
    means = np.bincount(bins, residual) / np.bincount(bins)
    assert np.abs(means).max() < 0.01
    # the naive reconstruction z itself is biased inside the unit interval
    naive = np.bincount(bins, y - z) / np.bincount(bins)
    assert np.abs(naive).max() > 0.05


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_soft_round_rejects_bad_alpha(alpha):
    with pytest.raises(InputError, match="alpha"):
        soft_round(np.zeros(3), alpha)


# --------------------------------------------------------------------------- universal quantization


def test_uq_error_is_uniform_and_uncorrelated_with_y():
    y, prior = _values(100_000)
    result = encode_uq(y, prior, SEED)
    error = result.sample - y
    assert stats.kstest(error, stats.uniform(loc=-0.5, scale=1.0).cdf).pvalue > 1e-3
    assert abs(np.corrcoef(error, y)[0, 1]) < 0.01


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
@pytest.mark.parametrize("alpha", [None, 2.5])
def test_uq_payload_is_within_one_percent_of_information(family, alpha):
    y, prior = _values(100_000, family=family)
    result = encode_uq(y, prior, SEED, alpha=alpha)
    # -log2 P(k|u) from scratch: P(k|u) is the prior mass of y's cell {y : round(s(y) - u) = k}
    u = dither(SEED, y.size)
    z = y if alpha is None else soft_round(y, alpha)
    k = np.floor(z - u + 0.5)
    g = (lambda t: t) if alpha is None else (lambda t: soft_round_inverse(t, alpha))
    lo = (g(k + u - 0.5) - prior.loc) / prior.scale
    hi = (g(k + u + 0.5) - prior.loc) / prior.scale
    cdf = special.ndtr if family == "gaussian" else stats.laplace.cdf
    mass = np.where(lo > 0, cdf(-lo) - cdf(-hi), cdf(hi) - cdf(lo))
    ideal = -np.log2(mass).sum()
    assert abs(result.payload_bits - ideal) < 0.01 * ideal
    assert abs(result.information_bits - ideal) < 1e-6 * ideal


@pytest.mark.parametrize("alpha", [None, 0.5, 6.0])
def test_uq_round_trip_is_bit_for_bit(alpha):
    y, prior = _values(3000, seed=5)
    y = y.reshape(30, 100)
    prior = UQPrior("gaussian", prior.loc.reshape(30, 100), prior.scale.reshape(30, 100))
    result = encode_uq(y, prior, SEED, alpha=alpha)
    decoded = decode_uq(result.data, SEED, prior)
    assert decoded.shape == (30, 100)
    assert np.array_equal(decoded, result.sample)
    assert np.abs(decoded - y).max() <= 0.5 + 1e-12


def test_uq_broadcast_prior_and_tiny_and_outlying_values():
    y = np.array([0.0, 1e-9, 7.3, -250.0, 1e6])  # 1e6 lies far in the tail: an escape, not an error
    prior = UQPrior("laplace", 0.0, np.array([1e-6, 1e-6, 1.0, 1.0, 1.0]))
    result = encode_uq(y, prior, SEED)
    assert np.array_equal(decode_uq(result.data, SEED, prior), result.sample)
    assert np.abs(result.sample - y).max() <= 0.5


def test_uq_refuses_wrong_seed_and_wrong_family():
    y, prior = _values(100)
    data = encode_uq(y, prior, SEED).data
    with pytest.raises(MismatchError):
        decode_uq(data, SEED + 1, prior)
    with pytest.raises(MismatchError, match="gaussian"):
        decode_uq(data, SEED, UQPrior("laplace", prior.loc, prior.scale))


def test_uq_rejects_bad_inputs():
    with pytest.raises(InputError, match="scale"):
        UQPrior("laplace", 0.0, -1.0)
    with pytest.raises(InputError, match="finite"):
        encode_uq(np.array([np.nan]), UQPrior("gaussian", 0.0, 1.0), SEED)
    with pytest.raises(InputError, match="alpha"):
        encode_uq(np.zeros(3), UQPrior("gaussian", 0.0, 1.0), SEED, alpha=-2)
    with pytest.raises(InputError, match="too far"):
        encode_uq(np.array([1e9]), UQPrior("gaussian", 0.0, 1.0), SEED)
