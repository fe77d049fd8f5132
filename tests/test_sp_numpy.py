"""The numpy bin tables and search of small SP-PFR jobs give the kernel's results, and a small
job loads no numba."""

import subprocess
import sys

import numpy as np
import pytest

from rec_codec import batch, partition, sp_numpy
from rec_codec.blocks import layout_fixed
from rec_codec.distributions import DiagonalGaussian, log_ratio_coefficients
from rec_codec.errors import Interrupted
from rec_codec.kernels.partition import bin_tables, sp_block
from rec_codec.seed import split_seed
from sigint import sigint_after


def _tables(rng, d, wide=False):
    """A random block: its coefficients, bins and both kinds of tables."""
    mean = rng.normal(0.0, 1.0, d)
    std = np.exp(rng.uniform(np.log(0.05), np.log(1.3 if wide else 0.9), d))
    a, b, c, lrmax = log_ratio_coefficients(DiagonalGaussian(mean, std), DiagonalGaussian(np.zeros(d), np.ones(d)))
    nbins = rng.choice([1, 2, 3, 4, 8, 16], d).astype(np.int64)
    tstart = np.concatenate(([0], np.cumsum(nbins)[:-1])).astype(np.int64)
    strides = np.cumprod(np.concatenate(([1], nbins[:-1]))).astype(np.int64)
    return a, b, c, lrmax, nbins, tstart, strides


def _kernel_tables(a, b, c, lrmax, nbins, tstart):
    offset, cum, lrmax_p = np.empty(int(nbins.sum())), np.empty(int(nbins.sum())), np.empty(a.shape[0])
    bin_tables(a, b, c, lrmax, nbins, tstart, offset, cum, lrmax_p)
    return offset, cum, lrmax_p


@pytest.mark.parametrize("trial", range(20))
def test_bin_tables_match_the_kernel(trial):
    rng = np.random.default_rng(trial)
    a, b, c, lrmax, nbins, tstart, _ = _tables(rng, int(rng.integers(1, 30)), wide=trial % 2 == 1)
    expected = _kernel_tables(a, b, c, lrmax, nbins, tstart)
    for mine, theirs in zip(sp_numpy.bin_tables(a, b, c, lrmax, nbins, tstart), expected):
        assert np.array_equal(mine, theirs)


def _compare(rng, max_steps):
    a, b, c, lrmax, nbins, tstart, strides = _tables(rng, int(rng.integers(1, 12)))
    offset, cum, lrmax_p = sp_numpy.bin_tables(a, b, c, lrmax, nbins, tstart)
    if lrmax_p.sum() / np.log(2) > 16:  # more than 2^16 steps or so: kept short here
        return False
    k0, k1 = split_seed(int(rng.integers(0, 2**63)))
    block = int(rng.integers(0, 100))
    bins = np.zeros(a.shape[0], dtype=np.int64)
    local, steps = sp_block(k0, k1, block, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, 0, max_steps, bins,
                            np.zeros(1, dtype=np.int64))
    found = sp_numpy.sp_block_numpy(k0, k1, block, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, max_steps,
                                    1 << 30)
    assert found[:2] == (local, steps)
    if local >= 0:
        assert np.array_equal(found[2], bins)
    return True


@pytest.mark.parametrize("trial", range(40))
def test_one_block_matches_the_kernel(trial):
    rng = np.random.default_rng(1000 + trial)
    _compare(rng, int(rng.choice([100, 64 * 7, 5000, 10**9])))  # caps inside and at the end of a batch, none


@pytest.mark.slow
def test_many_blocks_match_the_kernel():
    rng = np.random.default_rng(777)
    compared = sum(_compare(rng, 10**9) for _ in range(400))
    assert compared >= 250  # the others need too many steps for a unit test


def test_an_unbounded_ratio_goes_to_the_kernel():
    a, b, c, lrmax, nbins, tstart, strides = _tables(np.random.default_rng(5), 4)
    lrmax = lrmax.copy()
    lrmax[2] = np.inf
    offset, cum, lrmax_p = sp_numpy.bin_tables(a, b, c, lrmax, nbins, tstart)
    assert sp_numpy.sp_block_numpy(1, 2, 0, a, b, c, nbins, strides, tstart, offset, cum, lrmax_p, 10**6,
                                   1 << 20) is None


