"""Wyner-Ziv coding: round trips, the NSQ MSE against its integral, soft against hard
decoding, the model file, and one-line errors on the command line.

The source of most tests is X ~ N(0, 1), Y = X + N(0, 0.5), so sigma^2_{x|y} = 1/3.
"""

import json
from dataclasses import replace
import math
import os

import numpy as np
import pytest

from rec_codec import container
from rec_codec import wyner_ziv as wz
from rec_codec.errors import FormatError, InputError, MismatchError
from test_cli import fails, ok

SOURCE = wz.GaussianSource("y = x + n", 1.0, 0.5)
SEED = 11


def draws(count, seed=0, source=SOURCE):
    return source.sample(count, np.random.default_rng(seed))


def nsq_model(delta, cosets, decoder="soft", code="marginal", source=SOURCE):
    return wz.WZModel(source, "nsq", nsq=wz.NSQParams(delta, cosets, decoder, code))


def rec_model(label_bits, design_rate, decoder="soft", dims=1, source=SOURCE):
    sv2 = source.cond_var / (2.0 ** (2 * design_rate) - 1.0)
    return wz.WZModel(source, "rec", rec=wz.RECParams(sv2, label_bits, wz.default_candidates(source, sv2, dims),
                                                      dims, decoder))


# --------------------------------------------------------------------------- round trips


def test_nsq_round_trip_recovers_the_encoders_cell_at_a_generous_rate():
    # 6 bits per sample: L = 64 cosets, period L * Delta = 12 posterior stds (uniform code)
    x, y = draws(20000)
    s = math.sqrt(SOURCE.cond_var)
    model = nsq_model(12 * s / 64, 64, "hard", "uniform")
    coded = wz.encode(x, model, SEED)
    assert coded.rate == pytest.approx(6.0, abs=0.01)
    xhat, cells = wz.decode_with_choices(coded.data, y, model, SEED)
    mismatch = np.mean(cells != coded.choices)
    assert mismatch < 1e-3  # measured: 0 of 20,000
    assert np.all(np.abs(xhat - x)[cells == coded.choices] <= model.nsq.delta)


def test_rec_round_trip_recovers_the_encoders_choice_at_a_generous_rate():
    # 6 bits per label (one sample per block), test channel at R' = 1 bit: a 5-bit margin.
    # Measured mismatch 3.4% on these draws; the Poisson matching bound is about 4.8%.
    x, y = draws(4000)
    model = rec_model(6, 1.0, "hard")
    coded = wz.encode(x, model, SEED)
    assert coded.rate == pytest.approx(6.0, abs=0.02)
    _, choices = wz.decode_with_choices(coded.data, y, model, SEED)
    mismatch = float(np.mean(choices != coded.choices))
    bound = wz.rec_mismatch_bound(SOURCE, model.rec.sigma_v2, model.rec.labels)
    assert mismatch < 0.06
    assert mismatch <= bound + 3 * math.sqrt(bound / x.size)


@pytest.mark.parametrize("scheme", ["nsq", "rec"])
def test_encoding_is_deterministic_and_the_seed_matters(scheme):
    x, _ = draws(500)
    model = nsq_model(0.5, 4) if scheme == "nsq" else rec_model(2, 1.5)
    first = wz.encode(x, model, SEED).data
    assert wz.encode(x, model, SEED).data == first
    assert wz.encode(x, model, SEED + 1).data != first


def test_decode_keeps_the_shape_of_x():
    x, y = draws(24)
    model = rec_model(2, 1.0, dims=2)
    coded = wz.encode(x.reshape(4, 6), model, SEED)
    assert wz.decode(coded.data, y.reshape(4, 6), model, SEED).shape == (4, 6)


# --------------------------------------------------------------------------- distortion


