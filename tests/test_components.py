"""Coding components of a codec model: fitting, choice, file versions, records."""

from types import SimpleNamespace

import numpy as np
import pytest

from rec_codec import components, digits_vae
from rec_codec.batch import decode_batch, decode_record, encode_batch, record_file
from rec_codec.errors import FormatError, InputError
from rec_codec.model import load_model
from rec_codec.training import train_model

SEED = 23


@pytest.fixture(scope="module")
def vae():
    return digits_vae.load()


@pytest.fixture(scope="module")
def one(vae):
    return train_model(vae.train_mean[:300], vae.train_std[:300], seed=1, margin_bits=4.0, components=1)


@pytest.fixture(scope="module")
def four(vae):
    return train_model(vae.train_mean[:300], vae.train_std[:300], seed=1, margin_bits=4.0, components=4)


def _clusters(seed=0, per=200, dims=6):
    """Items from three well separated clusters of posterior means."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0] * dims, [0.0] * dims, [3.0] * dims])
    mean = np.concatenate([c + 0.3 * rng.standard_normal((per, dims)) for c in centres])
    std = np.full_like(mean, 0.2)
    return mean, std


def test_components_find_separated_clusters_and_cost_fewer_bits_than_one_gaussian():
    mean, std = _clusters()
    weights, comp_mean, comp_std, report = components.fit_components(mean, std, seed=1)
    assert comp_mean.shape[0] >= 4 and report[1] > min(report.values())
    # every cluster centre is close to a component's mean
    for centre in (-3.0, 0.0, 3.0):
        assert np.abs(comp_mean - centre).max(axis=1).min() < 0.5
    test_mean, test_std = _clusters(seed=5, per=50)
    many = components.component_costs(test_mean, test_std, weights, comp_mean, comp_std).min(axis=0).mean()
    w1, m1, s1, _ = components.fit_components(mean, std, seed=1, count=1)
    single = components.component_costs(test_mean, test_std, w1, m1, s1).min(axis=0).mean()
    assert many < single - 5


def test_no_training_std_is_wider_than_a_component():
    mean, std = _clusters()
    std = std * np.random.default_rng(2).uniform(0.5, 3.0, std.shape)
    _, _, comp_std, _ = components.fit_components(mean, std, seed=1, count=3)
    assert (comp_std > std.max(axis=0)).all()


def test_the_choice_avoids_a_component_that_would_need_narrowing():
    comp_mean = np.zeros((2, 1))
    comp_std = np.array([[0.5], [2.0]])
    weights = np.array([1000.0, 1.0])  # the first is far cheaper by frequency
    mean, std = np.zeros((2, 1)), np.array([[0.1], [0.9]])
    chosen = components.choose_components(mean, std, weights, comp_mean, comp_std, slack=8.0)
    assert chosen.tolist() == [0, 1]


def test_a_one_component_model_is_written_as_version_1_and_several_as_version_2(one, four):
    assert one.num_components == 1 and one.to_bytes()[4] == 1
    assert four.num_components == 4 and four.to_bytes()[4] == 2
    for model in (one, four):
        again = load_model(model.to_bytes())
        assert again.to_bytes() == model.to_bytes() and again.model_id == model.model_id
        assert again.describe()["components"] == model.num_components
    assert four.nbins.shape == (4, 24) and four.coding_mean.shape == (4, 24)


def test_training_with_components_is_deterministic(vae, four):
    again = train_model(vae.train_mean[:300], vae.train_std[:300], seed=1, margin_bits=4.0, components=4)
    assert again.to_bytes() == four.to_bytes()


def test_items_pick_their_components_and_round_trip_bit_for_bit(vae, four):
    result = encode_batch(vae.test_mean[:40], vae.test_std[:40], four, SEED, chunk_items=16)
    assert decode_batch(result.container, four, SEED).tobytes() == result.samples.tobytes()
    assert decode_batch(result.container, four, SEED, items=[17])[0].tobytes() == result.samples[17].tobytes()
    assert decode_record(record_file(result.records[9], four, SEED, 9), four, SEED, 9).tobytes() == \
        result.samples[9].tobytes()
    picked = components.choose_components(vae.test_mean[:40].astype(np.float64), vae.test_std[:40].astype(np.float64),
                                          four.component_freqs, four.coding_mean, four.coding_std, four.narrow_slack)
    assert len(set(picked.tolist())) > 1


@pytest.mark.slow
def test_components_cost_fewer_bits_than_one_gaussian_on_the_digits_test_images(vae):
    """The whole training set: K chosen on the data against K = 1, on the 300 test images."""
    chosen = train_model(vae.train_mean, vae.train_std, seed=2)
    single = train_model(vae.train_mean, vae.train_std, seed=2, components=1)
    assert chosen.num_components > 1
    bits = [8 * len(encode_batch(vae.test_mean, vae.test_std, m, SEED).container) / 300 for m in (chosen, single)]
    assert bits[0] < bits[1] - 0.5, bits


def test_bad_component_arrays_in_a_model_file_are_refused(four):
    data = bytearray(four.to_bytes())
    with pytest.raises(FormatError, match="component frequencies"):
        fields = {name: getattr(four, name) for name in four.__dataclass_fields__}
        fields["component_freqs"] = four.component_freqs + 1
        type(four)(**fields)
    data[4] = 3
    with pytest.raises(FormatError, match="version 3"):
        load_model(bytes(data))


def test_components_out_of_range_or_for_too_few_items_are_refused(vae):
    with pytest.raises(InputError, match="components"):
        train_model(vae.train_mean[:50], vae.train_std[:50], components=0)
    with pytest.raises(InputError, match="4 coding components need at least 64 training items"):
        train_model(vae.train_mean[:50], vae.train_std[:50], components=4)
    assert train_model(vae.train_mean[:9], vae.train_std[:9], seed=1).num_components == 1


def test_the_last_component_is_the_broad_one_that_covers_every_item():
    mean, std = _clusters()
    _, comp_mean, comp_std, _ = components.fit_components(mean, std, seed=1, count=4)
    _, one_mean, one_std, _ = components.fit_components(mean, std, seed=1, count=1)
    np.testing.assert_array_equal(comp_mean[-1], one_mean[0])
    np.testing.assert_array_equal(comp_std[-1], one_std[0])
    assert (comp_std[:-1] < comp_std[-1]).all()


def test_uq_bits_under_components_match_the_cell_masses(four):
    from scipy import stats

    from rec_codec.bench_rate import uq_component_bits

    rng = np.random.default_rng(4)
    step = np.full(24, 0.5)
    values = four.coding_mean[2] + rng.standard_normal((5, 24)) * 0.3
    bits = uq_component_bits(values, step, four)
    w = four.component_freqs / four.component_freqs.sum()
    expected = np.min([-np.log2(w[k]) - np.log2(
        stats.norm.cdf((values + step / 2 - four.coding_mean[k]) / four.coding_std[k])
        - stats.norm.cdf((values - step / 2 - four.coding_mean[k]) / four.coding_std[k])).sum(axis=1)
        for k in range(four.num_components)], axis=0)
    np.testing.assert_allclose(bits, expected, rtol=1e-9)


def test_uq_bits_under_components_stay_finite_in_the_upper_tail():
    from scipy import stats

    from rec_codec.bench_rate import uq_component_bits

    model = SimpleNamespace(component_freqs=np.array([1]), coding_mean=np.zeros((1, 3)), coding_std=np.ones((1, 3)))
    values = np.array([[9.0, 40.0, -9.0]])
    step = np.full(3, 0.5)
    # each cell's mass by the survival function above the mean, by the CDF below it
    log_sf_hi, log_sf_lo = stats.norm.logsf(values[0, :2] + 0.25), stats.norm.logsf(values[0, :2] - 0.25)
    upper = -(log_sf_lo + np.log1p(-np.exp(log_sf_hi - log_sf_lo))) / np.log(2.0)
    lower = -np.log2(stats.norm.cdf(-8.75) - stats.norm.cdf(-9.25))
    bits = uq_component_bits(values, step, model)
    np.testing.assert_allclose(bits, [upper.sum() + lower], rtol=1e-9)


def test_items_that_all_leave_the_clusters_for_the_broad_component_leave_it_alone():
    from rec_codec.bench import latent_posteriors

    # 200 items of 256 dimensions: every item is cheapest under the broad component after
    # the first round, which once made the refit of no cluster fail
    targets = latent_posteriors(256, 200, seed=3)
    weights, comp_mean, comp_std, _ = components.fit_components(np.asarray(targets.mean), np.asarray(targets.std),
                                                                 seed=1)
    assert comp_mean.shape == comp_std.shape == (weights.shape[0], 256)
    assert (weights >= 1).all() and np.isfinite(comp_mean).all() and (comp_std > 0).all()