def _latent(count=24, seed=8):
    rng = np.random.default_rng(seed)
    return DiagonalGaussian(rng.normal(0.0, 0.7, count), rng.uniform(0.15, 0.35, count))


@pytest.mark.parametrize("budget", [0, 1_100, 1 << 40])  # all to the kernel, split, all in numpy
def test_a_file_split_between_numpy_and_the_kernel_has_the_same_bytes(monkeypatch, budget):
    target = _latent(seed=12)  # 4 blocks of 6 dimensions: 12, 4,019, 925 and 264 steps
    monkeypatch.setattr(sp_numpy, "DEFAULT_BUDGET", 0)
    expected = partition.encode_partitioned(target, 41, block_dims=6).data
    monkeypatch.setattr(sp_numpy, "DEFAULT_BUDGET", budget)
    monkeypatch.setattr(sp_numpy, "_EXPECTED_BUDGETS", 8)  # let numpy start on the job in every case
    finished = []
    search_small = sp_numpy.search_small

    def recording(*args, **kwargs):
        found = search_small(*args, **kwargs)
        finished.append(found[2].tolist())
        return found

    monkeypatch.setattr(sp_numpy, "search_small", recording)
    assert partition.encode_partitioned(target, 41, block_dims=6).data == expected
    assert finished == [{0: [False] * 4, 1_100: [True, False, False, False]}.get(budget, [True] * 4)]


def test_a_model_item_coded_in_numpy_has_the_kernels_bytes(monkeypatch):
    from rec_codec import digits_vae, training

    vae = digits_vae.load()
    model = training.train_model(vae.train_mean[:400], vae.train_std[:400], seed=1, margin_bits=4.0)
    mean, std = vae.test_mean[:3], vae.test_std[:3]
    monkeypatch.setattr(sp_numpy, "DEFAULT_BUDGET", 0)
    expected = batch.encode_batch(mean, std, model=model, seed=5)
    monkeypatch.setattr(sp_numpy, "DEFAULT_BUDGET", 1 << 40)
    found = batch.encode_batch(mean, std, model=model, seed=5)
    assert found.records == expected.records and found.container == expected.container


def test_a_small_sp_pfr_encode_loads_no_numba():
    probe = ("import sys, numpy as np; from rec_codec import codec; "
             "from rec_codec.distributions import DiagonalGaussian; "
             "r = codec.encode(DiagonalGaussian(np.linspace(-1, 1, 16), np.full(16, 0.5)), 1, algorithm='sp-pfr'); "
             "print(len(r.data), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"


def test_a_signal_stops_the_numpy_search():
    target = DiagonalGaussian(np.full(8, 0.7), np.full(8, 0.05))
    prior = DiagonalGaussian(np.zeros(8), np.ones(8))
    nbins = np.full(8, 2, dtype=np.int64)  # coarse bins: D_inf(Q||P') about 24 bits, minutes in numpy
    a, b, c, tstart, offset, cum, lrmax_p = partition.encoder_tables(target, prior, nbins)
    layout = layout_fixed(8, 8)
    with sigint_after(0.5), pytest.raises(Interrupted):
        sp_numpy.search_small(split_seed(3), np.arange(1), layout.starts, layout.lengths, a, b, c, nbins,
                              np.cumprod(np.r_[1, nbins[:-1]]), tstart, offset, cum, lrmax_p, 10**12,
                              np.zeros(8, dtype=np.int64), budget=1 << 40)


def test_a_job_expected_to_be_large_goes_to_the_kernel_whole():
    target = DiagonalGaussian(np.full(64, 0.7), np.full(64, 0.05))
    prior = DiagonalGaussian(np.zeros(64), np.ones(64))
    nbins = np.full(64, 2, dtype=np.int64)
    a, b, c, tstart, offset, cum, lrmax_p = partition.encoder_tables(target, prior, nbins)
    layout = layout_fixed(64, 8)
    finished = sp_numpy.search_small(split_seed(3), np.arange(8), layout.starts, layout.lengths, a, b, c, nbins,
                                     np.ones(64, dtype=np.int64), tstart, offset, cum, lrmax_p, 10**12,
                                     np.zeros(64, dtype=np.int64))[2]
    assert not finished.any()