@pytest.mark.parametrize("decoder", ["soft", "hard"])
def test_nsq_mse_matches_its_numerical_integral(decoder):
    # Delta = 0.9, L = 2 (1 bit): the integral over the dither gives 0.3143 (soft, -5.03 dB)
    # and 0.4059 (hard). 40,000 samples: the measured MSE is within 4 standard errors
    # (about 4% here) of it.
    x, y = draws(40000, seed=3)
    model = nsq_model(0.9, 2, decoder)
    theory = wz.nsq_mse_theory(SOURCE, 0.9, 2, decoder)
    assert theory == pytest.approx(0.3143 if decoder == "soft" else 0.4059, abs=5e-4)
    errors = (wz.decode(wz.encode(x, model, SEED).data, y, model, SEED) - x) ** 2
    standard_error = errors.std() / math.sqrt(errors.size)
    assert abs(errors.mean() - theory) < 4 * standard_error


def test_nsq_with_many_cosets_has_the_error_of_truncated_cells():
    # L * Delta >> s: no mismatch, each cell's truncated mean, so MSE <= Delta^2 / 12
    theory = wz.nsq_mse_theory(SOURCE, 0.05, 256)
    assert 0.9 * 0.05**2 / 12 < theory <= 0.05**2 / 12


@pytest.mark.parametrize("rate", [1, 2, 3])
def test_soft_nsq_is_never_worse_than_hard_on_the_same_draws(rate):
    x, y = draws(5000, seed=rate)
    s = math.sqrt(SOURCE.cond_var)
    for period in (2.0, 4.0, 8.0):
        model = nsq_model(period * s / 2**rate, 2**rate)
        data = wz.encode(x, model, SEED).data
        soft = np.mean((wz.decode(data, y, model, SEED, "soft") - x) ** 2)
        hard = np.mean((wz.decode(data, y, model, SEED, "hard") - x) ** 2)
        assert soft <= hard


@pytest.mark.parametrize("label_bits,design_rate", [(1, 0.75), (2, 1.0), (3, 1.5)])
def test_soft_rec_is_never_worse_than_hard_on_the_same_draws(label_bits, design_rate):
    x, y = draws(2000, seed=label_bits)
    model = rec_model(label_bits, design_rate)
    data = wz.encode(x, model, SEED).data
    soft = np.mean((wz.decode(data, y, model, SEED, "soft") - x) ** 2)
    hard = np.mean((wz.decode(data, y, model, SEED, "hard") - x) ** 2)
    assert soft <= hard


def test_soft_rec_at_one_bit_beats_side_information_alone():
    x, y = draws(3000, seed=5)
    model = rec_model(1, 0.75)
    mse = np.mean((wz.decode(wz.encode(x, model, SEED).data, y, model, SEED) - x) ** 2)
    assert mse < 0.85 * SOURCE.cond_var


def test_design_meets_the_rate_on_training_draws():
    model, report = wz.design(nsq_model(1.0, 2), 2.0, train_samples=4000)
    assert report["train_bits"] <= 2.0
    assert report["train_mse"] < wz.dwz(SOURCE, 0.0)
    uniform, _ = wz.design(nsq_model(1.0, 2, code="uniform"), 2.0, train_samples=4000)
    assert uniform.nsq.cosets == 4


@pytest.mark.slow
@pytest.mark.parametrize("rate,reference", [(1, -6.33), (2, -10.82), (3, -15.74), (4, -20.94)])
def test_designed_nsq_reaches_the_reference_figures(rate, reference):
    # target: within 0.3 dB of DESIGN's reference simulation, or better, on fresh draws
    model, _ = wz.design(nsq_model(1.0, 2), rate)
    x, y = draws(20000, seed=100 + rate)
    coded = wz.encode(x, model, SEED)
    assert coded.rate <= rate + 0.01
    mse = np.mean((wz.decode(coded.data, y, model, SEED) - x) ** 2)
    assert 10 * math.log10(mse) <= reference + 0.3


# --------------------------------------------------------------------------- library errors


