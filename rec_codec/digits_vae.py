"""Real VAE posteriors on scikit-learn's 8x8 digits, shipped as data (numpy only).

``data/digits_vae.npz`` holds a small VAE trained by ``examples/vae/train_vae.py`` on the
first 1497 images of ``sklearn.datasets.load_digits`` (pixels /16, in [0, 1]); the last 300
images are held out. Latent: 24 dimensions, prior N(0, I). The file stores the diagonal
Gaussian posteriors q(z|x) of every image (mean and std, float32), the 300 test images, and
the encoder and decoder weights. Some latent dimensions are collapsed to the prior (std
close to 1, sometimes slightly above, mean close to 0); the others carry uneven KL, about
62 bits per test image in all. Neither scikit-learn nor an autodiff library is needed to
use them:

    >>> from rec_codec import digits_vae
    >>> vae = digits_vae.load()
    >>> images = vae.decode(vae.test_mean)              # [300, 64] in [0, 1]
    >>> float(digits_vae.psnr(vae.test_images, images).mean()) > 18.0
    True

Decoder: g = relu(z dec_w1 + dec_b1) [128], x_hat = sigmoid(g dec_w2 + dec_b2) [64], the
same activations as in training.
"""

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["DATA_PATH", "LATENT_DIM", "IMAGE_PIXELS", "DigitsVAE", "load", "psnr"]

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "digits_vae.npz")
LATENT_DIM = 24
IMAGE_PIXELS = 64

_POSTERIOR_FIELDS = ("train_mean", "train_std", "test_mean", "test_std", "test_images")
_WEIGHT_FIELDS = (
    "dec_w1", "dec_b1", "dec_w2", "dec_b2",
    "enc_w1", "enc_b1", "enc_wm", "enc_bm", "enc_wv", "enc_bv",
)


@dataclass(frozen=True)
class DigitsVAE:
    """Posteriors, test images and weights of the digits VAE, all float64.

    Attributes:
        train_mean, train_std: [1497, 24] posterior means and stds of the training images.
        test_mean, test_std: [300, 24] posterior means and stds of the held-out images.
        test_images: [300, 64] held-out images, pixels in [0, 1] (row-major 8x8).
        dec_w1 [24, 128], dec_b1 [128], dec_w2 [128, 64], dec_b2 [64]: decoder weights.
        enc_w1 [64, 128], enc_b1 [128], enc_wm [128, 24], enc_bm [24], enc_wv [128, 24],
            enc_bv [24]: encoder weights (mean = h enc_wm + enc_bm, log-variance =
            h enc_wv + enc_bv, h = relu(x enc_w1 + enc_b1)).
    """

    train_mean: np.ndarray
    train_std: np.ndarray
    test_mean: np.ndarray
    test_std: np.ndarray
    test_images: np.ndarray
    dec_w1: np.ndarray
    dec_b1: np.ndarray
    dec_w2: np.ndarray
    dec_b2: np.ndarray
    enc_w1: np.ndarray
    enc_b1: np.ndarray
    enc_wm: np.ndarray
    enc_bm: np.ndarray
    enc_wv: np.ndarray
    enc_bv: np.ndarray

    def decode(self, z):
        """Decode latents to images through the decoder MLP.

        Args:
            z: latents, shape [n, 24] or [24].

        Returns:
            float64 images in [0, 1], shape [n, 64] (or [64] for a single latent).
        """
        z = np.asarray(z, dtype=np.float64)
        if z.shape[-1] != LATENT_DIM or z.ndim not in (1, 2):
            raise ValueError(f"z must have shape [n, {LATENT_DIM}] or [{LATENT_DIM}], got {z.shape}")
        g = np.maximum(z @ self.dec_w1 + self.dec_b1, 0.0)
        a = g @ self.dec_w2 + self.dec_b2
        return 0.5 * (1.0 + np.tanh(0.5 * a))  # sigmoid, without overflow

    def encode(self, images):
        """Posterior mean and std of q(z|x) for images through the encoder MLP.

        Args:
            images: pixels in [0, 1], shape [n, 64] or [64].

        Returns:
            (mean, std), float64, each of shape [n, 24] (or [24] for a single image).
        """
        x = np.asarray(images, dtype=np.float64)
        if x.shape[-1] != IMAGE_PIXELS or x.ndim not in (1, 2):
            raise ValueError(f"images must have shape [n, {IMAGE_PIXELS}] or [{IMAGE_PIXELS}], got {x.shape}")
        h = np.maximum(x @ self.enc_w1 + self.enc_b1, 0.0)
        return h @ self.enc_wm + self.enc_bm, np.exp(0.5 * (h @ self.enc_wv + self.enc_bv))


def load(path=DATA_PATH):
    """Load the digits VAE data file.

    Args:
        path: the .npz written by ``examples/vae/train_vae.py`` (default: the packaged file).

    Returns:
        A frozen ``DigitsVAE`` with every array as float64.
    """
    with np.load(path) as f:
        arrays = {k: np.array(f[k], dtype=np.float64) for k in _POSTERIOR_FIELDS + _WEIGHT_FIELDS}
    return DigitsVAE(**arrays)


def psnr(images, reconstructions):
    """Per-image PSNR in dB with peak 1.0: 10 log10(1 / MSE), MSE over the pixels of each image.

    Args:
        images: reference pixels, shape [n, p] (or [p]).
        reconstructions: same shape as ``images``.

    Returns:
        float64 array of shape [n] (a 0-d array for a single image); inf where identical.
    """
    x = np.asarray(images, dtype=np.float64)
    y = np.asarray(reconstructions, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    mse = np.mean((x - y) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(1.0 / mse)
