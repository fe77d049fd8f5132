"""encode/decode through the library: round trips, bits, layout, determinism, refusals."""

import math

import numpy as np
import pytest

from rec_codec import codec, container
from rec_codec.blocks import layout_by_budget, layout_fixed
from rec_codec.distributions import DiagonalGaussian, kl_bits, standard_normal_like
from rec_codec.entropy import EmpiricalIndexModel
from rec_codec.errors import FormatError, InputError, MismatchError
from rec_codec.training import fit_index_model


def latent(dims, seed=0, shape=None):
    """A VAE-like posterior: std in (0.1, 0.6), mean drawn from the prior's predictive."""
    g = np.random.default_rng(seed)
    std = g.uniform(0.1, 0.6, dims)
    mean = g.normal(0, 1, dims) * np.sqrt(1 - std**2)
    shape = (dims,) if shape is None else shape
    return DiagonalGaussian(mean.reshape(shape), std.reshape(shape))


@pytest.mark.parametrize("algorithm", ["pfr", "orc"])
@pytest.mark.parametrize("shape", [(40,), (4, 5), ()])
def test_decode_returns_the_encoders_sample_bit_for_bit(algorithm, shape):
    dims = int(np.prod(shape))
    target = latent(dims, shape=shape)
    result = codec.encode(target, 123, algorithm=algorithm)
    sample = codec.decode(result.data, 123)
    assert sample.dtype == np.float64 and sample.shape == shape
    assert sample.tobytes() == result.sample.tobytes()


def test_round_trip_with_fixed_blocks_and_a_prior():
    target = latent(30, seed=1)
    prior = DiagonalGaussian(np.full(30, 0.1), np.full(30, 1.5))
    result = codec.encode(target, 5, prior=prior, block_dims=4)
    assert result.layout.lengths.tolist() == [4] * 7 + [2]
    assert codec.decode(result.data, 5, prior=prior).tobytes() == result.sample.tobytes()


def test_block_layout_survives_the_file():
    target = latent(200, seed=2)
    result = codec.encode(target, 6, block_bits=10)
    assert result.layout.num_blocks > 5 and not result.layout.is_fixed()
    assert codec.decode(result.data, 6).tobytes() == result.sample.tobytes()
    assert result.layout_bits > 0


def test_same_inputs_and_seed_give_the_same_bytes_and_another_seed_others():
    target = latent(50, seed=3)
    first = codec.encode(target, 42).data
    assert codec.encode(target, 42).data == first
    assert codec.encode(target, 43).data != first


def test_mean_payload_bits_per_block_within_the_zipf_bound_over_600_blocks():
    # 600 one-dimensional blocks of KL 6 bits: payload bits per block <= KL + log2(KL+1) + 4.
    std = 0.009478  # KL(N(0, std^2) || N(0,1)) = 6.00 bits
    target = DiagonalGaussian(np.zeros(600), np.full(600, std))
    kl = float(kl_bits(target, standard_normal_like((600,)))[0])
    assert kl == pytest.approx(6.0, abs=0.01)
    result = codec.encode(target, 2027, block_dims=1)
    assert result.payload_bits / 600 <= kl + math.log2(kl + 1) + 4


def test_layout_by_budget_keeps_block_kl_within_budget():
    kl = np.array([3.0, 4.0, 5.0, 20.0, 1.0, 1.0, 9.0, 0.0])
    layout = layout_by_budget(kl, kl + 0.5, 10.0, 14.0)
    assert layout.lengths.tolist() == [2, 1, 1, 2, 2]
    sums = layout.block_sums(kl)
    assert all(s <= 10.0 or n == 1 for s, n in zip(sums, layout.lengths))


def test_layout_by_budget_closes_blocks_at_the_dinf_limit():
    kl = np.full(10, 0.1)
    dinf = np.full(10, 3.0)
    assert layout_by_budget(kl, dinf, 16.0, 7.0).lengths.tolist() == [2, 2, 2, 2, 2]


