"""The learned Wyner-Ziv compressor: training, the model file, coding, and the command line.

The source is the talk's X = Y + N, Y ~ N(0, 1), N ~ N(0, 0.1). Training runs here are
short (a few seconds); the ones that check what was learned are marked slow.
"""

import json
import os

import numpy as np
import pytest

from rec_codec import container
from rec_codec import learned_wz as lw
from rec_codec.errors import FormatError, InputError, MismatchError
from test_cli import fails, ok


def pairs(count, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, count)
    return y + rng.normal(0.0, np.sqrt(0.1), count), y


@pytest.fixture(scope="module")
def small():
    """A quickly trained model (200 steps on 2,000 pairs)."""
    x, y = pairs(2000)
    return lw.train(x, y, 10.0, codewords=4, hidden=16, epochs=100, seed=5)


# --------------------------------------------------------------------------- training


def test_training_is_deterministic_given_the_seed():
    x, y = pairs(1000)
    first = lw.model_bytes(lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=2, seed=3)[0])
    second = lw.model_bytes(lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=2, seed=3)[0])
    other = lw.model_bytes(lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=2, seed=4)[0])
    assert first == second
    assert first != other
    hardened = [lw.model_bytes(lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=2, seed=3, hardened=True)[0])
                for _ in range(2)]
    assert hardened[0] == hardened[1] != first


@pytest.mark.parametrize("relaxation", lw.RELAXATIONS)
@pytest.mark.parametrize("entropy_weight", [0.0, 0.6])
def test_gradients_match_finite_differences(relaxation, entropy_weight):
    rng = np.random.default_rng(0)
    k = 5
    params = {**lw._init_mlp(rng, "enc", 1, 6, k), "rate_logits": rng.normal(size=k),
              **lw._init_mlp(rng, "dec", k + 1, 6, 1, 0.5)}
    xb, yb = rng.normal(size=(12, 1)), rng.normal(size=(12, 1))
    gumbel = -np.log(-np.log(rng.uniform(size=(12, k))))
    weight = np.array([3.0])

    def loss_and_grads():
        if relaxation == "exact":
            return lw._loss_and_grads_exact(params, xb, yb, weight, entropy_weight)
        return lw._loss_and_grads(params, xb, yb, gumbel, 0.7, weight, entropy_weight)

    _, grads = loss_and_grads()
    for name in ("enc_w1", "enc_b3", "rate_logits", "dec_w1", "dec_w3"):
        a = params[name]
        for i in list(np.ndindex(a.shape))[:6]:
            old = a[i]
            a[i] = old + 1e-6
            up = loss_and_grads()[0]
            a[i] = old - 1e-6
            down = loss_and_grads()[0]
            a[i] = old
            assert abs((up - down) / 2e-6 - grads[name][i]) < 1e-5, name


def test_the_entropy_term_makes_the_rate_a_deterministic_encoders():
    """With entropy weight 1 the rate term is E_p[-log q(u)]: KL(p || q) + H(p)."""
    rng = np.random.default_rng(1)
    k = 4
    params = {**lw._init_mlp(rng, "enc", 1, 6, k), "rate_logits": rng.normal(size=k),
              **lw._init_mlp(rng, "dec", k + 1, 6, 1, 0.5)}
    xb, yb = rng.normal(size=(10, 1)), rng.normal(size=(10, 1))
    weight = np.array([2.0])
    plain = lw._loss_and_grads_exact(params, xb, yb, weight)[0]
    hard = lw._loss_and_grads_exact(params, xb, yb, weight, 1.0)[0]
    logp = lw._log_softmax(lw._mlp(params, "enc", xb)[0])
    logq = lw._log_softmax(params["rate_logits"][None, :])
    kl = (np.exp(logp) * (logp - logq)).sum(axis=1).mean()
    cross = -(np.exp(logp) * logq).sum(axis=1).mean()
    assert hard - plain == pytest.approx(cross - kl, rel=1e-9)


