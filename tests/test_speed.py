"""The fast paths give the same bits as the plain ones; the speed benches report what they say."""

import numpy as np
import pytest

from rec_codec import bench
from rec_codec.kernels.ceiling import philox_blocks
from rec_codec.kernels.partition import _grown, _slot
from rec_codec.rng import (fill_filter_streams, mantissa_bounds, mantissa_to_uniform,
                           philox_words, split_seed, uniform_at, uniforms)
from rec_codec.seed import STREAM_CANDIDATE


def _one_by_one(seed, stream, block, start, count):
    k0, k1 = split_seed(seed)
    return np.array([uniform_at(start + i, block, stream, k0, k1) for i in range(count)])


@pytest.mark.parametrize("start, count", [(0, 64), (128, 64), (2, 6), (7, 64), (3, 5), (2**33 - 6, 64),
                                          (2**32 - 4, 8)])
def test_fill_uniforms_equals_one_uniform_at_a_time(start, count):
    got = uniforms(12345, 256 * 3 + 1, 9, start, count)
    assert np.array_equal(got, _one_by_one(12345, 256 * 3 + 1, 9, start, count))


@pytest.mark.parametrize("start, count", [(0, 64), (1024, 1024), (2, 6), (7, 64), (3, 5), (2**33 - 6, 64),
                                          (2**32 - 4, 8)])
def test_filter_streams_are_the_uniforms_as_integers(start, count):
    k0, k1 = split_seed(99)
    m_first, v, m_second = np.empty(count, np.int64), np.empty(count), np.empty(count, np.int64)
    fill_filter_streams(m_first, v, m_second, start, 3, 256 * 2 + 1, 2, 256 * 7 + 1, k0, k1)
    assert np.array_equal([mantissa_to_uniform(m) for m in m_first], _one_by_one(99, 256 * 2 + 1, 3, start, count))
    assert np.array_equal(v, _one_by_one(99, 2, 3, start, count))
    assert np.array_equal([mantissa_to_uniform(m) for m in m_second], _one_by_one(99, 256 * 7 + 1, 3, start, count))
    assert m_first.min() >= 0 and m_first.max() < 2**53
    untouched = np.full(count, 17, np.int64)
    fill_filter_streams(m_first, v, untouched, start, 3, 256 * 2 + 1, 2, -1, k0, k1)
    assert (untouched == 17).all()
    fill_filter_streams(m_first, v, np.empty(0, np.int64), start, 3, 256 * 2 + 1, 2, -1, k0, k1)
    assert np.array_equal(v, _one_by_one(99, 2, 3, start, count))


def test_mantissa_bounds_select_the_uniforms_inside_the_interval():
    rng = np.random.default_rng(4)
    top = 2**53 - 1
    edges = [0.0, 1.0, -1.0, 2.0, 0.5, 2.0**-53, 1.0 - 2.0**-53, mantissa_to_uniform(2**52), mantissa_to_uniform(top),
             mantissa_to_uniform(2**52 + 1), mantissa_to_uniform(12345)]
    values = edges + list(rng.random(200)) + list(rng.random(50) * 1e-12) + list(1.0 - rng.random(50) * 1e-12)
    for _ in range(400):
        lo, hi = rng.choice(values), rng.choice(values)
        m_lo, m_hi = mantissa_bounds(lo, hi)
        # every m near both bounds (and the ends of the range) lies inside iff m_lo <= m <= m_hi
        around = set()
        for centre in (m_lo, m_hi, 0, top, 2**52):
            around.update(m for m in range(centre - 4, centre + 5) if 0 <= m <= top)
        for m in around:
            assert (lo < mantissa_to_uniform(m) < hi) == (m_lo <= m <= m_hi), (lo, hi, m, m_lo, m_hi)


def test_philox_ceiling_is_the_xor_of_the_words():
    seed = 2**40 + 17
    k0, k1 = split_seed(seed)
    expected = 0
    for call in range(37):
        for word in philox_words([call, 0, 5, STREAM_CANDIDATE], [int(k0), int(k1)]):
            expected ^= int(word)
    assert int(philox_blocks(37, 5, k0, k1)) == expected


def test_bin_count_table_keeps_every_key_through_growth():
    keys = np.full(8, -1, dtype=np.int64)
    counts = np.zeros(8, dtype=np.int64)
    rng = np.random.default_rng(0)
    inserted = {}
    for j in rng.integers(0, 2**62, 300).tolist() + [0, 1, 2, 3]:
        if 2 * (len(inserted) + 1) > keys.shape[0]:
            keys, counts = _grown(keys, counts)
        slot = _slot(keys, j)
        if keys[slot] == -1:
            keys[slot] = j
        counts[slot] += 1
        inserted[j] = inserted.get(j, 0) + 1
    for j, n in inserted.items():
        slot = _slot(keys, j)
        assert keys[slot] == j and counts[slot] == n
    assert np.count_nonzero(keys != -1) == len(inserted)


