"""Tests of rec_codec.entropy: Zipf octaves, the index code, payload streams, index models."""

import math
import os

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_codec import entropy
from rec_codec.entropy import (
    CHUNK_BITS,
    MAX_INDEX,
    N_OCTAVES,
    EmpiricalIndexModel,
    PayloadReader,
    PayloadWriter,
    index_code_bits,
    zipf_lambda,
    zipf_octave_probabilities,
)
from rec_codec.errors import FormatError, InputError

SPECIAL_INDICES = [0, 1, 2, 2**23 - 1, 2**23, 2**23 + 1, 2**40 + 5, 2**62 - 1, MAX_INDEX]


def brute_octave_sum(lam, b):
    m = np.arange(2**b, 2 ** (b + 1), dtype=np.float64)
    return math.fsum((m**-lam).tolist())


def encode_indices(indices, probs):
    writer = PayloadWriter()
    writer.add_indices(indices, probs)
    return writer.finish()


def decode_indices(words, count, probs):
    reader = PayloadReader(words)
    out = reader.read_indices(count, probs)
    reader.finish()
    return out


# ---------------------------------------------------------------------------- Zipf law


def test_zipf_lambda_matches_formula():
    for budget in [0.0, 1.0, 16.0, 1e6]:
        expected = 1 + 1 / (budget + math.log2(math.e) / math.e + 1)
        assert zipf_lambda(budget) == pytest.approx(expected, rel=1e-15)
        assert zipf_lambda(budget) > 1


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "x"])
def test_zipf_lambda_rejects_bad_budget(bad):
    with pytest.raises(InputError):
        zipf_lambda(bad)


@pytest.mark.parametrize("lam", [1.0, 0.5, float("nan"), float("inf")])
def test_zipf_octaves_reject_bad_lambda(lam):
    with pytest.raises(InputError):
        zipf_octave_probabilities(lam)


@pytest.mark.parametrize("lam", [zipf_lambda(0.0), zipf_lambda(16.0), zipf_lambda(1e4), 1.3, 2.5])
def test_zipf_octaves_match_brute_force_sum(lam):
    p = zipf_octave_probabilities(lam)
    # Octave 0 holds only n + 1 = 1, whose unnormalised mass is 1: compare ratios, which
    # do not depend on the truncation to N_OCTAVES octaves.  Octaves >= 10 use the
    # Euler-Maclaurin branch.
    for b in range(17):
        assert p[b] / p[0] == pytest.approx(brute_octave_sum(lam, b), rel=1e-12)


def test_zipf_octaves_match_hurwitz_zeta_for_high_octaves():
    lam = 1.5  # far enough from 1 that the zeta differences are accurate
    p = zipf_octave_probabilities(lam)
    norm = scipy.special.zeta(lam, 1) - scipy.special.zeta(lam, 2.0**N_OCTAVES)
    for b in range(20, 40):
        mass = (scipy.special.zeta(lam, 2.0**b) - scipy.special.zeta(lam, 2.0 ** (b + 1))) / norm
        assert p[b] == pytest.approx(mass, rel=1e-8)


@pytest.mark.parametrize("lam", [1 + 1e-12, zipf_lambda(1e6), zipf_lambda(16.0), 1.65, 3.0, 50.0])
def test_zipf_octaves_sum_to_one_and_are_positive(lam):
    p = zipf_octave_probabilities(lam)
    assert p.shape == (N_OCTAVES,) and p.dtype == np.float64
    assert math.fsum(p.tolist()) == pytest.approx(1.0, abs=1e-9)
    assert np.all(p > 0) and np.all(np.isfinite(p))
    assert np.all(np.diff(p) <= 0)  # the law decreases octave by octave


def test_zipf_octaves_are_deterministic():
    lam = zipf_lambda(12.5)
    first = zipf_octave_probabilities(lam).tobytes()
    entropy._zipf_octave_table.cache_clear()
    assert zipf_octave_probabilities(lam).tobytes() == first
    out = zipf_octave_probabilities(lam)
    out[:] = 0  # callers get a copy, never the cached table
    assert zipf_octave_probabilities(lam).tobytes() == first


