"""The shared-seed PRNG: Philox4x32-10 bit for bit, uniforms, normals, streams."""

import numpy as np
import pytest
from scipy import special, stats

from rec_codec import rng
from rec_codec.errors import InputError
from rec_codec.philox_numpy import candidate_normals, ndtri, philox_uniforms

# Random123's published known answers for Philox4x32-10 (its tests/kat_vectors).
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox_matches_random123_known_answers(counter, key, expected):
    assert tuple(int(w) for w in rng.philox_words(counter, key)) == expected


def test_philox_matches_randomgen_bit_for_bit():
    randomgen = pytest.importorskip("randomgen")
    generator = np.random.default_rng(7)
    for _ in range(50):
        counter = [int(x) for x in generator.integers(0, 2**32, 4)]
        key = [int(x) for x in generator.integers(0, 2**32, 2)]
        as_int = counter[0] | counter[1] << 32 | counter[2] << 64 | counter[3] << 96
        # randomgen advances its counter before each block: start it one step back.
        reference = randomgen.Philox(key=key[0] | key[1] << 32, counter=(as_int - 1) % 2**128, number=4, width=32)
        expected = [int(w) for w in reference.random_raw(4)]
        assert [int(w) for w in rng.philox_words(counter, key)] == expected


def test_uniforms_match_numpy_reference_bit_for_bit():
    for start, count in ((0, 1), (1, 7), (12345, 1000), (2**40 + 3, 10)):
        for stream in (rng.STREAM_CANDIDATE, rng.stream_word(rng.STREAM_CANDIDATE, 5), rng.STREAM_ARRIVAL):
            ours = rng.uniforms(99, stream, 3, start, count)
            assert ours.tobytes() == philox_uniforms(99, stream, 3, start, count).tobytes()


def test_uniforms_reach_any_position_directly():
    run = rng.uniforms(5, 0, 2, 0, 100)
    for start in (0, 1, 37, 98):
        assert rng.uniforms(5, 0, 2, start, 2).tobytes() == run[start:start + 2].tobytes()


def test_uniforms_are_open_interval_and_uniform():
    u = rng.uniforms(11, 0, 0, 0, 200_000)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_streams_and_blocks_and_seeds_differ():
    base = rng.uniforms(1, 0, 0, 0, 64)
    for other in (rng.uniforms(1, 1, 0, 0, 64), rng.uniforms(1, 0, 1, 0, 64), rng.uniforms(2, 0, 0, 0, 64),
                  rng.uniforms(1, rng.stream_word(0, 1), 0, 0, 64)):
        assert not np.array_equal(base, other)
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.5


def test_ndtri_as241_matches_scipy():
    u = np.concatenate([rng.uniforms(3, 0, 0, 0, 100_000), [1e-300, 1e-20, 1e-10, 0.5, 1 - 1e-10, 1 - 2**-53]])
    z = np.array([rng.ndtri_as241(x) for x in u[-6:]])
    assert np.allclose(z, special.ndtri(u[-6:]), rtol=1e-14, atol=0)
    normals = rng.normals(3, 0, 0, 0, 100_000)
    assert np.allclose(normals, special.ndtri(u[:100_000]), rtol=1e-14, atol=1e-15)
    assert stats.kstest(normals, "norm").pvalue > 1e-3


def test_numpy_ndtri_matches_the_numba_one_bit_for_bit():
    u = np.concatenate([rng.uniforms(6, 0, 0, 0, 200_000), [1e-300, 2**-53, 0.075, 0.925, 1 - 2**-53]])
    z = ndtri(u)
    expected = np.array([rng.ndtri_as241(x) for x in u[-5:]])
    assert z[-5:].tobytes() == expected.tobytes()
    assert z[:-5].tobytes() == rng.normals(6, 0, 0, 0, 200_000).tobytes()


def test_candidate_normals_reach_each_block_and_dimension_directly():
    lengths, indices, blocks = np.array([3, 1, 2]), np.array([5, 0, 2**33 + 1]), np.array([0, 7, 2])
    z = candidate_normals(21, blocks, lengths, indices)
    expected = [rng.normals(21, rng.stream_word(rng.STREAM_CANDIDATE, k), b, n, 1)[0]
                for b, n, d in zip(blocks, indices, lengths) for k in range(d)]
    assert z.tobytes() == np.array(expected).tobytes()


def test_exponentials_are_minus_log_uniforms():
    e = rng.exponentials(4, rng.STREAM_ARRIVAL, 0, 10, 1000)
    assert np.allclose(e, -np.log(rng.uniforms(4, rng.STREAM_ARRIVAL, 0, 10, 1000)), rtol=1e-15)
    assert stats.kstest(rng.exponentials(4, 1, 0, 0, 50_000), "expon").pvalue > 1e-3


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "7", True, None])
def test_split_seed_refuses_invalid_seeds(seed):
    with pytest.raises(InputError):
        rng.split_seed(seed)


def test_split_seed_uses_all_64_bits():
    k0, k1 = rng.split_seed(2**64 - 1)
    assert (int(k0), int(k1)) == (2**32 - 1, 2**32 - 1)
    assert not np.array_equal(rng.uniforms(2**32, 0, 0, 0, 8), rng.uniforms(0, 0, 0, 0, 8))
