"""The modulo architecture of learned Wyner-Ziv models: the fitted density and its decoder,
the design, the model file, and its place in ``train_for_rate``."""

import io
import json

import numpy as np
import pytest

from scipy import special

from rec_codec import learned_wz as lw
from rec_codec import wyner_ziv, wz_modulo
from rec_codec.errors import FormatError, InputError
from test_cli import ok

NOISE = 0.01  # y = x + n, X ~ N(0, 1): var(x|y) about 0.0099, where binning pays most


def y_is_x_plus_n(count, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, count)
    return x, x + rng.normal(0.0, np.sqrt(NOISE), count)


@pytest.fixture(scope="module")
def two_bits():
    x, y = y_is_x_plus_n(20000, 0)
    return lw.train_modulo(x, y, 2.0, seed=3)


def test_indices_repeat_every_cosets_cells():
    x = np.random.default_rng(0).uniform(-3.0, 3.0, 1000)
    u = wz_modulo.indices(x, 0.2, 0.5, 4)
    assert set(np.unique(u)) == {0, 1, 2, 3}
    assert np.array_equal(u, wz_modulo.indices(x + 4 * 0.2, 0.2, 0.5, 4))
    assert not np.array_equal(u, wz_modulo.indices(x + 0.2, 0.2, 0.5, 4))


def _exact_conditional_mean(u, y, step, offset, cosets):
    """E[x | u, y] for y = x + n, X ~ N(0, 1), N ~ N(0, NOISE), cells in x's own units."""
    mean, sd = y / (1.0 + NOISE), np.sqrt(NOISE / (1.0 + NOISE))
    first = np.floor(((mean - 8 * sd) / step + offset - u) / cosets) - 1
    mass, moment = np.zeros_like(y), np.zeros_like(y)
    for k in range(int(16 * sd / (cosets * step)) + 4):
        lo = ((u + cosets * (first + k) - offset) * step - mean) / sd
        hi = lo + step / sd
        p = special.ndtr(hi) - special.ndtr(lo)
        mass += p
        moment += p * mean + sd * (np.exp(-lo * lo / 2) - np.exp(-hi * hi / 2)) / np.sqrt(2 * np.pi)
    return moment / mass


def test_the_decoder_is_close_to_the_exact_conditional_mean():
    x, y = y_is_x_plus_n(20000, 1)
    arrays = wz_modulo.fit_density(x, y)  # unnormalised: x and y have variance about 1 here
    xe, ye = y_is_x_plus_n(50000, 2)
    step, offset, cosets = 0.09, 0.5, 8
    u = wz_modulo.indices(xe, step, offset, cosets)
    fitted = wz_modulo.decode(arrays, u, ye, step, offset, cosets)
    exact = _exact_conditional_mean(u, ye, step, offset, cosets)
    mse_fitted, mse_exact = np.mean((fitted - xe) ** 2), np.mean((exact - xe) ** 2)
    assert mse_exact < 0.2 * NOISE  # the index is used: far better than E[x|y] alone
    assert 10 * np.log10(mse_fitted / mse_exact) < 0.5, (mse_fitted, mse_exact)


def test_the_density_has_a_row_per_group_each_integrating_to_one():
    rng = np.random.default_rng(3)
    x = rng.laplace(0.0, 1.0, 5000)
    arrays = wz_modulo.fit_density(x, np.sign(x))  # two values of y: two groups
    assert np.array_equal(arrays["dec_y_edges"], [-1.0, 1.0])
    width = np.diff(arrays["dec_edges"])[0]
    assert np.allclose(arrays["dec_density"].sum(axis=1) * width, 1.0)
    assert np.all(arrays["dec_density"] >= 0)  # the third group (y > 1) is empty: all residuals' shape
    # cells 99 wide, one of them [-100, -1) with index 1: with y = -1 (x < 0) that index
    # decodes to E[x | x < -1] = -2 (the Laplace tail is memoryless), where y alone gives -1
    estimate = wz_modulo.decode(arrays, np.ones(1, dtype=np.int64), np.array([-1.0]), 99.0, 1 / 99, 2)
    assert abs(estimate[0] + 2.0) < 0.1, estimate


def test_the_design_bins_and_is_within_a_db_of_nsq(two_bits):
    model, report = two_bits
    assert model.architecture == "modulo" and model.codewords == 4
    x, y = y_is_x_plus_n(100000, 9)
    bits, mse = lw.evaluate(model, x, y)
    assert abs(bits - 2.0) < 0.03
    source = wyner_ziv.GaussianSource("y = x + n", 1.0, NOISE)
    nsq = wyner_ziv.nsq_mse_theory(source, 0.1827, 4)  # nsq's design at 2 bits (bench/RESULTS.md)
    assert 10 * np.log10(mse / nsq) < 1.0, (mse, nsq)
    # binning: every index on many separate cells of x
    u = model.indices(np.linspace(-2.0, 2.0, 4001)[:, None])
    cells = np.bincount(u[np.r_[True, u[1:] != u[:-1]]], minlength=4)
    assert cells.min() >= 4, cells