def test_decoding_refuses_another_seed_and_another_source():
    x, y = draws(100)
    model = nsq_model(0.5, 4)
    data = wz.encode(x, model, SEED).data
    with pytest.raises(MismatchError, match="tag mismatch"):
        wz.decode(data, y, model, SEED + 1)
    other = nsq_model(0.5, 4, source=wz.GaussianSource("y = x + n", 1.0, 0.4))
    with pytest.raises(MismatchError):
        wz.decode(data, y, other, SEED)
    with pytest.raises(MismatchError, match="scheme"):
        wz.decode(data, y, rec_model(2, 1.0), SEED)


def test_a_core_codec_file_is_not_a_wyner_ziv_file():
    from rec_codec import DiagonalGaussian, encode

    data = encode(DiagonalGaussian(np.zeros(3), np.full(3, 0.5)), seed=1).data
    with pytest.raises(FormatError, match="not a Wyner-Ziv"):
        wz.decode(data, np.zeros(3), nsq_model(0.5, 4), 1)


@pytest.mark.parametrize("obj,fragment", [
    ({"scheme": "vq", "source": {"relation": "x = y + n", "var_y": 1, "var_n": 0.1}}, "unknown scheme"),
    ({"scheme": "nsq", "source": {"relation": "x = y + n", "var_y": 1}}, "var_n"),
    ({"scheme": "nsq", "source": {"relation": "x = y + n", "var_y": -1, "var_n": 0.1}}, "var_y must be > 0"),
    ({"scheme": "nsq", "source": {"relation": "x = 2y", "var_y": 1, "var_n": 0.1}}, "relation"),
    ({"scheme": "nsq"}, "source"),
    ({"scheme": "nsq", "source": {"relation": "y = x + n", "var_x": 1, "var_n": 0.1},
      "nsq": {"delta": 0.5, "cosets": 0}}, "cosets must be > 0"),
    ({"scheme": "rec", "source": {"relation": "y = x + n", "var_x": 1, "var_n": 0.1},
      "rec": {"sigma_v2": 0.1, "label_bits": 1, "candidates": 64, "decoder": "magic"}}, "decoder"),
])
def test_model_validation_names_the_problem(obj, fragment):
    with pytest.raises(InputError, match=fragment):
        wz.model_from_dict(obj)


def test_model_file_round_trips(tmp_path):
    model = rec_model(2, 1.0, dims=2)
    wz.save_model(tmp_path / "m.json", model)
    assert wz.load_model(tmp_path / "m.json") == model


@pytest.mark.parametrize("scheme", ["nsq", "rec"])
def test_truncated_or_corrupt_files_are_detected(scheme):
    x, y = draws(300, seed=8)
    model = nsq_model(0.5, 4) if scheme == "nsq" else rec_model(2, 1.0, dims=2)
    data = wz.encode(x, model, SEED).data
    for cut in (0, 5, len(data) // 2, len(data) - 1):
        with pytest.raises(FormatError):
            wz.decode(data[:cut], y, model, SEED)
    rng = np.random.default_rng(3)
    for position in rng.choice(len(data), 20, replace=False):
        bad = bytearray(data)
        bad[position] ^= 1 << int(rng.integers(8))
        with pytest.raises((FormatError, MismatchError)):
            wz.decode(bytes(bad), y, model, SEED)
    header, words = container.unpack(data)  # a well-formed file whose parameters are out of range
    key = "wz_delta" if scheme == "nsq" else "wz_candidates"
    header.params[key] = -1.0 if scheme == "nsq" else wz.MAX_CANDIDATES + 1
    with pytest.raises(FormatError, match="out of range"):
        wz.decode(container.pack(header, words), y, model, SEED)


def test_wyner_ziv_parameters_have_their_own_ids():
    ids = [container.PARAMS[name][0] for name in container.PARAMS if name.startswith("wz_")]
    assert ids and all(60 <= i <= 79 for i in ids)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def files(tmp_path):
    x, y = draws(300, seed=9)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "y_short.npy", y[:-1])
    model = {"scheme": "nsq", "source": {"relation": "y = x + n", "var_x": 1.0, "var_n": 0.5},
             "nsq": {"delta": 0.5, "cosets": 4}}
    (tmp_path / "m.json").write_text(json.dumps(model))
    return tmp_path