# ---------------------------------------------------------------------------- index code


def test_index_code_bits_is_octave_information_plus_remainder():
    p = zipf_octave_probabilities(zipf_lambda(8.0))
    bits = index_code_bits([0, 1, 2, 6, 2**40 + 5], p)
    expected = [-np.log2(p[0]), -np.log2(p[1]) + 1, -np.log2(p[1]) + 1, -np.log2(p[2]) + 2,
                -np.log2(p[40]) + 40]
    np.testing.assert_allclose(bits, expected, rtol=1e-12)


def test_indices_round_trip_bit_for_bit_with_shared_table():
    rng = np.random.default_rng(1)
    indices = np.concatenate([SPECIAL_INDICES, rng.integers(0, 2**62, 200),
                              rng.integers(0, 1000, 200)]).astype(np.int64)
    p = zipf_octave_probabilities(zipf_lambda(16.0))
    words = encode_indices(indices, p)
    assert words.dtype == np.dtype("<u4")
    np.testing.assert_array_equal(decode_indices(words, indices.size, p), indices)


def test_indices_round_trip_with_per_index_tables():
    rng = np.random.default_rng(2)
    indices = np.array(SPECIAL_INDICES * 3, dtype=np.int64)
    tables = rng.random((indices.size, N_OCTAVES)) + 1e-3
    words = encode_indices(indices, tables)
    np.testing.assert_array_equal(decode_indices(words, indices.size, tables), indices)


def test_shared_and_per_index_tables_give_same_words():
    p = zipf_octave_probabilities(zipf_lambda(4.0))
    indices = np.arange(50) * 37
    tiled = np.tile(p, (indices.size, 1))
    np.testing.assert_array_equal(encode_indices(indices, p), encode_indices(indices, tiled))


@settings(max_examples=40, deadline=None)
@given(
    indices=st.lists(st.one_of(st.integers(0, 300), st.integers(0, MAX_INDEX)), max_size=40),
    budget=st.floats(0.0, 40.0),
)
def test_indices_round_trip_property(indices, budget):
    p = zipf_octave_probabilities(zipf_lambda(budget))
    indices = np.array(indices, dtype=np.int64)
    words = encode_indices(indices, p)
    np.testing.assert_array_equal(decode_indices(words, indices.size, p), indices)


def test_empty_payload_round_trips():
    words = PayloadWriter().finish()
    reader = PayloadReader(words)
    assert reader.read_indices(0, zipf_octave_probabilities(2.0)).shape == (0,)
    reader.finish()


def test_mixed_parts_read_back_in_order():
    rng = np.random.default_rng(3)
    p = zipf_octave_probabilities(zipf_lambda(10.0))
    indices = rng.integers(0, 5000, 30)
    sizes = np.array([2, 4, 2**CHUNK_BITS, 2**24, 2**40, 2**62, 10, 1000, 1, 3])
    uniform = np.array([int(rng.integers(0, s)) for s in sizes], dtype=np.int64)
    gauss = rng.integers(-20, 21, 25)
    means = rng.normal(0, 5, 25)
    cat_probs = rng.random((12, 7)) + 0.01
    cats = rng.integers(0, 7, 12)
    shared = np.array([0.1, 0.2, 0.7])

    w = PayloadWriter()
    w.add_indices(indices, p)
    w.add_uniform(uniform, sizes)
    w.add_quantized_gaussian(gauss, -20, 20, means, 4.0)
    w.add_uniform([5, 0, 31], 32)
    w.add_categorical(cats, cat_probs)
    w.add_categorical([2, 2, 0], shared)
    w.add_quantized_gaussian([7, 7], 7, 7, 0.0, 1.0)  # a single value costs nothing
    w.add_indices([2**40 + 5], p)
    words = w.finish()

    r = PayloadReader(words)
    np.testing.assert_array_equal(r.read_indices(30, p), indices)
    np.testing.assert_array_equal(r.read_uniform(sizes), uniform)
    np.testing.assert_array_equal(r.read_quantized_gaussian(25, -20, 20, means, 4.0), gauss)
    np.testing.assert_array_equal(r.read_uniform(32, count=3), [5, 0, 31])
    np.testing.assert_array_equal(r.read_categorical(12, cat_probs), cats)
    np.testing.assert_array_equal(r.read_categorical(3, shared), [2, 2, 0])
    np.testing.assert_array_equal(r.read_quantized_gaussian(2, 7, 7, 0.0, 1.0), [7, 7])
    np.testing.assert_array_equal(r.read_indices(1, p), [2**40 + 5])
    r.finish()