def test_layout_fixed_covers_every_dimension():
    assert layout_fixed(10, 3).lengths.tolist() == [3, 3, 3, 1]
    assert layout_fixed(2, 5).lengths.tolist() == [2]


def test_strict_pfr_refuses_a_dimension_with_infinite_dinf_and_names_it():
    target = DiagonalGaussian([[0.0, 0.1], [0.2, 0.3]], [[0.5, 0.5], [1.2, 0.5]])
    with pytest.raises(InputError, match=r"dimension \(1, 0\).*without --strict"):
        codec.encode(target, 1, strict=True)
    assert codec.decode(codec.encode(target, 1, algorithm="orc").data, 1).shape == (2, 2)


def test_pfr_narrows_a_dimension_with_infinite_dinf_and_marks_the_file_approximate():
    target = DiagonalGaussian([[0.0, 0.1], [0.2, 0.3]], [[0.5, 0.5], [1.2, 0.5]])
    result = codec.encode(target, 1)
    assert result.approximate and result.summary()["narrowed_dims"] == 1
    assert container.unpack(result.data)[0].approximate
    assert codec.decode(result.data, 1).tobytes() == result.sample.tobytes()
    untouched = codec.encode(DiagonalGaussian([[0.0, 0.1], [0.2, 0.3]], [[0.5, 0.5], [0.6, 0.5]]), 1)
    assert not untouched.approximate and "narrowed_dims" not in untouched.summary()


def test_pfr_refuses_blocks_beyond_max_steps():
    target = DiagonalGaussian([0.0], [1e-6])  # D_inf about 20 bits
    with pytest.raises(InputError, match="max-steps"):
        codec.encode(target, 1, max_steps=1000)


@pytest.mark.parametrize("seed", [-1, 2**64, 0.5])
def test_invalid_seeds_are_refused(seed):
    with pytest.raises(InputError):
        codec.encode(latent(3), seed)


def test_target_and_prior_of_different_shapes_are_refused():
    with pytest.raises(InputError, match="shape"):
        codec.encode(latent(3), 1, prior=standard_normal_like((4,)))


def test_decoding_with_another_seed_or_prior_is_refused():
    result = codec.encode(latent(8), 10)
    with pytest.raises(MismatchError):
        codec.decode(result.data, 11)
    with pytest.raises(MismatchError):
        codec.decode(result.data, 10, prior=DiagonalGaussian(np.zeros(8), np.full(8, 1.01)))
    with pytest.raises(InputError, match="shape"):
        codec.decode(result.data, 10, prior=standard_normal_like((9,)))


def test_truncated_or_flipped_files_are_detected():
    data = codec.encode(latent(30), 10).data
    for cut in range(len(data)):
        with pytest.raises(FormatError):
            codec.decode(data[:cut], 10)
    for position in range(len(data)):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x10
        with pytest.raises(FormatError):
            codec.decode(bytes(corrupt), 10)


def test_empirical_index_model_round_trip_and_mismatch():
    train = DiagonalGaussian(np.stack([latent(40, seed=s).mean for s in range(6)]),
                             np.stack([latent(40, seed=s).std for s in range(6)]))
    model = fit_index_model(train, seed=3, block_bits=8)
    target = latent(40, seed=99)
    result = codec.encode(target, 4, block_bits=8, index_model=model)
    assert codec.decode(result.data, 4, index_model=model).tobytes() == result.sample.tobytes()
    with pytest.raises(MismatchError, match="index-model"):
        codec.decode(result.data, 4)
    other = EmpiricalIndexModel.fit(np.arange(100), escape_lambda=1.1)
    with pytest.raises(MismatchError):
        codec.decode(result.data, 4, index_model=other)
    with pytest.raises(MismatchError):
        codec.decode(codec.encode(target, 4, block_bits=8).data, 4, index_model=model)


def test_orc_files_are_marked_approximate():
    data = codec.encode(latent(5), 1, algorithm="orc", orc_candidates=256).data
    header, _ = container.unpack(data)
    assert header.approximate and header.params["orc_candidates"] == 256
    assert not container.unpack(codec.encode(latent(5), 1).data)[0].approximate
