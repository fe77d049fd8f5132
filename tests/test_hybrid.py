"""Hybrid coding: exactness for the truncated target, round trips, steps, refusals."""

import numpy as np
import pytest
from scipy import special, stats

from rec_codec import DiagonalGaussian, InputError, decode, encode, standard_normal_like
from rec_codec.hybrid import plan_hybrid
from rec_codec.blocks import layout_fixed

SEED = 5


def _tiled(mean, std, blocks):
    return DiagonalGaussian(np.tile(mean, blocks), np.tile(std, blocks))


def _truncation(eps, dims):
    """Half-width, in target stds, of each dimension's kept interval."""
    mass = -np.expm1(np.log1p(-eps) / dims)
    return -special.ndtri(mass / 2)


@pytest.mark.parametrize("dims,blocks", [(1, 4000), (2, 2000)])
def test_hybrid_sample_follows_the_truncated_target(dims, blocks):
    eps = 0.05  # large enough that the truncation shows, so KS tests the truncated law itself
    mean, std = np.array([0.7, -0.3])[:dims], np.array([0.03, 0.2])[:dims]
    target = _tiled(mean, std, blocks)
    result = encode(target, SEED, algorithm="hybrid", block_dims=dims, eps=eps)
    assert result.extra["mean_log2_m"] > 0  # the window is narrower than the prior
    t = _truncation(eps, dims)
    standardised = (result.sample.reshape(blocks, dims) - mean) / std
    assert np.abs(standardised).max() <= t * (1 + 1e-9)
    for d in range(dims):
        assert stats.kstest(standardised[:, d], stats.truncnorm(-t, t).cdf).pvalue > 1e-3


def test_hybrid_orc_round_trips_and_is_close():
    blocks = 2000
    target = _tiled(np.array([0.4]), np.array([0.01]), blocks)
    result = encode(target, SEED, algorithm="hybrid", block_dims=1, search="orc")
    assert result.summary()["approximate"]
    assert np.array_equal(decode(result.data, SEED), result.sample)
    assert stats.kstest((result.sample - 0.4) / 0.01, "norm").statistic < 0.05


def test_hybrid_round_trip_with_prior_layout_and_several_widths():
    rng = np.random.default_rng(1)
    n = 40
    prior = DiagonalGaussian(rng.normal(size=(5, 8)) * 0.5, rng.uniform(0.5, 2.0, (5, 8)))
    target = DiagonalGaussian(prior.mean + 0.3 * prior.std, prior.std * rng.uniform(0.001, 0.5, (5, 8)))
    result = encode(target, SEED, prior=prior, algorithm="hybrid", block_bits=12)
    assert n == result.layout.num_dims
    assert np.array_equal(decode(result.data, SEED, prior=prior), result.sample)


def test_hybrid_takes_about_prod_m_fewer_steps_than_pfr_for_about_the_same_bits():
    blocks = 300
    target = _tiled(np.array([0.5]), np.array([0.002]), blocks)
    pfr = encode(target, SEED, algorithm="pfr", block_dims=1)
    hybrid = encode(target, SEED, algorithm="hybrid", block_dims=1)
    prod_m = 2.0 ** hybrid.extra["mean_log2_m"]
    assert hybrid.steps.mean() <= pfr.steps.mean() / (prod_m / 4)
    assert (hybrid.payload_bits + hybrid.extra["m_bits"]) / blocks <= pfr.payload_bits / blocks + 1.5


def test_hybrid_stops_where_pfr_cannot():
    # sigma > prior std: D_inf(Q||P) is infinite, but the truncated target has a bounded ratio
    target = DiagonalGaussian(np.zeros(3), np.full(3, 1.3))
    with pytest.raises(InputError, match="too wide"):
        encode(target, SEED, algorithm="pfr", strict=True)
    result = encode(target, SEED, algorithm="hybrid")
    assert np.array_equal(decode(result.data, SEED), result.sample)


def test_hybrid_refuses_a_window_too_far_for_the_step_limit():
    target = DiagonalGaussian(np.full(4, 2.0), np.full(4, 0.3))
    with pytest.raises(InputError, match="against the hybrid window.*--max-steps"):
        encode(target, SEED, algorithm="hybrid", block_dims=4, max_steps=1000)


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.5, 2.0])
def test_hybrid_rejects_eps_outside_the_unit_interval(eps):
    with pytest.raises(InputError, match="eps"):
        encode(DiagonalGaussian(np.zeros(2), np.full(2, 0.1)), SEED, algorithm="hybrid", eps=eps)


def test_window_holds_the_truncated_support():
    rng = np.random.default_rng(2)
    target = DiagonalGaussian(rng.normal(size=500) * 2, rng.uniform(1e-4, 0.9, 500))
    prior = standard_normal_like(target.shape)
    plan = plan_hybrid(target, prior, layout_fixed(500, 5), 1e-3)
    lo, hi = plan["m"] * special.ndtr(plan["zlo"]), plan["m"] * special.ndtr(plan["zhi"])
    assert (lo >= plan["start"] - 1e-9).all() and (hi <= plan["start"] + 1 + 1e-9).all()


def test_other_options_are_refused_for_pfr():
    with pytest.raises(InputError, match="does not apply to pfr; it applies to hybrid"):
        encode(DiagonalGaussian(np.zeros(2), np.full(2, 0.5)), SEED, algorithm="pfr", eps=0.1)


def test_hybrid_widths_beyond_one_symbol_are_chunked():
    target = DiagonalGaussian(np.array([0.3, -1.2]), np.array([1e-9, 1e-8]))  # M = 2^27, 2^24 > 2^23
    result = encode(target, SEED, algorithm="hybrid", block_dims=1)
    assert result.extra["mean_log2_m"] > 23
    decoded = decode(result.data, SEED)
    assert np.array_equal(decoded, result.sample)
    assert np.all(np.abs(decoded - target.mean) <= 4 * target.std)