def test_pinned_words_for_fixed_payload():
    # constriction output is deterministic; if a new constriction release changes it,
    # regenerate with: w = PayloadWriter(); w.add_categorical(...); w.add_uniform(...);
    # print(w.finish().tolist()) -- and bump the file format version, since old files
    # would no longer decode.
    w = PayloadWriter()
    w.add_categorical([0, 2, 1, 2], [0.25, 0.25, 0.5])
    w.add_uniform([5, 2**30 + 7], [8, 2**40])
    w.add_quantized_gaussian([-1, 3], -4, 4, 0.0, 2.0)
    assert w.finish().tolist() == [872431728, 857735182, 2688]


def test_coded_size_is_close_to_ideal():
    rng = np.random.default_rng(4)
    p = zipf_octave_probabilities(zipf_lambda(16.0))
    # Sample the Zipf law through its octaves: b from the table (octaves <= 62, the
    # codable ones), then n + 1 uniform in [2**b, 2**(b+1)).
    q = p[:63] / p[:63].sum()
    b = rng.choice(63, size=2000, p=q)
    r = np.array([int(rng.integers(0, 2**int(k))) if k else 0 for k in b], dtype=np.int64)
    indices = (np.int64(1) << b) - 1 + r
    words = encode_indices(indices, p)
    ideal = index_code_bits(indices, p).sum()
    assert 32 * words.size <= 1.01 * ideal + 64
    assert 32 * words.size >= ideal - 64
    np.testing.assert_array_equal(decode_indices(words, indices.size, p), indices)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.add_indices([3, -1], zipf_octave_probabilities(2.0)),
        lambda w: w.add_indices([2**63 - 1], zipf_octave_probabilities(2.0)),
        lambda w: w.add_indices([1.5], zipf_octave_probabilities(2.0)),
        lambda w: w.add_indices([1], np.ones(10)),
        lambda w: w.add_indices([1], np.r_[np.zeros(1), np.ones(63)]),
        lambda w: w.add_indices([1, 2], np.ones((3, 64))),
        lambda w: w.add_uniform([4], [4]),
        lambda w: w.add_uniform([-1], [4]),
        lambda w: w.add_uniform([0], [0]),
        lambda w: w.add_uniform([0], [2**24 + 1]),
        lambda w: w.add_uniform([0], [2**63 - 1]),
        lambda w: w.add_quantized_gaussian([0], -2, 2, float("nan"), 1.0),
        lambda w: w.add_quantized_gaussian([0], -2, 2, 0.0, 0.0),
        lambda w: w.add_quantized_gaussian([0], -2, 2, 0.0, -1.0),
        lambda w: w.add_quantized_gaussian([3], -2, 2, 0.0, 1.0),
        lambda w: w.add_quantized_gaussian([0], 2, -2, 0.0, 1.0),
        lambda w: w.add_quantized_gaussian([0], 0, 2**24, 0.0, 1.0),
        lambda w: w.add_quantized_gaussian([0, 1], -2, 2, [0.0, 1.0, 2.0], 1.0),
        lambda w: w.add_categorical([3], [0.5, 0.5, 0.5]),
        lambda w: w.add_categorical([0], [0.5, 0.0, 0.5]),
        lambda w: w.add_categorical([0], [0.5, float("nan")]),
    ],
)
def test_writer_rejects_bad_input(call):
    with pytest.raises(InputError):
        call(PayloadWriter())


def test_writer_and_reader_finish_only_once():
    w = PayloadWriter()
    words = w.finish()
    with pytest.raises(RuntimeError):
        w.finish()
    with pytest.raises(RuntimeError):
        w.add_uniform([1], 2)
    r = PayloadReader(words)
    r.finish()
    with pytest.raises(RuntimeError):
        r.finish()