def test_the_encoders_kinks_start_at_the_quantiles_of_x():
    rng = np.random.default_rng(2)
    z = rng.standard_t(3, size=(5000, 1))
    params = lw._init_mlp(rng, "enc", 1, 16, 4)
    lw._spread_kinks(params, "enc", z)
    kinks = np.sort(-params["enc_b1"] / params["enc_w1"][0])
    assert np.allclose(kinks, np.quantile(z[:, 0], (np.arange(16) + 0.5) / 16))


def test_training_figures_match_a_fresh_evaluation(small):
    model, report = small
    x, y = pairs(2000)
    fit, held = lw._split(2000, 5)
    assert lw.evaluate(model, x[held], y[held]) == pytest.approx((report.bits, report.mse))
    assert 0.0 < report.bits <= 2.0
    assert report.mse < 0.1  # better than E[X|y] alone


def test_calibration_moves_the_rate_to_the_target():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 8)) + np.linspace(0.0, 2.0, 8)
    logq = lw._log_softmax(np.linspace(0.0, 3.0, 8)[None, :])[0]
    free = lw._entropy_bits(np.argmax(logits, axis=1), 8)
    for target in (0.5, 1.5, free + 0.2):
        c = lw._calibrate_bias(logits, logq, target)
        assert (c > 0) == (target < free)
        assert lw._entropy_bits(np.argmax(logits + c * logq, axis=1), 8) == pytest.approx(target, abs=0.01)


def test_train_for_rate_lands_on_the_rate():
    x, y = pairs(3000)
    model, report = lw.train_for_rate(x, y, 1.0, hidden=16, epochs=10, seed=2)
    assert len(report.trials) == lw.RATE_TRIALS + 1  # the MLP trainings and the modulo trial
    assert abs(report.bits - 1.0) <= lw.RATE_TOLERANCE
    assert report.mse == min(t["heldout_mse"] for t in report.trials
                             if abs(t["heldout_bits"] - 1.0) <= lw.RATE_TOLERANCE)
    assert model.info["target_rate"] == 1.0
    bits, _ = lw.evaluate(model, *pairs(20000, seed=9))
    assert abs(bits - 1.0) < 0.05


# --------------------------------------------------------------------------- what is learned at 1 bit

# The recipe: lambda = 20, the quadratic-Gaussian slope 2^2R / (2 var(x|y)) at 1 bit, which
# leaves the free rate over 1 bit; the calibration then brings it to 1 bit.
NOISE = 0.1


def index_intervals(model, lo=-3.0, hi=3.0, points=6001, min_width=0.1):
    """{index: [(start, end), ...]}: the maximal runs of u = argmax p(u|x) on a grid of x
    that are at least ``min_width`` wide, in order; another index lies between two runs."""
    grid = np.linspace(lo, hi, points)
    u = model.indices(grid[:, None])
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], u.size] - 1
    out = {}
    for s, e in zip(starts, ends):
        if grid[e] - grid[s] >= min_width:
            out.setdefault(int(u[s]), []).append((grid[s], grid[e]))
    return out


@pytest.fixture(scope="module", params=[0, 1, 2])
def one_bit(request):
    x, y = pairs(20000)
    model, _ = lw.train(x, y, 20.0, codewords=8, hidden=64, epochs=40, seed=request.param, target_rate=1.0)
    return model, pairs(20000, seed=11)


@pytest.mark.slow
def test_the_encoder_bins_at_one_bit(one_bit):
    model, (x, y) = one_bit
    bits, mse = lw.evaluate(model, x, y)
    assert abs(bits - 1.0) < 0.05
    assert mse < 0.8 * NOISE  # the index is used: better than E[X|y] = y alone
    runs = index_intervals(model)
    # binning: one index on two intervals of x at least 0.5 apart (other indices between)
    assert any(b - a >= 0.5 for v in runs.values() for (_, a), (b, _) in zip(v, v[1:])), runs


