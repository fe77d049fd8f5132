"""The universal quantization baseline of ``bench rate`` and ``bench/uq_over_seeds.py``."""

import numpy as np
import pytest

from rec_codec import digits_vae
from rec_codec.bench_rate import uq_at_psnr, uq_of_means, uq_settings
from rec_codec.uq import UQPrior, decode_uq


@pytest.fixture(scope="module")
def vae():
    return digits_vae.load()


def test_uq_settings_are_the_training_posteriors_width_and_aggregate(vae):
    width, prior_mean, prior_std = uq_settings(vae.train_mean, vae.train_std)
    assert np.allclose(width, vae.train_std.mean(axis=0))
    assert np.allclose(prior_mean, vae.train_mean.mean(axis=0))
    # the aggregate posterior's variance: the means' spread plus the mean posterior variance
    draws = vae.train_mean + vae.train_std * np.random.default_rng(0).normal(size=vae.train_mean.shape)
    assert np.allclose(prior_std, draws.std(axis=0), rtol=0.05)


def test_the_reconstruction_is_what_the_file_decodes_to(vae):
    width, prior_mean, prior_std = uq_settings(vae.train_mean, vae.train_std)
    mean = vae.test_mean[:40]
    result, reconstruction = uq_of_means(mean, width, 2.5, 7, prior_mean, prior_std)
    step = 2.5 * width
    prior = UQPrior("gaussian", np.broadcast_to(prior_mean / step, mean.shape),
                    np.broadcast_to(prior_std / step, mean.shape))
    assert np.array_equal(decode_uq(result.data, 7, prior) * step, reconstruction)
    assert np.abs(reconstruction - mean).max() <= step.max()  # within a cell plus its dither


def test_the_step_is_bisected_to_the_psnr_and_a_finer_step_costs_more_bits(vae):
    width, prior_mean, prior_std = uq_settings(vae.train_mean, vae.train_std)
    mean, images = vae.test_mean[:60], vae.test_images[:60]
    coarse = uq_at_psnr(mean, width, 3, vae, images, 21.0, prior_mean, prior_std)
    fine = uq_at_psnr(mean, width, 3, vae, images, 22.5, prior_mean, prior_std)
    assert coarse[2] >= 21.0 and fine[2] >= 22.5
    assert coarse[2] < 21.05 and fine[2] < 22.55  # the largest step that reaches the PSNR
    assert fine[1] < coarse[1] and len(fine[0].data) > len(coarse[0].data)
