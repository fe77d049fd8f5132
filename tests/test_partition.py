"""Space-partitioned REC (SP-PFR, SP-ORC): exactness, round trips, allocation, profiles.

The 5-D target is DESIGN's example (mu = .6,-.4,.2,.9,0; sigma = .05,.08,.15,.1,1; KL 12.2
bits, D_inf 15.0 bits against N(0, 1)); its per-dimension KL serves as the MI profile.
"""

import json

import numpy as np
import pytest
from scipy import stats

from rec_codec import DiagonalGaussian, codec, container
from rec_codec.blocks import layout_fixed
from rec_codec.distributions import dinf_bits, kl_bits, standard_normal_like
from rec_codec.errors import FormatError, InputError, MismatchError
from rec_codec.partition import (
    allocate_bins,
    check_mi_profile,
    mi_profile_from_batch,
    partitioned_dinf_bits,
    read_partitioned,
)
from rec_codec.kernels.partition import bin_boundary, bin_normal
from test_cli import fails, ok, run_cli, write_gaussian

MU = np.array([0.6, -0.4, 0.2, 0.9, 0.0])
SIGMA = np.array([0.05, 0.08, 0.15, 0.1, 1.0])
EXAMPLE = DiagonalGaussian(MU, SIGMA)
PROFILE = kl_bits(EXAMPLE, standard_normal_like((5,)))


def tiled(blocks):
    return DiagonalGaussian(np.tile(MU, blocks), np.tile(SIGMA, blocks)), np.tile(PROFILE, blocks)


def random_target(shape, seed=0):
    rng = np.random.default_rng(seed)
    return DiagonalGaussian(rng.normal(0.0, 0.5, shape), rng.uniform(0.15, 0.6, shape))


def test_sp_pfr_is_exact_by_ks_per_dimension_over_2000_blocks():
    blocks = 2000
    target, profile = tiled(blocks)
    result = codec.encode(target, 11, algorithm="sp-pfr", block_dims=5, mi_profile=profile)
    z = ((result.sample - target.mean) / target.std).reshape(blocks, 5)
    pvalues = [stats.kstest(z[:, d], "norm").pvalue for d in range(5)]
    assert min(pvalues) > 0.001, pvalues


def test_sp_pfr_stays_exact_when_its_blocks_are_halved():
    # 5-D blocks of DESIGN's example have D_inf(Q||P') about 5.8 bits: a 4-bit limit halves them.
    blocks = 1500
    target, profile = tiled(blocks)
    result = codec.encode(target, 12, algorithm="sp-pfr", block_dims=5, mi_profile=profile, dinf_limit=4.0)
    assert result.summary()["halved_blocks"] >= blocks
    z = ((result.sample - target.mean) / target.std).reshape(blocks, 5)
    pvalues = [stats.kstest(z[:, d], "norm").pvalue for d in range(5)]
    assert min(pvalues) > 0.001, pvalues


def test_sp_pfr_needs_far_fewer_steps_than_pfr_and_no_more_bits():
    blocks = 300
    target, profile = tiled(blocks)
    pfr = codec.encode(target, 3, algorithm="pfr", block_dims=5)
    sp = codec.encode(target, 3, algorithm="sp-pfr", block_dims=5, mi_profile=profile)
    assert pfr.steps.mean() > 50 * sp.steps.mean()
    assert sp.payload_bits <= pfr.payload_bits


def test_supremum_weights_lower_dinf_below_plain_pfr():
    layout = layout_fixed(5, 5)
    nbins = allocate_bins(PROFILE, layout, 1.0)
    dinf_p = partitioned_dinf_bits(EXAMPLE, standard_normal_like((5,)), nbins, layout)[0]
    assert dinf_p < float(dinf_bits(EXAMPLE, standard_normal_like((5,))).sum()) - 8


@pytest.mark.parametrize("algorithm", ["sp-pfr", "sp-orc"])
@pytest.mark.parametrize("with_profile", [True, False])
def test_decode_returns_the_encoders_sample_bit_for_bit(algorithm, with_profile):
    target = random_target((3, 8), seed=1)
    profile = kl_bits(target, standard_normal_like(target.shape)) if with_profile else None
    result = codec.encode(target, 5, algorithm=algorithm, block_bits=12, mi_profile=profile)
    sample = codec.decode(result.data, 5, mi_profile=profile)
    assert sample.shape == (3, 8)
    assert np.array_equal(sample, result.sample)
    assert container.unpack(result.data)[0].approximate == (algorithm == "sp-orc")