@pytest.mark.slow
def test_the_decoder_is_the_talks_linear_decoder(one_bit):
    """For each index k, the talk's optimal decoder x = (1 - beta) y + beta u, with the beta of
    the Gaussian test channel whose distortion is the index's, D_k = (1 - beta) var(x|y): the
    slope of g(k, y) in y, averaged over the samples coded as k, is within 0.15 of
    D_k / var(x|y), and g(k, .) is close to a line over each of the index's intervals."""
    model, (x, y) = one_bit
    u = model.indices(x[:, None])
    assert np.mean((model.reconstruct(u, y[:, None])[:, 0] - x) ** 2) < 0.8 * NOISE  # u is used
    h = 1e-3
    checked = 0
    for k in np.unique(u):
        sel = u == k
        if sel.mean() < 0.1:
            continue
        yk = y[sel][:, None]
        slope = np.mean((model.reconstruct(u[sel], yk + h) - model.reconstruct(u[sel], yk - h)) / (2 * h))
        d_k = np.mean((model.reconstruct(u[sel], yk)[:, 0] - x[sel]) ** 2)
        assert abs(slope - d_k / NOISE) <= 0.15, (k, slope, d_k / NOISE)
        for a, b in index_intervals(model, -2.0, 2.0)[int(k)]:
            if b - a < 0.3:
                continue
            grid = np.linspace(a + 0.1 * (b - a), b - 0.1 * (b - a), 50)
            g = model.reconstruct(np.full(50, k), grid[:, None])[:, 0]
            line = np.polyval(np.polyfit(grid, g, 1), grid)
            assert np.abs(g - line).max() <= 0.05 * (b - a) + 0.01, (k, a, b)
        checked += 1
    assert checked >= 2


# --------------------------------------------------------------------------- the model file


def test_model_file_round_trips_bit_for_bit(small, tmp_path):
    model = small[0]
    lw.save_model(tmp_path / "m.npz", model)
    data = (tmp_path / "m.npz").read_bytes()
    again = lw.load_model(tmp_path / "m.npz")
    assert lw.model_bytes(again) == data
    assert again.model_id == model.model_id
    plain = np.load(tmp_path / "m.npz")  # plain numpy reads it
    assert json.loads(bytes(plain["description"]))["id"] == model.model_id


def test_a_changed_weight_is_refused(small):
    data = bytearray(lw.model_bytes(small[0]))
    at = data.index(b"enc_w1.npy") + 200  # inside the array's values
    data[at] ^= 0x10
    with pytest.raises(FormatError, match="corrupt|not a learned"):
        lw.model_from_bytes(bytes(data))


def test_an_npz_of_another_kind_is_refused(tmp_path):
    x, y = pairs(200)
    np.savez(tmp_path / "p.npz", x=x, y=y)
    with pytest.raises(FormatError, match="not a file from reccodec wz train|not a learned"):
        lw.load_model(tmp_path / "p.npz")


# --------------------------------------------------------------------------- coding


def test_encode_decode_returns_the_encoders_indices(small):
    model = small[0]
    x, y = pairs(3000, seed=8)
    data, u, header_bits = lw.encode(x, model)
    header, read = lw.decode_indices(data, model)
    assert np.array_equal(read, u)
    assert np.array_equal(u, model.indices(x.reshape(-1, 1)))
    xhat = lw.decode(data, y, model)
    assert xhat.shape == x.shape
    assert np.array_equal(xhat, model.reconstruct(u, y.reshape(-1, 1))[:, 0])
    bits = 8 * len(data) - header_bits
    ideal = -np.log2(model.rate_probabilities()[u]).sum()
    assert ideal - 64 <= bits <= ideal * 1.01 + 64


