"""Codec models, per-item records and batch containers, on the digits VAE's real posteriors."""

import io
import json
import os

import numba
import numpy as np
import pytest
from scipy import stats

from rec_codec import digits_vae
from rec_codec.batch import decode_batch, decode_record, describe_container, encode_batch, record_file
from rec_codec.errors import FormatError, InputError, MismatchError
from rec_codec.items import item_seed
from rec_codec.model import load_model
from rec_codec.training import train_model
from test_cli import assert_one_error_line, ok, run_cli

SEED = 2026


@pytest.fixture(scope="module")
def vae():
    return digits_vae.load()


@pytest.fixture(scope="module")
def model(vae):
    return train_model(vae.train_mean[:400], vae.train_std[:400], seed=1, margin_bits=4.0)


@pytest.fixture(scope="module")
def coded(vae, model):
    return encode_batch(vae.test_mean[:60], vae.test_std[:60], model, SEED, chunk_items=16)


def test_model_file_round_trips_to_the_same_bytes(model):
    data = model.to_bytes()
    again = load_model(data)
    assert again.to_bytes() == data
    assert again.model_id == model.model_id


def test_training_twice_gives_the_same_model(vae, model):
    assert train_model(vae.train_mean[:400], vae.train_std[:400], seed=1, margin_bits=4.0).to_bytes() == model.to_bytes()


def test_training_codes_each_item_once_with_a_fixed_margin_and_at_most_the_table_items(vae, monkeypatch):
    from rec_codec import items, training

    coded = []
    encode_items = items.encode_items

    def counting(model, mean, *args, **kwargs):
        coded.append(mean.shape[0])
        return encode_items(model, mean, *args, **kwargs)

    monkeypatch.setattr(items, "encode_items", counting)
    model = train_model(vae.train_mean[:300], vae.train_std[:300], seed=1, margin_bits=4.0)
    assert sum(coded) == 300 and "table_items" not in model.info
    coded.clear()
    monkeypatch.setattr(training, "_TABLE_ITEMS", 120)
    model = train_model(vae.train_mean[:300], vae.train_std[:300], seed=1, margin_bits=4.0)
    assert sum(coded) == model.info["table_items"] and 110 <= sum(coded) <= 120
    result = encode_batch(vae.test_mean[:5], vae.test_std[:5], model, SEED)
    assert decode_batch(result.container, model, SEED).tobytes() == result.samples.tobytes()


def test_the_margin_trial_draws_its_items_from_the_whole_training_set(vae, monkeypatch):
    from rec_codec import items, training

    trials = []
    encode_items = items.encode_items

    def recording(model, mean, *args, **kwargs):
        # each coded item's row in the training set
        trials.append([int(np.flatnonzero((vae.train_mean[:400] == row).all(axis=1))[0]) for row in mean])
        return encode_items(model, mean, *args, **kwargs)

    monkeypatch.setattr(items, "encode_items", recording)
    monkeypatch.setattr(training, "_MARGINS", (3.0, 5.0))
    monkeypatch.setattr(training, "_MARGIN_TRIAL_ITEMS", 60)
    train_model(vae.train_mean[:400], vae.train_std[:400], seed=1, components=1, margin_bits="auto")
    assert len(trials) == 3 and trials[0] == trials[1] and len(trials[0]) == 60  # two margins, then the tables
    assert max(trials[0]) >= 300 and min(trials[0]) < 100 and trials[2] == list(range(400))


def test_the_margin_is_fixed_by_default_and_tried_with_auto(vae, tmp_path, monkeypatch):
    from rec_codec import training

    monkeypatch.setattr(training, "_MARGINS", (3.0, 5.0))
    np.savez(tmp_path / "train.npz", mean=vae.train_mean[:100], std=vae.train_std[:100])
    margins = {}
    for argv in ((), ("--margin-bits", "auto"), ("--margin-bits", "2.5")):
        output = tmp_path / f"m{len(margins)}.rcm"
        ok("train", tmp_path / "train.npz", "-o", output, "--components", "1", "-q", *argv)
        margins[argv[1:]] = load_model(output.read_bytes()).info["margin_bits"]
    assert margins[()] == training.DEFAULT_MODEL_MARGIN_BITS and margins[("auto",)] in (3.0, 5.0)
    assert margins[("2.5",)] == 2.5
    assert_one_error_line(run_cli("train", tmp_path / "train.npz", "--margin-bits", "some"), "--margin-bits", code=2)
    for bad in (-1.0, 33.0, "best", None):
        with pytest.raises(InputError, match="margin_bits"):
            train_model(vae.train_mean[:100], vae.train_std[:100], margin_bits=bad)