def test_round_trip_with_a_prior_and_fixed_blocks():
    target = random_target(12, seed=2)
    prior = DiagonalGaussian(np.full(12, 0.1), np.full(12, 1.3))
    profile = kl_bits(target, prior)
    result = codec.encode(target, 9, prior=prior, algorithm="sp-pfr", block_dims=4, mi_profile=profile)
    assert np.array_equal(codec.decode(result.data, 9, prior=prior, mi_profile=profile), result.sample)


def test_bins_and_local_indices_survive_the_container():
    target = random_target(30, seed=3)
    for profile in (kl_bits(target, standard_normal_like((30,))), None):
        result = codec.encode(target, 4, algorithm="sp-pfr", block_bits=10, mi_profile=profile)
        layout, nbins, bins, local = read_partitioned(result.data, 4, mi_profile=profile)
        assert np.array_equal(layout.lengths, result.layout.lengths)
        assert np.array_equal(nbins, result.nbins)
        assert np.array_equal(bins, result.bins)
        assert np.array_equal(local, result.indices)
        assert (nbins > 1).any() and (bins < nbins).all()


@pytest.mark.parametrize("layout", ["profile", "coded", "block_dims"])
def test_halved_blocks_round_trip_and_each_keeps_within_the_limit(layout):
    target = random_target(60, seed=6)
    prior = standard_normal_like((60,))
    profile = kl_bits(target, prior) if layout == "profile" else None
    options = {"block_dims": 30} if layout == "block_dims" else {"block_bits": 40}
    result = codec.encode(target, 8, algorithm="sp-pfr", mi_profile=profile, dinf_limit=6.0, **options)
    summary = result.summary()
    assert summary["halved_blocks"] > 0
    assert (summary["halving_bits"] > 0) == (layout != "coded")  # a coded layout carries the halves itself
    dinf = partitioned_dinf_bits(target, prior, result.nbins, result.layout)
    assert ((dinf <= 6.0) | (result.layout.lengths == 1)).all()
    assert np.array_equal(codec.decode(result.data, 8, mi_profile=profile), result.sample)
    read_layout, nbins, bins, local = read_partitioned(result.data, 8, mi_profile=profile)
    assert np.array_equal(read_layout.lengths, result.layout.lengths)
    assert np.array_equal(nbins, result.nbins) and np.array_equal(bins, result.bins)


def test_without_halving_a_slow_block_is_refused_and_with_it_coded():
    target = random_target(60, seed=6)
    with pytest.raises(InputError, match="D_inf"):
        codec.encode(target, 8, algorithm="sp-pfr", block_bits=1000, dinf_limit=None, max_steps=2**12)
    result = codec.encode(target, 8, algorithm="sp-pfr", block_bits=1000, dinf_limit=10.0, max_steps=2**12)
    assert np.array_equal(codec.decode(result.data, 8), result.sample)


@pytest.mark.parametrize("limit", [0.0, -3.0, float("nan"), "20"])
def test_a_bad_dinf_limit_is_refused(limit):
    with pytest.raises(InputError, match="dinf-limit"):
        codec.encode(random_target(6), 1, algorithm="sp-pfr", dinf_limit=limit)


def test_dinf_limit_applies_to_sp_pfr_only():
    with pytest.raises(InputError, match="dinf_limit"):
        codec.encode(random_target(6), 1, algorithm="pfr", dinf_limit=10.0)


def test_a_halving_table_with_a_zero_probability_is_refused():
    target = random_target(60, seed=6)
    profile = kl_bits(target, standard_normal_like((60,)))
    result = codec.encode(target, 8, algorithm="sp-pfr", block_bits=40, mi_profile=profile, dinf_limit=6.0)
    header, words = container.unpack(result.data)
    header.params["sp_halving"] = header.params["sp_halving"] & ~0xFF  # depth 0 byte = 0
    with pytest.raises(FormatError, match="halving"):
        codec.decode(container.pack(header, words), 8, mi_profile=profile)


def test_sample_lies_in_the_bins_sent():
    target = random_target(30, seed=4)
    result = codec.encode(target, 4, algorithm="sp-pfr", block_bits=10)
    u = stats.norm.cdf(result.sample)
    assert (np.floor(u * result.nbins).astype(np.int64) == result.bins).all()


def test_without_a_profile_the_partition_costs_counted_bits():
    target = random_target(30, seed=5)
    result = codec.encode(target, 4, algorithm="sp-pfr", block_bits=10)
    summary = result.summary()
    assert summary["partition_bits"] > 0
    assert "sp_exp_mean" in container.unpack(result.data)[0].params


