"""The numpy search of small PFR jobs gives the kernel's index and steps, and loads no numba."""

import subprocess
import sys

import numpy as np
import pytest

from rec_codec import block_rec, pfr_numpy
from rec_codec.blocks import layout_fixed
from rec_codec.distributions import DiagonalGaussian, log_ratio_coefficients
from rec_codec.kernels.pfr import pfr_block
from rec_codec.seed import split_seed
from sigint import sigint_after


def _block(rng, d):
    mean = rng.normal(0.0, rng.uniform(0.2, 1.5), d)
    std = rng.uniform(0.2, 1.0, d)
    return log_ratio_coefficients(DiagonalGaussian(mean, std), DiagonalGaussian(np.zeros(d), np.ones(d)))


def _kernel(seed, block, coefficients, max_steps):
    k0, k1 = split_seed(seed)
    index, steps = pfr_block(k0, k1, block, *coefficients, max_steps, np.zeros(1, dtype=np.int64))
    return int(index), int(steps)


@pytest.mark.parametrize("trial", range(60))
def test_one_block_matches_the_kernel(trial):
    rng = np.random.default_rng(trial)
    coefficients = _block(rng, int(rng.integers(1, 10)))
    seed, block = int(rng.integers(0, 2**64, dtype=np.uint64)), int(rng.integers(0, 1000))
    max_steps = int(rng.choice([100, 1000, 10**6]))  # a cap inside a batch, at a batch's end, none
    found = pfr_numpy.pfr_block_numpy(seed, block, *coefficients, max_steps, 1 << 19)
    if found is None:  # past the budget: the kernel's job
        return
    assert found == _kernel(seed, block, coefficients, max_steps)


@pytest.mark.slow
def test_many_blocks_match_the_kernel():
    rng = np.random.default_rng(12345)
    for _ in range(300):
        coefficients = _block(rng, int(rng.integers(1, 14)))
        seed = int(rng.integers(0, 2**64, dtype=np.uint64))
        found = pfr_numpy.pfr_block_numpy(seed, 7, *coefficients, 10**7, 1 << 19)
        if found is not None:
            assert found == _kernel(seed, 7, coefficients, 10**7)


def test_the_budget_hands_the_block_to_the_kernel():
    coefficients = _block(np.random.default_rng(4), 3)
    _, steps = _kernel(9, 0, coefficients, 10**7)
    assert pfr_numpy.pfr_block_numpy(9, 0, *coefficients, 10**7, steps // 2) is None
    assert pfr_numpy.pfr_block_numpy(9, 0, *coefficients, 10**7, steps + 2**14)[1] == steps


@pytest.mark.parametrize("budget", [0, 400_000, 1 << 40])  # all to the kernel, two blocks each, all in numpy
def test_a_job_split_between_numpy_and_the_kernel_gives_the_same_indices(monkeypatch, budget):
    rng = np.random.default_rng(8)
    target = DiagonalGaussian(rng.normal(0.0, 0.7, 24), rng.uniform(0.15, 0.35, 24))
    prior = DiagonalGaussian(np.zeros(24), np.ones(24))
    layout = layout_fixed(24, 6)  # 302,226, 89,869, 7,618 and 14,217 steps
    a, b, c, lrmax = log_ratio_coefficients(target, prior)
    expected = [_kernel(77, i, (a[s:s + n], b[s:s + n], c[s:s + n], lrmax[s:s + n]), 10**8)
                for i, (s, n) in enumerate(zip(layout.starts, layout.lengths))]
    monkeypatch.setattr(pfr_numpy, "DEFAULT_BUDGET", budget)
    indices, steps = block_rec.search(target, prior, 77, layout, max_steps=10**8)
    finished = pfr_numpy.search_small(77, layout, np.arange(4), a, b, c, lrmax, 10**8, budget)[2]
    assert finished.tolist() == {0: [False] * 4, 400_000: [True, True, False, False]}.get(budget, [True] * 4)
    assert list(zip(indices.tolist(), steps.tolist())) == expected


def test_a_small_encode_loads_no_numba(tmp_path):
    probe = ("import sys, numpy as np; from rec_codec import codec; "
             "from rec_codec.distributions import DiagonalGaussian; "
             "r = codec.encode(DiagonalGaussian(np.linspace(-1, 1, 16), np.full(16, 0.5)), 1); "
             "print(len(r.data), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"


def test_a_signal_stops_the_numpy_search():
    from rec_codec.errors import Interrupted

    target = DiagonalGaussian(np.full(8, 0.7), np.full(8, 0.12))  # D_inf 27 bits: minutes in numpy
    coefficients = log_ratio_coefficients(target, DiagonalGaussian(np.zeros(8), np.ones(8)))
    with sigint_after(0.5), pytest.raises(Interrupted):
        pfr_numpy.search_small(3, layout_fixed(8, 8), np.arange(1), *coefficients, 10**12, budget=1 << 40)


def test_a_job_expected_to_be_large_goes_to_the_kernel_whole():
    target = DiagonalGaussian(np.full(64, 0.7), np.full(64, 0.12))  # e^D_inf of 8-dim blocks: about 2^27 each
    coefficients = log_ratio_coefficients(target, DiagonalGaussian(np.zeros(64), np.ones(64)))
    finished = pfr_numpy.search_small(3, layout_fixed(64, 8), np.arange(8), *coefficients, 10**12)[2]
    assert not finished.any()