def _model_file(folder, name, obj):
    path = folder / name
    path.write_text(json.dumps(obj))
    return path


def test_cli_encode_decode_design_round_trip(files):
    t = files
    ok("wz", "design", "--model", t / "m.json", "--rate", "2", "--train-samples", "2000")
    designed = json.loads((t / "m.json").read_text())
    assert designed["nsq"]["cosets"] >= 2
    ok("wz", "encode", t / "x.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5")
    ok("wz", "decode", t / "x.rec", "--side-info", t / "y.npy", "--model", t / "m.json", "-o", t / "xhat.npy",
       "--seed", "5")
    x, y, xhat = (np.load(t / f) for f in ("x.npy", "y.npy", "xhat.npy"))
    assert xhat.shape == x.shape
    assert np.mean((xhat - x) ** 2) < np.mean((SOURCE.coef * y - x) ** 2)
    info = json.loads(ok("info", t / "x.rec", "--json").out)
    assert info["algorithm"] == "wz-nsq"


def test_cli_refuses_side_information_of_another_length(files):
    t = files
    ok("wz", "encode", t / "x.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5")
    fails(t, "wz", "decode", t / "x.rec", "--side-info", t / "y_short.npy", "--model", t / "m.json",
          "-o", t / "xhat.npy", "--seed", "5", fragments=("side information", "shape"))


def test_cli_refuses_a_wrong_seed(files):
    t = files
    ok("wz", "encode", t / "x.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5")
    fails(t, "wz", "decode", t / "x.rec", "--side-info", t / "y.npy", "--model", t / "m.json",
          "-o", t / "xhat.npy", "--seed", "6", fragments=("tag mismatch",))


def test_cli_refuses_a_truncated_file(files):
    t = files
    ok("wz", "encode", t / "x.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5")
    (t / "cut.rec").write_bytes((t / "x.rec").read_bytes()[:40])
    fails(t, "wz", "decode", t / "cut.rec", "--side-info", t / "y.npy", "--model", t / "m.json",
          "-o", t / "xhat.npy", "--seed", "5", fragments=("truncated",))


@pytest.mark.parametrize("source,fragment", [
    ({"relation": "y = x + n", "var_x": 1.0}, "missing 'var_n'"),
    ({"relation": "y = x + n", "var_x": 1.0, "var_n": -0.5}, "var_n must be > 0"),
    ({"relation": "y = x + n", "var_n": 0.5}, "missing 'var_x'"),
])
def test_cli_refuses_a_model_with_missing_or_negative_variances(files, source, fragment):
    t = files
    path = _model_file(t, "bad.json", {"scheme": "nsq", "source": source, "nsq": {"delta": 0.5, "cosets": 4}})
    fails(t, "wz", "encode", t / "x.npy", "--model", path, "-o", t / "x.rec", "--seed", "5", fragments=(fragment,))


def test_cli_refuses_an_unknown_scheme(files):
    t = files
    path = _model_file(t, "bad.json", {"scheme": "lattice", "source": {"relation": "y = x + n", "var_x": 1,
                                                                          "var_n": 0.5}})
    fails(t, "wz", "encode", t / "x.npy", "--model", path, "-o", t / "x.rec", "--seed", "5",
          fragments=("unknown scheme",))
    fails(t, "wz", "design", "--model", path, "--rate", "1", fragments=("unknown scheme",))