def test_throughput_rows_compare_kernels_with_the_ceiling():
    rows = bench.throughput([2], dinf_bits=8.0, blocks=2, repeat=1, ceiling_calls=2**16, latent_dims=8,
                            latent_items=2)
    assert set(rows[0]) == set(bench.THROUGHPUT_COLUMNS)
    kernel = {r["impl"]: r for r in rows if r["dims"] == 2}
    assert kernel["philox"]["of_ceiling"] == 1.0
    assert kernel["pfr"]["candidates"] == kernel["numpy"]["candidates"]  # the same search, step for step
    assert kernel["pfr"]["candidates"] == kernel["pfr-numpy"]["candidates"]
    latent = {r["impl"] for r in rows if r["dims"] != 2}
    assert latent == {"philox", "pfr encode", "orc encode", "sp-pfr encode", "hybrid encode"}
    assert all(r["candidates_per_second"] > 0 for r in rows)


@pytest.mark.slow
def test_startup_rows_time_each_command_cold_and_warm():
    rows = bench.startup(["pfr"], repeat=1)
    assert [r["command"] for r in rows] == ["--help", "--version"] + ["encode", "decode", "encode+decode"] * 2
    assert [r["algorithm"] for r in rows[2:]] == ["pfr"] * 3 + ["pfr, 512 dims"] * 3
    for r in rows[2:]:
        assert 0 < r["warm_seconds"] and 0 < r["cold_seconds"]


def _contiguous_blocks(lengths):
    """int64 lengths and starts of blocks laid end to end, and their total dimensions."""
    lengths = np.array(lengths, dtype=np.int64)
    return lengths, np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64), int(lengths.sum())


def test_numpy_rebuild_of_partitioned_candidates_equals_the_kernel():
    from rec_codec.kernels.partition import sp_candidate_values as kernel
    from rec_codec.rebuild import sp_candidate_values

    g = np.random.default_rng(3)
    lengths, starts, n = _contiguous_blocks([1, 5, 8, 3])
    nbins = g.choice([1, 2, 3, 4, 7, 64], n).astype(np.int64)
    bins = (g.random(n) * nbins).astype(np.int64)
    strides = np.ones(n, dtype=np.int64)
    for s, e in zip(starts, starts + lengths):
        strides[s:e] = np.concatenate(([1], np.cumprod(nbins[s:e])[:-1]))
    local = np.array([0, 3, 2**33 + 5, 17], dtype=np.int64)
    block_ids = np.array([0, 1, 9, 2**31], dtype=np.int64)
    mean, std = g.normal(size=n), g.uniform(0.5, 2.0, n)
    seed = 2**63 + 12345
    k0, k1 = split_seed(seed)
    expected = np.empty(n)
    kernel(k0, k1, block_ids, starts, lengths, nbins, strides, bins, local, mean, std, expected)
    got = sp_candidate_values(seed, block_ids, starts, lengths, nbins, strides, bins, local, mean, std)
    assert np.array_equal(got, expected)


def test_numpy_rebuild_of_hybrid_values_equals_the_kernel():
    from rec_codec.kernels.hybrid import hybrid_values as kernel
    from rec_codec.rebuild import hybrid_values

    g = np.random.default_rng(5)
    lengths, starts, n = _contiguous_blocks([1, 6, 3, 9])
    m = np.ldexp(1.0, g.integers(0, 30, n))
    symbols = (g.random(n) * m).astype(np.int64)
    symbols[:3] = [0, int(m[1]) - 1, 0]  # the windows' edges reach the normal's far tails
    indices = np.array([0, 7, 2**33 + 1, 123456], dtype=np.int64)
    block_ids = np.array([0, 1, 5, 2**31], dtype=np.int64)
    mean, std = g.normal(size=n), g.uniform(0.5, 2.0, n)
    seed = 2**62 + 99
    k0, k1 = split_seed(seed)
    expected = np.empty(n)
    kernel(k0, k1, block_ids, starts, lengths, indices, symbols, m, mean, std, expected)
    got = hybrid_values(seed, block_ids, lengths, indices, symbols, m, mean, std)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("algorithm", ["pfr", "orc", "sp-pfr", "sp-orc", "hybrid"])
def test_decoding_imports_neither_numba_nor_scipy(tmp_path, algorithm):
    import subprocess
    import sys

    from rec_codec import codec
    from rec_codec.distributions import DiagonalGaussian

    result = codec.encode(DiagonalGaussian(np.linspace(-1, 1, 12), np.full(12, 0.3)), 5, algorithm=algorithm)
    path = tmp_path / "x.rec"
    path.write_bytes(result.data)
    np.save(tmp_path / "x.npy", result.sample)
    probe = ("import sys, numpy as np; from rec_codec import codec; "
             f"s = codec.decode(open({str(path)!r}, 'rb').read(), 5); s = getattr(s, 'sample', s); "
             f"print(np.array_equal(np.asarray(s), np.load({str(tmp_path / 'x.npy')!r})), "
             "'numba' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]
