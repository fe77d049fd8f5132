"""The shipped digits VAE (rec_codec/data/digits_vae.npz) loads and behaves like a real VAE."""

import os

import numpy as np
import pytest

from rec_codec import digits_vae

LN2 = np.log(2.0)


def kl_bits(mean, std):
    """KL(N(m, s^2) || N(0, 1)) per dimension in bits: [ln(1/s) + (s^2 + m^2)/2 - 1/2] / ln 2."""
    return (np.log(1.0 / std) + 0.5 * (std * std + mean * mean) - 0.5) / LN2


@pytest.fixture(scope="module")
def vae():
    return digits_vae.load()


def test_data_path_is_inside_the_package():
    assert os.path.isfile(digits_vae.DATA_PATH)
    assert os.path.dirname(os.path.dirname(digits_vae.DATA_PATH)) == os.path.dirname(digits_vae.__file__)
    assert os.path.getsize(digits_vae.DATA_PATH) < 1_000_000


def test_shapes_and_dtypes(vae):
    shapes = {
        "train_mean": (1497, 24), "train_std": (1497, 24),
        "test_mean": (300, 24), "test_std": (300, 24), "test_images": (300, 64),
        "dec_w1": (24, 128), "dec_b1": (128,), "dec_w2": (128, 64), "dec_b2": (64,),
        "enc_w1": (64, 128), "enc_b1": (128,), "enc_wm": (128, 24), "enc_bm": (24,),
        "enc_wv": (128, 24), "enc_bv": (24,),
    }
    for name, shape in shapes.items():
        arr = getattr(vae, name)
        assert arr.shape == shape, name
        assert arr.dtype == np.float64, name
        assert np.all(np.isfinite(arr)), name
    assert vae.test_images.min() >= 0.0 and vae.test_images.max() <= 1.0


def test_frozen(vae):
    with pytest.raises(Exception):
        vae.test_mean = None


def test_stds_positive_and_finite(vae):
    for std in (vae.train_std, vae.test_std):
        assert np.all(np.isfinite(std))
        assert np.all(std > 0.0)


def test_decode_posterior_mean_psnr(vae):
    recon = vae.decode(vae.test_mean)
    assert recon.shape == (300, 64)
    assert recon.min() >= 0.0 and recon.max() <= 1.0
    p = digits_vae.psnr(vae.test_images, recon)
    assert p.shape == (300,) and p.dtype == np.float64
    assert p.mean() > 18.0


def test_decode_single_latent_matches_batch(vae):
    batch = vae.decode(vae.test_mean[:3])
    assert vae.decode(vae.test_mean[1]).shape == (64,)
    np.testing.assert_allclose(vae.decode(vae.test_mean[1]), batch[1], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        vae.decode(np.zeros((2, 23)))


def test_encoder_reproduces_stored_posteriors(vae):
    mean, std = vae.encode(vae.test_images)
    np.testing.assert_allclose(mean, vae.test_mean, atol=1e-4)
    np.testing.assert_allclose(std, vae.test_std, rtol=1e-4)


def test_kl_looks_like_a_real_vae(vae):
    kl = kl_bits(vae.test_mean, vae.test_std)  # [300, 24] bits
    assert np.all(kl >= -1e-9)
    per_image = kl.sum(axis=1)
    assert 40.0 < per_image.mean() < 120.0
    per_dim = kl.mean(axis=0)
    collapsed = per_dim < 0.1
    assert collapsed.sum() >= 3
    # Collapsed dimensions sit at the prior (std near 1, mean near 0) ...
    assert np.all(np.abs(vae.test_std[:, collapsed] - 1.0) < 0.1)
    assert np.all(np.abs(vae.test_mean[:, collapsed]) < 1.0)
    # ... the informative ones carry uneven KL.
    active = per_dim[~collapsed]
    assert active.size >= 8
    assert active.max() > 1.3 * active.min()


def test_psnr():
    x = np.zeros((2, 64))
    y = np.full((2, 64), 0.1)
    np.testing.assert_allclose(digits_vae.psnr(x, y), [20.0, 20.0])
    with pytest.raises(ValueError):
        digits_vae.psnr(x, y[:, :10])