def test_cli_refuses_samples_that_are_not_one_numeric_array(files):
    t = files
    np.savez(t / "x.npz", x=np.zeros(3))
    fails(t, "wz", "encode", t / "x.npz", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5",
          fragments=("npz",))
    np.save(t / "s.npy", np.array(["a", "b"]))
    fails(t, "wz", "encode", t / "s.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5",
          fragments=("numeric",))
    np.save(t / "nan.npy", np.array([0.0, np.nan]))
    fails(t, "wz", "encode", t / "nan.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5",
          fragments=("NaN",))


def test_cli_refuses_side_information_of_another_shape(files):
    t = files
    ok("wz", "encode", t / "x.npy", "--model", t / "m.json", "-o", t / "x.rec", "--seed", "5")
    np.save(t / "y2.npy", np.load(t / "y.npy").reshape(30, 10))
    fails(t, "wz", "decode", t / "x.rec", "--side-info", t / "y2.npy", "--model", t / "m.json",
          "-o", t / "xhat.npy", "--seed", "5", fragments=("shape",))


def test_cli_refuses_a_model_without_the_schemes_parameters(files):
    t = files
    path = _model_file(t, "bare.json", {"scheme": "rec", "source": {"relation": "y = x + n", "var_x": 1,
                                                                       "var_n": 0.5}})
    fails(t, "wz", "encode", t / "x.npy", "--model", path, "-o", t / "x.rec", "--seed", "5",
          fragments=("wz design",))


@pytest.mark.parametrize("rec", ["rec-d2", pytest.param("rec", marks=pytest.mark.slow)])
def test_bench_wz_writes_rows_with_the_agreed_keys(tmp_path, rec):
    out = tmp_path / "rows.json"
    ok("bench", "wz", "--sources", "y=x+n:0.5", "--schemes", f"nsq,{rec}", "--rates", "1", "--samples", "400",
       "--json-out", out)
    rows = json.loads(out.read_text())
    assert {r["scheme"] for r in rows} == {"nsq", rec}
    for row in rows:
        for key in ("source", "scheme", "rate_bits", "mse_db", "dwz_db", "gap_db", "error_rate"):
            assert key in row
        assert row["gap_db"] == pytest.approx(row["mse_db"] - row["dwz_db"], abs=0.02)
        assert row["bits_per_sample"] <= 1.2
    assert os.path.exists(out)


def test_bench_wz_draws_depend_on_the_source_alone():
    from rec_codec import bench_wz

    alone = bench_wz.wz(["y=x+n:0.5"], ["nsq-uniform"], [1.0], samples=300)
    listed = bench_wz.wz(["x=y+n", "y=x+n:0.5", "y = x + n : 0.5"], ["nsq-uniform"], [1.0], samples=300)
    assert listed[1]["mse"] == listed[2]["mse"] == alone[0]["mse"]
    assert listed[0]["mse"] != alone[0]["mse"]


# --------------------------------------------------------------------------- joint REC design


def test_joint_plan_codes_several_samples_per_block_at_one_bit():
    for source in (SOURCE, wz.GaussianSource("x = y + n", 1.0, 0.1), wz.GaussianSource("y = x + n", 1.0, 0.01)):
        plan = wz.joint_plan(source, 1.0)
        assert plan, source
        assert len({d for d, _, _ in plan}) == 1 and plan[0][0] > 1
        assert len(set(plan)) == len(plan)
        for d, _, log_n in plan:
            assert d + 1 <= log_n <= wz.JOINT_BUDGET_BITS


def test_joint_plan_honours_fixed_dims_and_the_label_limit():
    assert {d for d, _, _ in wz.joint_plan(SOURCE, 1.0, dims=2)} == {2}
    assert wz.joint_plan(SOURCE, 6.0, dims=4) == []  # 24 label bits per block