def test_allocation_puts_no_interval_on_a_zero_mi_dimension():
    profile = np.array([3.0, 0.0, 2.0, 0.0, 5.0, 0.0, 0.0, 1.0])
    for margin in (0.0, 1.0, 2.0):
        nbins = allocate_bins(profile, layout_fixed(8, 4), margin)
        assert (nbins[profile == 0] == 1).all()
        assert (nbins[profile > 0] >= 1).all()
    nbins = allocate_bins(profile, layout_fixed(8, 8), 0.0)
    assert abs(np.log2(nbins).sum() - profile.sum()) < 2


def test_bin_normal_stays_inside_its_interval_at_both_tails():
    for nbins in (2, 7, 2**16):
        for k in (0, 1, nbins // 2, nbins - 2, nbins - 1):
            for u in (1e-16, 0.5, 1 - 2**-53):
                z = bin_normal(k, u, nbins)
                lo = bin_boundary(k, nbins) if k > 0 else -np.inf
                hi = bin_boundary(k + 1, nbins) if k < nbins - 1 else np.inf
                assert np.isfinite(z) and lo <= z <= hi


@pytest.mark.parametrize("bad, fragment", [
    (np.ones(7), "shape"),
    (np.array([1.0, np.nan, 1.0, 1.0, 1.0]), "nan"),
    (np.array([1.0, -0.5, 1.0, 1.0, 1.0]), "negative"),
    (np.array(["a"] * 5), "numeric"),
])
def test_bad_profiles_are_refused(bad, fragment):
    with pytest.raises(InputError, match=f"(?i){fragment}"):
        check_mi_profile(bad, (5,))


def test_decoding_needs_the_encoders_profile():
    target, profile = tiled(4)
    result = codec.encode(target, 1, algorithm="sp-pfr", block_dims=5, mi_profile=profile)
    with pytest.raises(MismatchError, match="MI profile"):
        codec.decode(result.data, 1)
    with pytest.raises(MismatchError, match="differs"):
        codec.decode(result.data, 1, mi_profile=profile + 0.5)
    plain = codec.encode(target, 1, algorithm="sp-pfr", block_dims=5)
    with pytest.raises(MismatchError):
        codec.decode(plain.data, 1, mi_profile=profile)
    with pytest.raises(InputError, match="sp-pfr"):
        codec.encode(target, 1, algorithm="pfr", mi_profile=profile)


def test_strict_sp_pfr_refuses_an_unbounded_ratio_and_sp_orc_codes_it():
    target = DiagonalGaussian(np.array([0.3, 0.1, -0.2]), np.array([0.2, 1.5, 0.3]))
    with pytest.raises(InputError, match="dimension 1.*too wide"):
        codec.encode(target, 1, algorithm="sp-pfr", strict=True)
    narrowed = codec.encode(target, 1, algorithm="sp-pfr")
    assert narrowed.approximate and np.array_equal(codec.decode(narrowed.data, 1), narrowed.sample)
    result = codec.encode(target, 1, algorithm="sp-orc")
    assert np.array_equal(codec.decode(result.data, 1), result.sample)


def test_a_flipped_sp_file_is_refused():
    target, profile = tiled(3)
    data = bytearray(codec.encode(target, 1, algorithm="sp-orc", block_dims=5, mi_profile=profile).data)
    data[len(data) // 2] ^= 0x10
    with pytest.raises(FormatError):
        codec.decode(bytes(data), 1, mi_profile=profile)


def test_mi_profile_of_a_batch_is_its_mean_kl():
    rng = np.random.default_rng(0)
    batch = DiagonalGaussian(rng.normal(size=(10, 4)), rng.uniform(0.2, 0.9, (10, 4)))
    profile = mi_profile_from_batch(batch)
    assert profile.shape == (4,)
    assert np.allclose(profile, kl_bits(batch, standard_normal_like((10, 4))).mean(axis=0))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(7)
    write_gaussian(tmp_path / "train.npz", rng.normal(0, 0.5, (16, 10)), rng.uniform(0.2, 0.6, (16, 10)))
    write_gaussian(tmp_path / "t.npz", rng.normal(0, 0.5, 10), rng.uniform(0.2, 0.6, 10))
    return tmp_path


def test_cli_mi_profile_encode_decode_round_trip(files):
    ok("mi-profile", files / "train.npz", "-o", files / "p.npy", "-q")
    profile = np.load(files / "p.npy")
    assert profile.shape == (10,) and (profile > 0).all()
    for algorithm in ("sp-pfr", "sp-orc"):
        ok("encode", files / "t.npz", "-o", files / f"{algorithm}.rec", "--seed", "3", "--algorithm", algorithm,
           "--mi-profile", files / "p.npy", "--block-bits", "12", "--sample-out", files / f"{algorithm}.npy", "-q")
        ok("decode", files / f"{algorithm}.rec", "-o", files / f"{algorithm}-d.npy", "--seed", "3",
           "--mi-profile", files / "p.npy")
        assert np.array_equal(np.load(files / f"{algorithm}.npy"), np.load(files / f"{algorithm}-d.npy"))
    info = ok("info", files / "sp-pfr.rec", "--json")
    assert b'"mi_profile"' in info.out


def test_cli_sp_dinf_limit_halves_blocks_and_belongs_to_sp_pfr(files):
    ok("mi-profile", files / "train.npz", "-o", files / "p.npy", "-q")
    summary = ok("encode", files / "t.npz", "-o", files / "h.rec", "--seed", "3", "--algorithm", "sp-pfr",
                 "--mi-profile", files / "p.npy", "--block-bits", "100", "--sp-dinf-limit", "3", "--json")
    assert json.loads(summary.out)["halved_blocks"] > 0
    ok("decode", files / "h.rec", "-o", files / "h.npy", "--seed", "3", "--mi-profile", files / "p.npy")
    fails(files, "encode", files / "t.npz", "-o", files / "x.rec", "--seed", "3", "--sp-dinf-limit", "3",
          fragments=("--sp-dinf-limit", "sp-pfr"), code=2)
    fails(files, "encode", files / "t.npz", "-o", files / "x.rec", "--seed", "3", "--algorithm", "sp-pfr",
          "--sp-dinf-limit", "0", fragments=("--sp-dinf-limit",), code=2)


@pytest.mark.parametrize("content, fragment", [
    (np.ones(9), "shape"),
    (np.array([1.0] * 4 + [np.nan] + [1.0] * 5), "nan"),
    (np.array([1.0] * 4 + [-2.0] + [1.0] * 5), "negative"),
])
def test_cli_refuses_a_bad_profile_with_one_line(files, content, fragment):
    np.save(files / "bad.npy", content)
    fails(files, "encode", files / "t.npz", "-o", files / "x.rec", "--seed", "3", "--algorithm", "sp-pfr",
          "--mi-profile", files / "bad.npy", fragments=(fragment,))


def test_cli_refuses_a_profile_that_is_not_npy(files):
    (files / "bad.npy").write_bytes(b"not numpy")
    fails(files, "encode", files / "t.npz", "-o", files / "x.rec", "--seed", "3", "--algorithm", "sp-pfr",
          "--mi-profile", files / "bad.npy", fragments=("bad.npy",))
    fails(files, "encode", files / "t.npz", "-o", files / "x.rec", "--seed", "3", "--algorithm", "sp-pfr",
          "--mi-profile", files / "missing.npy", fragments=("missing.npy",))


def test_cli_decode_without_the_profile_fails_cleanly(files):
    ok("mi-profile", files / "train.npz", "-o", files / "p.npy", "-q")
    ok("encode", files / "t.npz", "-o", files / "a.rec", "--seed", "3", "--algorithm", "sp-pfr",
       "--mi-profile", files / "p.npy", "--block-bits", "12", "-q")
    fails(files, "decode", files / "a.rec", "-o", files / "s.npy", "--seed", "3", fragments=("--mi-profile",))
    result = run_cli("mi-profile", files / "t.npz", "-o", files / "q.npy")
    assert result.code == 1 and "batch" in result.err


def test_cli_bench_steps_partition_study_writes_rows_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    result = ok("bench", "steps", "--study", "partition", "--mi", "4,8", "--blocks", "20", "--mmd-mi", "",
                "--json-out", tmp_path / "s.json", "--csv", tmp_path / "s.csv", "--plot", tmp_path / "s.png")
    import json

    rows = json.loads((tmp_path / "s.json").read_text())
    assert {r["algorithm"] for r in rows} == {"pfr", "sp-pfr"} and len(rows) == 4
    for key in ("algorithm", "dims", "kl_bits", "dinf_bits", "mean_steps", "median_steps", "mean_bits",
                "encode_seconds"):
        assert key in rows[0]
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert b"sp-pfr" in result.out


def test_mmd_of_exact_normal_samples_is_small_and_of_shifted_ones_large():
    from rec_codec.bench_partition import mmd_to_standard_normal

    rng = np.random.default_rng(0)
    assert mmd_to_standard_normal(rng.normal(size=(800, 5))) < 0.05
    assert mmd_to_standard_normal(rng.normal(size=(800, 5)) + 0.5) > 0.1


def test_fit_index_model_refuses_partitioned_algorithms():
    from rec_codec.training import fit_index_model

    with pytest.raises(InputError, match="fit-index-model"):
        fit_index_model(DiagonalGaussian(np.zeros((2, 3)), np.full((2, 3), 0.5)), 1, algorithm="sp-pfr")