def test_decode_refuses_another_model_and_a_corrupt_file():
    x, y = pairs(1000)
    one = lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=1, seed=1)[0]
    two = lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=1, seed=2)[0]
    data, _, _ = lw.encode(x[:100], one)
    with pytest.raises(MismatchError, match="another learned model"):
        lw.decode(data, y[:100], two)
    bad = bytearray(data)
    bad[-6] ^= 1
    with pytest.raises(FormatError):
        lw.decode(bytes(bad), y[:100], one)
    with pytest.raises(InputError, match="samples"):
        lw.decode(data, y[:99], one)


@pytest.mark.parametrize("x, y, fragment", [
    (np.zeros(200), np.zeros(199), "x has 200 samples but y has 199"),
    (np.full(200, np.nan), np.zeros(200), "NaN"),
    (np.zeros(50), np.zeros(50), "at least 100"),
    (np.array(["a"] * 200), np.zeros(200), "numeric"),
])
def test_bad_pairs_are_refused(x, y, fragment):
    with pytest.raises(InputError, match=fragment):
        lw.check_pairs(x, y)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def files(tmp_path):
    x, y = pairs(1500)
    np.savez(tmp_path / "pairs.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x[:400])
    np.save(tmp_path / "y.npy", y[:400])
    return tmp_path


def test_cli_train_encode_decode_round_trip(files):
    t = files
    args = ["wz", "train", str(t / "pairs.npz"), "-o", str(t / "m.npz"), "--lmbda", "10", "--codewords", "4",
            "--hidden", "8", "--epochs", "2", "--seed", "9", "--json"]
    report = json.loads(ok(*args).out)
    os.replace(t / "m.npz", t / "m1.npz")
    assert json.loads(ok(*args).out)["model_id"] == report["model_id"]
    assert (t / "m.npz").read_bytes() == (t / "m1.npz").read_bytes()
    ok("wz", "encode", str(t / "x.npy"), "--model", str(t / "m.npz"), "-o", str(t / "x.rec"))
    ok("wz", "decode", str(t / "x.rec"), "--side-info", str(t / "y.npy"), "--model", str(t / "m.npz"),
       "-o", str(t / "xhat.npy"))
    model = lw.load_model(t / "m.npz")
    x, y = np.load(t / "x.npy"), np.load(t / "y.npy")
    u = model.indices(x.reshape(-1, 1))
    assert np.array_equal(np.load(t / "xhat.npy"), model.reconstruct(u, y.reshape(-1, 1))[:, 0])
    shown = json.loads(ok("wz", "show", str(t / "m.npz")).out)
    assert shown["id"] == report["model_id"]


@pytest.mark.parametrize("arrays, fragment", [
    ({"x": np.zeros(200)}, "missing array y"),
    ({"x": np.zeros(200), "y": np.zeros(201)}, "x has 200 samples but y has 201"),
    ({"x": np.full(200, np.nan), "y": np.zeros(200)}, "NaN"),
])
def test_cli_train_refuses_bad_pairs(files, arrays, fragment):
    np.savez(files / "bad.npz", **arrays)
    fails(files, "wz", "train", str(files / "bad.npz"), "-o", str(files / "m.npz"), "--lmbda", "1",
          fragments=(fragment,))


def test_cli_train_refuses_a_npy_and_needs_one_of_rate_and_lmbda(files):
    fails(files, "wz", "train", str(files / "x.npy"), "-o", str(files / "m.npz"), "--lmbda", "1",
          fragments=("expected an .npz",))
    fails(files, "wz", "train", str(files / "pairs.npz"), "-o", str(files / "m.npz"),
          fragments=("exactly one of --rate and --lmbda",), code=2)


def test_cli_refuses_a_model_of_another_kind(files):
    t = files
    fails(t, "wz", "encode", str(t / "x.npy"), "--model", str(t / "pairs.npz"), "-o", str(t / "x.rec"),
          fragments=("not a file from reccodec wz train",))
    model = {"scheme": "nsq", "source": {"relation": "x = y + n", "var_y": 1.0, "var_n": 0.1},
             "nsq": {"delta": 0.5, "cosets": 4}}
    (t / "m.json").write_text(json.dumps(model))
    ok("wz", "encode", str(t / "x.npy"), "--model", str(t / "m.json"), "-o", str(t / "n.rec"), "--seed", "3")
    x, y = pairs(1500)
    lw.save_model(t / "m.npz", lw.train(x, y, 10.0, codewords=4, hidden=8, epochs=1, seed=1)[0])
    fails(t, "wz", "decode", str(t / "n.rec"), "--side-info", str(t / "y.npy"), "--model", str(t / "m.npz"),
          "-o", str(t / "xhat.npy"), fragments=("not one coded with a learned model",))
    fails(t, "wz", "encode", str(t / "x.npy"), "--model", str(t / "m.json"), "-o", str(t / "n2.rec"),
          fragments=("--seed",), code=2)


def test_cli_show_draws_the_model(files, small):
    pytest.importorskip("matplotlib")
    lw.save_model(files / "m.npz", small[0])
    ok("wz", "show", str(files / "m.npz"), "--plot", str(files / "m.png"))
    assert (files / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- bench sources


@pytest.mark.parametrize("name", ["signed-laplace", "y=x+n:laplace", "y=x+n:mix"])
def test_gaussian_fit_has_the_sources_second_moments(name):
    from rec_codec import wz_sources

    source = wz_sources.source(name)
    x, y = source.sample(200000, np.random.default_rng(1))
    fit = source.gaussian_fit
    assert x.var() == pytest.approx(fit.var_x, rel=0.02)
    assert y.var() == pytest.approx(fit.var_y, rel=0.02)
    assert np.cov(x, y)[0, 1] == pytest.approx(fit.coef * fit.var_y, rel=0.02)


@pytest.mark.parametrize("name", ["signed-laplace", "y=x+n:laplace", "y=x+n:mix"])
def test_conditional_mean_beats_the_linear_estimate_and_the_bound_lies_below(name):
    from rec_codec import wz_sources

    source = wz_sources.source(name)
    x, y = source.sample(4000, np.random.default_rng(2))
    mmse = np.mean((source.mmse_estimate(y) - x) ** 2)
    fit = source.gaussian_fit
    linear = np.mean((fit.coef * y - x) ** 2)
    assert mmse <= linear * 1.02
    assert wz_sources.shannon_lower_bound(source.conditional_entropy(4000), 0.0) <= mmse * 1.05


def test_mixture_conditional_mean_matches_quadrature():
    from rec_codec import wz_sources

    source = wz_sources.source("y=x+n:mix")
    y = np.linspace(-3, 3, 13)
    grid = np.linspace(-8, 8, 160001)
    prior = 0.5 * (np.exp(-(grid + 1) ** 2 / 0.2) + np.exp(-(grid - 1) ** 2 / 0.2))
    w = prior[None, :] * np.exp(-(y[:, None] - grid[None, :]) ** 2 / 0.2)
    assert np.allclose(source.mmse_estimate(y), (w * grid).sum(axis=1) / w.sum(axis=1), atol=1e-9)


def test_published_encoder_takes_the_cheapest_index(small):
    from rec_codec import bench_learned_wz

    model = small[0]
    x, _ = pairs(50, seed=3)
    draws = x[:, None] + np.sqrt(0.1) * np.random.default_rng(4).normal(size=(50, 5))
    u = bench_learned_wz.published_indices(model, x, draws, chunk=7)
    lmbda = model.info["lmbda"]
    for i in range(50):
        costs = [-np.log(model.rate_probabilities()[k]) + lmbda * np.mean(
            (x[i] - model.reconstruct(np.full(5, k), draws[i].reshape(-1, 1))[:, 0]) ** 2)
            for k in range(model.codewords)]
        assert u[i] == int(np.argmin(costs))