def test_training_is_deterministic_and_the_file_round_trips(two_bits, tmp_path):
    model, _ = two_bits
    again, _ = lw.train_modulo(*y_is_x_plus_n(20000, 0), 2.0, seed=3)
    data = lw.model_bytes(model)
    assert lw.model_bytes(again) == data
    lw.save_model(tmp_path / "m.npz", model)
    loaded = lw.load_model(tmp_path / "m.npz")
    assert lw.model_bytes(loaded) == data and loaded.model_id == model.model_id
    x, y = y_is_x_plus_n(500, 4)
    coded, u, _ = lw.encode(x, loaded)
    assert np.array_equal(u, model.indices(x[:, None]))
    assert np.array_equal(lw.decode(coded, y, loaded), model.reconstruct(u, y[:, None])[:, 0])


def _tampered(model, **arrays):
    return lw.model_bytes(lw.LearnedWZ(dict(model.arrays, **arrays), model.info))


def test_a_bad_modulo_model_is_refused(two_bits):
    model, _ = two_bits
    data = bytearray(lw.model_bytes(model))
    data[data.index(b"dec_density.npy") + 300] ^= 0x10  # inside the density's values
    with pytest.raises(FormatError, match="corrupt|not a learned"):
        lw.model_from_bytes(bytes(data))
    edges = model.arrays["dec_edges"].copy()
    edges[[3, 4]] = edges[[4, 3]]
    density = model.arrays["dec_density"].copy()
    density[0, 5] = -1.0
    for tampered in ({"dec_edges": edges}, {"enc_step": np.array([0.0])}, {"dec_density": density},
                     {"dec_density": model.arrays["dec_density"][:, :-1]}, {"dec_line": np.zeros(3)}):
        with pytest.raises(FormatError, match="inconsistent shapes"):
            lw.model_from_bytes(_tampered(model, **tampered))
    description = dict(model.info, kind=lw.MODEL_KIND, version=lw.MODEL_VERSION, architecture="lattice")
    out = io.BytesIO()
    np.savez(out, **model.arrays, description=np.frombuffer(json.dumps(description).encode(), dtype=np.uint8))
    with pytest.raises(FormatError, match="unknown model architecture 'lattice'"):
        lw.model_from_bytes(out.getvalue())


def test_modulo_needs_one_dimensional_pairs():
    x = np.random.default_rng(0).normal(size=(400, 2))
    with pytest.raises(InputError, match="one-dimensional x and y"):
        lw.train_modulo(x, x[:, :1], 1.0)


def test_train_for_rate_adds_the_modulo_trial_for_one_dimensional_pairs():
    x, y = y_is_x_plus_n(3000, 5)
    model, report = lw.train_for_rate(x, y, 2.0, hidden=8, epochs=2, seed=1)
    kinds = [t["architecture"] for t in report.trials]
    assert kinds == ["mlp"] * lw.RATE_TRIALS + ["modulo"]
    fits = [t for t in report.trials if abs(t["heldout_bits"] - 2.0) <= lw.RATE_TOLERANCE * 2.0]
    assert report.mse == min(t["heldout_mse"] for t in fits)
    assert model.architecture == "modulo"  # two MLP epochs find no binning
    _, report = lw.train_for_rate(x, y, 2.0, hidden=8, epochs=1, seed=1, modulo=False)
    assert [t["architecture"] for t in report.trials] == ["mlp"] * lw.RATE_TRIALS


def test_cli_mlp_only_leaves_out_the_modulo_trial(tmp_path):
    x, y = y_is_x_plus_n(1500, 6)
    np.savez(tmp_path / "pairs.npz", x=x, y=y)
    common = ["wz", "train", str(tmp_path / "pairs.npz"), "--rate", "1", "--hidden", "8", "--epochs", "1", "--json"]
    every = json.loads(ok(*common, "-o", str(tmp_path / "a.npz")).out)
    only = json.loads(ok(*common, "-o", str(tmp_path / "b.npz"), "--mlp-only").out)
    assert [t["architecture"] for t in every["trials"]][-1] == "modulo"
    assert {t["architecture"] for t in only["trials"]} == {"mlp"}
    shown = json.loads(ok("wz", "show", str(tmp_path / "a.npz")).out)
    assert shown["id"] == every["model_id"]


def test_an_outlier_leaves_the_density_and_the_decoding_bounded():
    x, y = y_is_x_plus_n(5000, 7)
    x[0] += 1e4  # one wild pair
    arrays = wz_modulo.fit_density(x, y)
    spread = wz_modulo.residual_spread(arrays, x, y)
    assert arrays["dec_edges"][-1] <= wz_modulo.SPAN_SPREADS * spread * 1.0001
    model, _ = lw.train_modulo(x, y, 2.0)
    assert lw.model_from_bytes(lw.model_bytes(model)).model_id == model.model_id  # within MAX_CELLS


def test_a_model_whose_cells_are_too_fine_for_its_density_is_refused(two_bits):
    model, _ = two_bits
    span = model.arrays["dec_edges"][-1] - model.arrays["dec_edges"][0]
    fine = np.array([span / (wz_modulo.MAX_CELLS * model.codewords) / 2])
    with pytest.raises(FormatError, match="inconsistent shapes"):
        lw.model_from_bytes(_tampered(model, enc_step=fine))