def test_joint_plan_keeps_every_codebook_within_the_budget():
    source = wz.GaussianSource("y = x + n", 1.0, 0.01)  # I(X;W) near 3.4-3.9 bits per sample at one bit
    assert wz.joint_plan(source, 1.0, dims=5) == []  # 5 samples need more than 2^14 candidates
    plan = wz.joint_plan(source, 1.0, dims=5, budget_bits=17)
    assert plan and max(log_n for _, _, log_n in plan) == 17
    for budget in (10, 14, 17):
        assert all(log_n <= budget for _, _, log_n in wz.joint_plan(source, 1.0, budget_bits=budget))


def joint_model(source=SOURCE, draws=wz.JOINT_SOFT_DRAWS, components=wz.JOINT_COMPONENTS):
    d, offset, log_n = wz.joint_plan(source, 1.0)[0]
    return wz.WZModel(source, "rec", rec=wz.RECParams(wz.source_sv2(source, 1.0 + offset), float(d), 2**log_n, d,
                                                      "soft", draws, components))


def test_joint_rec_round_trips_bit_for_bit_through_the_file():
    model = joint_model(draws=64)
    x, y = draws(203, seed=21)  # not a multiple of the block: the last block is short
    first = wz.encode(x, model, SEED)
    assert wz.encode(x, model, SEED).data == first.data
    assert first.rate <= 1.0 + 64 / x.size
    xhat, choices = wz.decode_with_choices(first.data, y, model, SEED, "hard")
    assert np.mean(choices == first.choices) > 0.5
    assert np.array_equal(xhat, wz.decode(first.data, y, model, SEED, "hard"))


def test_soft_rec_estimate_does_not_depend_on_how_the_prior_draws_are_grouped():
    from rec_codec.entropy import PayloadReader
    from rec_codec.kernels.wz import rec_decode
    from rec_codec.rng import split_seed

    model = joint_model()
    p = model.params()
    x, y = draws(400, seed=25)
    _, words = container.unpack(wz.encode(x, model, SEED).data)
    k0, k1 = split_seed(SEED)
    starts, lengths = wz._blocks(x.size, p.dims)
    received = PayloadReader(words).read_uniform(p.labels, starts.size)
    z_prior = wz._soft_normals(512, p.dims)
    z_comp = wz._soft_normals(64, p.dims)
    mean = SOURCE.coef * y

    def estimate(group, groups):
        return rec_decode(k0, k1, mean, starts, lengths, SOURCE.cond_var, SOURCE.var_x + p.sigma_v2, p.sigma_v2,
                          p.labels, p.candidates, received, True, z_prior, group, groups, z_comp, 8, 2.0)[0]

    one = estimate(np.zeros(512, dtype=np.int64), 1)
    grouped, groups = wz._draw_groups(z_prior, 16)
    assert groups == 16 and grouped.min() == 0 and grouped.max() == 15
    assert np.array_equal(estimate(grouped, groups), one)
    scattered = np.random.default_rng(26).integers(0, 5, 512)  # far-flung groups: long lists, same answer
    assert np.array_equal(estimate(scattered, 5), one)


def test_soft_rec_decodes_with_a_single_soft_draw():
    model = wz.WZModel(SOURCE, "rec", rec=replace(joint_model().params(), soft_draws=1))
    x, y = draws(100, seed=27)
    xhat = wz.decode(wz.encode(x, model, SEED).data, y, model, SEED)  # no draw from p(x|y) at all
    assert np.all(np.isfinite(xhat))


def test_joint_soft_rec_is_never_worse_than_hard_on_the_same_draws():
    model = joint_model()
    x, y = draws(2400, seed=22)
    data = wz.encode(x, model, SEED).data
    soft = np.mean((wz.decode(data, y, model, SEED, "soft") - x) ** 2)
    hard = np.mean((wz.decode(data, y, model, SEED, "hard") - x) ** 2)
    assert soft <= hard
    assert soft < SOURCE.cond_var


def test_design_rejects_bad_dims():
    model = wz.WZModel(SOURCE, "rec")
    for dims in (0, 65, 2.5, True):
        with pytest.raises(InputError, match="dims"):
            wz.design(model, 1.0, train_samples=100, dims=dims)