def test_reader_rejects_words_of_another_type():
    with pytest.raises(InputError):
        PayloadReader(np.zeros(3, dtype=np.int64))


# ---------------------------------------------------------------------------- corruption


@pytest.fixture
def index_payload():
    rng = np.random.default_rng(5)
    p = zipf_octave_probabilities(zipf_lambda(16.0))
    indices = rng.integers(0, 2**20, 40)
    return encode_indices(indices, p), indices, p


def test_truncated_payload_is_detected(index_payload):
    words, indices, p = index_payload
    for cut in (words[:-1], words[1:], words[:-3], words[: words.size // 2], words[:0]):
        with pytest.raises(FormatError):
            decode_indices(cut, indices.size, p)


def test_leftover_words_are_detected(index_payload):
    words, indices, p = index_payload
    for extra in (np.r_[words, np.uint32(12345)], np.r_[np.uint32(7), words],
                  np.r_[words, words]):
        with pytest.raises(FormatError):
            decode_indices(extra.astype(np.uint32), indices.size, p)


def test_too_few_symbols_read_is_detected(index_payload):
    words, indices, p = index_payload
    with pytest.raises(FormatError):
        decode_indices(words, indices.size - 1, p)


def test_flipped_word_is_detected(index_payload):
    # A flip inside raw remainder bits can decode to other valid indices (the file's
    # CRC catches those); a flip in the last word, the ANS head, derails the decoder.
    words, indices, p = index_payload
    flipped = words.copy()
    flipped[-1] ^= np.uint32(1 << 5)
    with pytest.raises(FormatError):
        decode_indices(flipped, indices.size, p)


def test_wrong_model_is_detected(index_payload):
    words, indices, _ = index_payload
    with pytest.raises(FormatError):
        decode_indices(words, indices.size, zipf_octave_probabilities(zipf_lambda(2.0)))


def test_octave_beyond_int64_is_a_format_error():
    p = zipf_octave_probabilities(2.0)
    w = PayloadWriter()
    w.add_categorical([63], p)  # what a corrupt octave stream could hold
    r = PayloadReader(w.finish())
    with pytest.raises(FormatError):
        r.read_indices(1, p)


# ---------------------------------------------------------------------------- index model


def test_empirical_model_fits_histogram_with_escape():
    indices = np.array([0, 0, 1, 2, 5, 6, 100])  # octaves of n + 1: 0, 0, 1, 1, 2, 2, 6
    lam = zipf_lambda(8.0)
    model = EmpiricalIndexModel.fit(indices, lam, metadata={"algorithm": "pfr", "block_bits": 8})
    w = 1 / 8
    hist = np.zeros(N_OCTAVES)
    hist[[0, 1, 2, 6]] = [2 / 7, 2 / 7, 2 / 7, 1 / 7]
    np.testing.assert_allclose(model.octave_probs, (1 - w) * hist + w * zipf_octave_probabilities(lam),
                               rtol=1e-12)
    assert model.training_indices == 7
    assert np.all(model.octave_probs > 0)  # unseen octaves keep the escape's mass
    assert math.fsum(model.octave_probs.tolist()) == pytest.approx(1.0, abs=1e-12)
    assert model.metadata == {"algorithm": "pfr", "block_bits": 8}


def test_empirical_model_escape_weight_has_a_floor():
    model = EmpiricalIndexModel.fit(np.zeros(10**5, dtype=np.int64), 2.0)
    zipf = zipf_octave_probabilities(2.0)
    np.testing.assert_allclose(model.octave_probs[1:], 1e-4 * zipf[1:], rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [dict(indices=[]), dict(indices=[1, -2]), dict(indices=[1], escape_lambda=1.0),
     dict(indices=[1], escape_weight=0.0), dict(indices=[1], escape_weight=1.5),
     dict(indices=[1], metadata={"x": [1, 2]})],
)
def test_empirical_model_fit_rejects_bad_input(kwargs):
    args = dict(escape_lambda=2.0) | kwargs
    with pytest.raises(InputError):
        EmpiricalIndexModel.fit(**args)


def test_empirical_model_codes_indices_it_never_saw():
    model = EmpiricalIndexModel.fit(np.arange(100), zipf_lambda(8.0))
    indices = np.array([0, 50, 2**30, 2**61 + 3])
    words = encode_indices(indices, model.octave_probs)
    np.testing.assert_array_equal(decode_indices(words, 4, model.octave_probs), indices)


def test_empirical_model_save_load_round_trip(tmp_path):
    model = EmpiricalIndexModel.fit(np.arange(1000) ** 2, zipf_lambda(12.0),
                                    metadata={"algorithm": "orc", "block_bits": 12, "kl": 11.5})
    path = tmp_path / "model.npz"
    model.save(path)
    model.save(path)  # replacing an existing file works too
    loaded = EmpiricalIndexModel.load(path)
    assert loaded == model
    assert loaded.octave_probs.tobytes() == model.octave_probs.tobytes()
    assert loaded.fingerprint() == model.fingerprint()
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_empirical_model_save_without_npz_suffix_keeps_the_name(tmp_path):
    model = EmpiricalIndexModel.fit([1, 2, 3], 2.0)
    model.save(tmp_path / "model.idx")
    assert os.listdir(tmp_path) == ["model.idx"]
    assert EmpiricalIndexModel.load(tmp_path / "model.idx") == model


def test_empirical_model_fingerprint_changes_with_probabilities():
    a = EmpiricalIndexModel.fit([1, 2, 3], 2.0)
    b = EmpiricalIndexModel.fit([1, 2, 10], 2.0)  # 10 + 1 is in another octave than 3 + 1
    assert 0 <= a.fingerprint() < 2**32
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == EmpiricalIndexModel.fit([1, 2, 3], 2.0).fingerprint()


def test_empirical_model_is_read_only():
    model = EmpiricalIndexModel.fit([1, 2, 3], 2.0)
    with pytest.raises(ValueError):
        model.octave_probs[0] = 1.0


def write_npz(path, **overrides):
    fields = dict(
        format=np.array("reccodec-index-model"),
        version=np.array(1),
        octave_probs=zipf_octave_probabilities(2.0),
        training_indices=np.array(10),
        metadata=np.array("{}"),
    )
    fields.update(overrides)
    fields = {k: v for k, v in fields.items() if v is not None}
    with open(path, "wb") as f:
        np.savez(f, **fields)


def test_load_accepts_a_hand_written_file(tmp_path):
    write_npz(tmp_path / "ok.npz")
    model = EmpiricalIndexModel.load(tmp_path / "ok.npz")
    assert model.training_indices == 10


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(format=np.array("something-else")), "format"),
        (dict(format=None), "format"),
        (dict(version=np.array(2)), "version 2"),
        (dict(octave_probs=np.full(10, 0.1)), "shape"),
        (dict(octave_probs=np.r_[np.nan, np.full(63, 1 / 63)]), "finite"),
        (dict(octave_probs=np.r_[0.0, np.full(63, 1 / 63)]), "> 0"),
        (dict(octave_probs=np.r_[-0.5, np.full(63, 1.5 / 63)]), "> 0"),
        (dict(octave_probs=np.full(64, 0.5)), "sum to 1"),
        (dict(metadata=np.array("not json")), "metadata"),
    ],
)
def test_load_rejects_bad_files(tmp_path, overrides, message):
    path = tmp_path / "bad.npz"
    write_npz(path, **overrides)
    with pytest.raises(FormatError, match=message):
        EmpiricalIndexModel.load(path)


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FormatError, match="not found: .*missing.npz"):
        EmpiricalIndexModel.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(FormatError, match="not an .npz"):
        EmpiricalIndexModel.load(tmp_path / "text.npz")
    np.save(tmp_path / "array.npy", np.ones(64))
    with pytest.raises(FormatError, match="not an .npz"):
        EmpiricalIndexModel.load(tmp_path / "array.npy")
    with pytest.raises(FormatError):
        EmpiricalIndexModel.load(tmp_path)  # a folder
    write_npz(tmp_path / "ok.npz")
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="cut.npz"):
        EmpiricalIndexModel.load(tmp_path / "cut.npz")