def test_every_single_flipped_bit_of_a_model_file_is_refused(model):
    data = model.to_bytes()
    for position in range(0, len(data), max(1, len(data) // 300)):
        bad = bytearray(data)
        bad[position] ^= 0x10
        with pytest.raises(FormatError):
            load_model(bytes(bad))
    with pytest.raises(FormatError):
        load_model(data[:-1])


def test_container_decodes_to_the_encoders_samples_bit_for_bit(model, coded):
    decoded = decode_batch(coded.container, model, SEED)
    assert decoded.tobytes() == coded.samples.tobytes()


def test_decoding_a_container_imports_neither_numba_nor_scipy(model, coded, tmp_path):
    import subprocess
    import sys

    (tmp_path / "m.rcm").write_bytes(model.to_bytes())
    (tmp_path / "x.recs").write_bytes(coded.container)
    np.save(tmp_path / "x.npy", coded.samples)
    probe = ("import sys, numpy as np; from rec_codec.batch import decode_batch; from rec_codec.model import load_model; "
             f"m = load_model(open({str(tmp_path / 'm.rcm')!r}, 'rb').read()); "
             f"s = decode_batch(open({str(tmp_path / 'x.recs')!r}, 'rb').read(), m, {SEED}); "
             f"print(s.tobytes() == np.load({str(tmp_path / 'x.npy')!r}).tobytes(), "
             "'numba' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]


def test_a_single_item_decodes_alone_to_the_batch_row(model, coded):
    for item in (0, 17, 59):
        alone = decode_batch(coded.container, model, SEED, items=[item])[0]
        assert alone.tobytes() == coded.samples[item].tobytes()


def test_a_framed_record_decodes_alone(model, coded):
    for item in (0, 33):
        framed = record_file(coded.records[item], model, SEED, item)
        assert len(framed) == len(coded.records[item]) + 2
        assert decode_record(framed, model, SEED, item).tobytes() == coded.samples[item].tobytes()


def test_records_are_byte_aligned_payloads_near_the_kl(coded):
    assert (coded.record_bits == 8 * np.array([len(r) for r in coded.records])).all()
    assert coded.record_bits.mean() < 1.35 * coded.kl_bits.mean()
    assert 8 * len(coded.container) < 1.3 * coded.kl_bits.sum()


def test_a_chunk_of_one_item_holds_exactly_its_record(vae, model):
    result = encode_batch(vae.test_mean[:5], vae.test_std[:5], model, SEED, chunk_items=1)
    assert b"".join(result.records) in result.container


def test_default_chunks_hold_64_items_or_about_chunk_bits():
    from rec_codec.batch import CHUNK_BITS, default_chunk_items

    assert default_chunk_items([68] * 300) == 64
    assert default_chunk_items([440] * 100) == CHUNK_BITS // 440 == 18
    assert default_chunk_items([440, 441]) == CHUNK_BITS // 441
    assert default_chunk_items([CHUNK_BITS + 8]) == 1


def test_a_container_of_large_records_takes_smaller_chunks_and_decodes(vae, model, monkeypatch):
    from rec_codec import batch

    monkeypatch.setattr(batch, "CHUNK_BITS", 200)  # records of about 70 bits: 2 items per chunk
    result = encode_batch(vae.test_mean[:7], vae.test_std[:7], model, SEED)
    assert describe_container(result.container)["chunk_items"] == 200 // int(np.ceil(result.record_bits.mean()))
    assert decode_batch(result.container, model, SEED).tobytes() == result.samples.tobytes()
    assert decode_batch(result.container, model, SEED, items=[5]).tobytes() == result.samples[5:6].tobytes()


def test_same_bytes_on_one_and_two_threads(vae, model):
    saved = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = encode_batch(vae.test_mean[:20], vae.test_std[:20], model, SEED).container
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = encode_batch(vae.test_mean[:20], vae.test_std[:20], model, SEED).container
    finally:
        numba.set_num_threads(saved)
    assert one == two


def test_float32_inputs_give_the_same_bytes(vae, model):
    mean, std = vae.test_mean[:10], vae.test_std[:10]
    as32 = encode_batch(mean.astype(np.float32), std.astype(np.float32), model, SEED).container
    assert as32 == encode_batch(mean.astype(np.float32).astype(np.float64),
                                std.astype(np.float32).astype(np.float64), model, SEED).container


def test_item_seeds_are_distinct_and_documented():
    seeds = {item_seed(SEED, i) for i in range(1000)}
    assert len(seeds) == 1000
    import hashlib

    expected = hashlib.sha256(b"reccodec/item-seed/v1" + SEED.to_bytes(8, "little") + (3).to_bytes(8, "little"))
    assert item_seed(SEED, 3) == int.from_bytes(expected.digest()[:8], "little")


def test_a_wrong_seed_or_model_is_refused(vae, model, coded):
    with pytest.raises(MismatchError):
        decode_batch(coded.container, model, SEED + 1)
    other = train_model(vae.train_mean[:200], vae.train_std[:200], seed=2, margin_bits=4.0)
    with pytest.raises(MismatchError):
        decode_batch(coded.container, other, SEED)


def test_a_framed_record_with_a_wrong_seed_is_refused_almost_always(model, coded):
    refused = 0
    for wrong in range(1, 201):
        framed = record_file(coded.records[0], model, SEED)
        try:
            decode_record(framed, model, SEED + wrong)
        except (MismatchError, FormatError):
            refused += 1
    assert refused >= 195  # the check byte alone refuses 255 in 256


def test_every_flipped_byte_of_a_container_is_refused(model, coded):
    data = coded.container
    for position in range(len(data)):
        bad = bytearray(data)
        bad[position] ^= 0x01
        with pytest.raises((FormatError, MismatchError)):
            decode_batch(bytes(bad), model, SEED)
    with pytest.raises(FormatError):
        decode_batch(data[:-3], model, SEED)


def test_describe_container_counts_items_and_bits(coded):
    described = describe_container(coded.container)
    assert described["items"] == 60 and described["chunks"] == 4
    assert described["header_bits"] + described["payload_bits"] == 8 * len(coded.container)


def test_a_dimension_wider_than_the_coding_std_is_narrowed_by_default_and_refused_when_strict(vae, model):
    mean, std = vae.test_mean[:3].copy(), vae.test_std[:3].copy()
    std[1, 5] = 1.5 * model.coding_std[:, 5].max()  # wider than every component
    result = encode_batch(mean, std, model, SEED)
    assert result.approximate and result.narrowed.tolist() == [0, 1, 0]
    assert 0 < result.tv_bound[1] < 0.5
    assert decode_batch(result.container, model, SEED).tobytes() == result.samples.tobytes()
    assert describe_container(result.container)["approximate"]
    with pytest.raises(InputError, match="item 1, dimension 5"):
        encode_batch(mean, std, model, SEED, strict=True)


def test_items_of_another_shape_or_rank_are_refused(vae, model):
    with pytest.raises(InputError, match="shape"):
        encode_batch(vae.test_mean[:3, :20], vae.test_std[:3, :20], model, SEED)
    with pytest.raises(InputError, match="shape"):
        encode_batch(vae.test_mean[None, :3], vae.test_std[None, :3], model, SEED)
    with pytest.raises(InputError, match="out of range"):
        decode_batch(encode_batch(vae.test_mean[:3], vae.test_std[:3], model, SEED).container, model, SEED, items=[3])


@pytest.mark.slow
def test_samples_decoded_from_a_container_follow_their_posteriors(vae):
    """KS over every informative dimension of 300 test images, z = (sample - mean) / std."""
    model = train_model(vae.train_mean, vae.train_std, seed=3)
    result = encode_batch(vae.test_mean, vae.test_std, model, SEED + 1)
    decoded = decode_batch(result.container, model, SEED + 1)
    assert not result.approximate
    z = (decoded - vae.test_mean) / vae.test_std
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    for d in range(z.shape[1]):
        assert stats.kstest(z[:, d], "norm").pvalue > 1e-4, d


# --------------------------------------------------------------------------- command line


@pytest.fixture
def files(tmp_path, vae):
    np.savez(tmp_path / "train.npz", mean=vae.train_mean[:300], std=vae.train_std[:300])
    np.savez(tmp_path / "test.npz", mean=vae.test_mean[:12], std=vae.test_std[:12])
    np.savez(tmp_path / "one.npz", mean=vae.test_mean[4], std=vae.test_std[4])
    ok("train", tmp_path / "train.npz", "-o", tmp_path / "m.rcm", "--margin-bits", "4", "-q")
    return tmp_path


def _npy(path):
    return np.load(io.BytesIO(open(path, "rb").read()), allow_pickle=False)


def test_cli_container_round_trip_and_random_access(files):
    t = files
    summary = json.loads(ok("encode", t / "test.npz", "--model", t / "m.rcm", "--seed", "9", "-o", t / "x.recs",
                            "--sample-out", t / "chosen.npy", "--json").out)
    assert summary["items"] == 12 and summary["bits"] == 8 * os.path.getsize(t / "x.recs")
    ok("decode", t / "x.recs", "--model", t / "m.rcm", "--seed", "9", "-o", t / "all.npy")
    ok("decode", t / "x.recs", "--model", t / "m.rcm", "--seed", "9", "--item", "4", "-o", t / "four.npy")
    assert _npy(t / "all.npy").tobytes() == _npy(t / "chosen.npy").tobytes()
    assert _npy(t / "four.npy").tobytes() == _npy(t / "all.npy")[4].tobytes()
    info = json.loads(ok("info", t / "x.recs", "--json").out)
    assert info["items"] == 12
    assert json.loads(ok("info", t / "m.rcm", "--json").out)["kind"] == "codec model"


def test_cli_one_item_is_a_compact_record(files):
    t = files
    ok("encode", t / "one.npz", "--model", t / "m.rcm", "--seed", "9", "-o", t / "one.rec", "-q")
    assert os.path.getsize(t / "one.rec") < 20
    ok("decode", t / "one.rec", "--model", t / "m.rcm", "--seed", "9", "-o", t / "one.npy")
    assert _npy(t / "one.npy").shape == (24,)


@pytest.mark.parametrize("argv, fragment", [
    (("--block-bits", "8"), "--block-bits does not apply with --model"),
    (("--algorithm", "orc"), "--algorithm does not apply with --model"),
])
def test_cli_refuses_options_that_the_model_fixes(files, argv, fragment):
    t = files
    result = run_cli("encode", t / "test.npz", "--model", t / "m.rcm", "--seed", "9", "-o", t / "x.recs", *argv)
    assert_one_error_line(result, fragment, code=2)


def test_cli_bad_inputs_give_one_line(files, vae):
    t = files
    np.savez(t / "bad.npz", mean=vae.test_mean[:3, :10], std=vae.test_std[:3, :10])
    assert_one_error_line(run_cli("encode", t / "bad.npz", "--model", t / "m.rcm", "--seed", "9", "-o", t / "b.recs"),
                          "shape")
    ok("encode", t / "test.npz", "--model", t / "m.rcm", "--seed", "9", "-o", t / "x.recs", "-q")
    assert_one_error_line(run_cli("decode", t / "x.recs", "--model", t / "m.rcm", "--seed", "9", "--item", "12",
                                  "-o", t / "o.npy"), "out of range")
    assert_one_error_line(run_cli("decode", t / "x.recs", "--model", t / "m.rcm", "--seed", "8", "-o", t / "o.npy"),
                          "seed")
    assert_one_error_line(run_cli("decode", t / "x.recs", "--model", t / "test.npz", "--seed", "9", "-o", t / "o.npy"),
                          "test.npz")
    (t / "cut.rcm").write_bytes((t / "m.rcm").read_bytes()[:-5])
    assert_one_error_line(run_cli("decode", t / "x.recs", "--model", t / "cut.rcm", "--seed", "9", "-o", t / "o.npy"),
                          "cut.rcm")
