"""The SP-PFR/SP-ORC candidate filter drops only candidates that the exact test drops: the
kernel's results are the same with the filter and without it."""

import numpy as np
import pytest

from rec_codec.distributions import DiagonalGaussian, log_ratio_coefficients
from rec_codec.kernels.partition import FILTER_DIMS, _alive_bounds, bin_normal, bin_tables, sp_block
from rec_codec.seed import split_seed


def _block(rng, d, linear=False):
    """A random block and its tables; some dimensions equal the prior (a zero log ratio) and,
    with ``linear``, some have its std exactly (a linear log ratio, unbounded)."""
    mean = rng.normal(0.0, 1.0, d)
    std = np.exp(rng.uniform(np.log(0.05), np.log(0.95), d))
    kind = rng.integers(0, 8, d)
    std[(kind == 0) & linear] = 1.0
    mean[kind == 1], std[kind == 1] = 0.0, 1.0
    a, b, c, lrmax = log_ratio_coefficients(DiagonalGaussian(mean, std), DiagonalGaussian(np.zeros(d), np.ones(d)))
    nbins = rng.choice([1, 2, 3, 4, 8, 16, 32, 48], d).astype(np.int64)
    tstart = np.concatenate(([0], np.cumsum(nbins)[:-1])).astype(np.int64)
    strides = np.cumprod(np.concatenate(([1], nbins[:-1]))).astype(np.int64)
    offset, cum, lrmax_p = np.empty(int(nbins.sum())), np.empty(int(nbins.sum())), np.empty(d)
    bin_tables(a, b, c, lrmax, nbins, tstart, offset, cum, lrmax_p)
    return a, b, c, nbins, strides, tstart, offset, cum, lrmax_p


def _search(tables, key, block, num_candidates, max_steps, filter_dims):
    a, b, c, nbins, strides, tstart, offset, cum, lrmax_p = tables
    bins = np.full(a.shape[0], -1, dtype=np.int64)
    local, steps = sp_block(*key, block, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, num_candidates,
                            max_steps, bins, np.zeros(1, dtype=np.int64), filter_dims)
    return local, steps, bins


@pytest.mark.parametrize("orc", [False, True])
def test_the_filter_changes_no_search_result(orc):
    rng = np.random.default_rng(31 + orc)
    compared = filtered = 0
    for _ in range(120):
        tables = _block(rng, int(rng.integers(1, 13)), linear=orc)
        dinf = tables[-1].sum() / np.log(2)  # infinite with a linear log ratio: searched unfiltered
        if dinf > 15 and not (orc and dinf == np.inf):
            continue  # too many steps for a unit test
        filtered += dinf < np.inf
        key = split_seed(int(rng.integers(0, 2**63)))
        block = int(rng.integers(0, 50))
        num_candidates = int(rng.choice([64 * 5, 3000, 2**14])) if orc else 0
        max_steps = int(rng.choice([100, 64 * 7, 5000, 10**9]))
        expected = _search(tables, key, block, num_candidates, max_steps, 0)
        for filter_dims in (1, 3, FILTER_DIMS, 64):
            found = _search(tables, key, block, num_candidates, max_steps, filter_dims)
            assert found[:2] == expected[:2]
            assert np.array_equal(found[2], expected[2])
        compared += 1
    assert compared >= 90 and filtered >= 40


def test_alive_bounds_keep_every_uniform_whose_ratio_passes():
    """Outside its bounds, a bin's log ratio is at or below the threshold; inside, often not."""
    rng = np.random.default_rng(5)
    kept = dropped = 0
    for _ in range(200):
        a, b, c, nbins, _, tstart, offset, _, lrmax_p = _block(rng, 1)
        nb = int(nbins[0])
        theta = lrmax_p[0] - rng.exponential(2.0)
        lo, hi = np.empty(nb), np.empty(nb)
        _alive_bounds(a[0], b[0], c[0], nb, offset, 0, theta, lo, hi)
        u = np.concatenate((rng.uniform(0.0, 1.0, 300), np.clip(np.concatenate((lo, hi)), 1e-12, 1 - 1e-12)))
        for k in range(nb):
            z = np.array([bin_normal(k, x, nb) for x in u])
            value = a[0] + (b[0] + c[0] * z) * z + offset[k]
            outside = (u <= lo[k]) | (u >= hi[k])
            assert np.all(value[outside] <= theta)
            kept += int(np.sum(~outside & (value > theta)))
            dropped += int(np.sum(outside))
    assert kept > 1000 and dropped > 1000