def test_design_rejects_a_bad_candidate_budget(files):
    model = wz.WZModel(SOURCE, "rec")
    for budget in (1, 23, 14.0, True):
        with pytest.raises(InputError, match="budget_bits"):
            wz.design(model, 1.0, train_samples=100, budget_bits=budget)
    fails(files, "wz", "design", "--model", files / "m.json", "--rate", "1", "--budget-bits", "23",
          fragments=("budget-bits",), code=2)  # a usage error; m.json stays as it was


def test_cli_design_keeps_the_codebook_within_its_budget(tmp_path):
    assert max(log_n for _, _, log_n in wz.joint_plan(SOURCE, 1.0, dims=8)) > 10  # the budget binds
    path = _model_file(tmp_path, "rec.json", {"scheme": "rec", "source": {"relation": "y = x + n", "var_x": 1.0,
                                                                           "var_n": 0.5}})
    ok("wz", "design", "--model", path, "--rate", "1", "--dims", "8", "--budget-bits", "10", "--train-samples", "200")
    rec = json.loads(path.read_text())["rec"]
    assert rec["dims"] == 8 and 2**9 <= rec["candidates"] <= 2**10


@pytest.mark.slow
def test_design_picks_a_joint_block_at_one_bit_and_it_round_trips():
    model, report = wz.design(wz.WZModel(SOURCE, "rec"), 1.0, train_samples=600)
    params = model.params()
    assert params.dims > 1 and params.labels == 2**params.dims
    assert report["train_mse"] < SOURCE.cond_var
    x, y = draws(300, seed=23)
    coded = wz.encode(x, model, SEED)
    assert coded.rate <= 1.0 + 64 / x.size
    reloaded = wz.model_from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.array_equal(wz.decode(coded.data, y, reloaded, SEED), wz.decode(coded.data, y, model, SEED))


def test_ball_candidate_list_gives_the_full_searchs_choice_for_every_point_in_the_ball():
    from rec_codec.kernels import wz as kernels
    from rec_codec.rng import split_seed

    k0, k1 = split_seed(SEED)
    rng = np.random.default_rng(24)
    sv2, sw2, labels, cap = 0.02, 1.02, 8, 2**12
    for block, d in enumerate((1, 3, 6)):
        m = rng.normal(0.0, 1.0, d)
        rho = 0.5
        w, log_t, labs, tmp = kernels._candidate_buffers(d)
        listed = kernels._list_buffers(d, cap)
        count, w, log_t, labs, have, t_have = kernels._ball_candidates(
            w, log_t, labs, 0, 0.0, block, d, math.sqrt(sw2), labels, k0, k1, tmp, m, rho, sv2, sw2, cap, *listed)
        assert 0 < count < cap
        list_w, list_t, list_l, list_n, _ = listed
        for _ in range(200):
            step = rng.normal(0.0, 1.0, d)
            x = m + rho * rng.uniform() * step / np.linalg.norm(step)
            full, label, w, log_t, labs, have, t_have = kernels._search(
                w, log_t, labs, have, t_have, block, d, math.sqrt(sw2), labels, k0, k1, tmp, x, sv2, sw2, cap)
            i = kernels._search_list(list_w, list_t, count, d, x, sv2, sw2)
            assert (list_n[i], list_l[i]) == (full, label)


def test_candidates_past_the_window_are_generated_again_bit_for_bit():
    from rec_codec.kernels import wz as kernels
    from rec_codec.rng import split_seed

    k0, k1 = split_seed(SEED)
    d, labels, sw = 62, 8, 1.3
    cap = kernels._window_size(d, 2**22) + 5 * 64 + 17  # five chunks past the window and a part
    assert cap < 2**22
    tmp = np.empty(cap)
    all_w, all_t, all_l = np.empty(cap * d), np.empty(cap), np.empty(cap, dtype=np.int64)
    kernels._generate(all_w, all_t, all_l, 0, 0, cap, 0.0, 3, d, sw, labels, k0, k1, tmp)  # every one at once
    w, log_t, labs, tmp = kernels._candidate_buffers(d)
    have, t_have, t_stream, n = 0, 0.0, 0.0, 0
    for _ in range(2):  # a second scan reads the kept window and generates the rest again
        n = 0
        while n < cap:
            w, log_t, labs, stop, shift, have, t_have, t_stream = kernels._next_chunk(
                w, log_t, labs, n, have, t_have, t_stream, 3, d, sw, labels, k0, k1, tmp, cap)
            slots = slice(n - shift, stop - shift)
            assert np.array_equal(log_t[slots], all_t[n:stop])
            assert np.array_equal(labs[slots], all_l[n:stop])
            assert np.array_equal(w[slots.start * d: slots.stop * d], all_w[n * d: stop * d])
            n = stop
        assert have == kernels._window_size(d, cap) < cap and labs.shape[0] <= have + 64
    room = cap  # room for every candidate: a ball wide enough to scan them all lists them
    listed = (np.empty(room * d), np.empty(room), np.empty(room, dtype=np.int64), np.empty(room, dtype=np.int64),
              np.empty(room))
    count, w, log_t, labs, have, t_have = kernels._ball_candidates(
        w, log_t, labs, have, t_have, 3, d, sw, labels, k0, k1, tmp, np.zeros(d), 50.0, 0.02, sw * sw, cap, *listed)
    list_w, list_t, list_l, list_n, _ = listed
    assert list_n[count - 1] >= have  # listed past the window
    assert np.array_equal(list_t[:count], all_t[list_n[:count]])
    assert np.array_equal(list_l[:count], all_l[list_n[:count]])
    assert np.array_equal(list_w[: count * d].reshape(count, d), all_w.reshape(cap, d)[list_n[:count]])


def test_a_candidate_list_too_long_for_its_buffers_gives_way_to_the_same_choices():
    from rec_codec.kernels import wz as kernels
    from rec_codec.rng import split_seed

    k0, k1 = split_seed(SEED)
    rng = np.random.default_rng(28)
    sv2, sw2, labels, cap, d = 0.02, 1.02, 8, 2**12, 3
    sw = math.sqrt(sw2)
    m = rng.normal(0.0, 1.0, d)
    draws = m + 0.3 * rng.normal(0.0, 1.0, (40, d))
    rho = float(np.max(np.linalg.norm(draws - m, axis=1)))
    mine = np.arange(40, dtype=np.int64)
    w, log_t, labs, tmp = kernels._candidate_buffers(d)
    listed = kernels._list_buffers(d, cap)
    count, w, log_t, labs, have, t_have = kernels._ball_candidates(
        w, log_t, labs, 0, 0.0, 1, d, sw, labels, k0, k1, tmp, m, rho, sv2, sw2, cap, *listed)
    assert count > 8
    small = tuple(a[: 8 * d] if a.shape[0] == listed[1].shape[0] * d else a[:8] for a in listed)
    too_long, w, log_t, labs, have, t_have = kernels._ball_candidates(
        w, log_t, labs, have, t_have, 1, d, sw, labels, k0, k1, tmp, m, rho, sv2, sw2, cap, *small)
    assert too_long == -1
    by_search = np.empty(40, dtype=np.int64)
    w, log_t, labs, have, t_have = kernels._search_draws(
        w, log_t, labs, have, t_have, 1, d, sw, labels, k0, k1, tmp, draws, mine, sv2, sw2, cap, by_search)
    for j in range(40):
        i = kernels._search_list(listed[0], listed[1], count, d, draws[j], sv2, sw2)
        full, label, w, log_t, labs, have, t_have = kernels._search(
            w, log_t, labs, have, t_have, 1, d, sw, labels, k0, k1, tmp, draws[j], sv2, sw2, cap)
        assert by_search[j] == listed[2][i] == label
