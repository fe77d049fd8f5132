"""Train a small VAE on scikit-learn's 8x8 digits in plain numpy; write rec_codec/data/digits_vae.npz.

The 1797 images of ``sklearn.datasets.load_digits`` (values 0..16, scaled to [0, 1] by /16)
are split in load_digits order: the first 1497 train, the last 300 are held out.

Model (hand-written gradients, Adam, reparameterisation trick):

    encoder  x[64] -> h = relu(x W1 + b1)[128] -> mean = h Wm + bm [24], logvar = h Wv + bv [24]
    decoder  z[24] -> g = relu(z V1 + c1)[128] -> x_hat = sigmoid(g V2 + c2)[64]

with weights stored as enc_w1 [64,128], enc_b1, enc_wm [128,24], enc_bm, enc_wv [128,24],
enc_bv, dec_w1 [24,128], dec_b1, dec_w2 [128,64], dec_b2.

Likelihood: Gaussian with a fixed observation noise ``--sigma`` (per pixel, pixels in [0, 1]),
so the loss per image is  ||x - x_hat||^2 / (2 sigma^2) + beta KL(q(z|x) || N(0, I))  in nats.
beta starts at ``--beta0`` and falls linearly to 1 over the first ``--beta-epochs`` epochs;
the rest of training (and the final model) is the plain ELBO, beta = 1. The early pressure
prunes latent dimensions the way a larger VAE does on its own: with a plain ELBO at this
small sigma, this small decoder spreads the rate evenly over all 24 dimensions (much like
PCA) and none collapses. sigma sets the rate: with the defaults, held-out images cost about
62 bits of KL, reconstructions reach about 22-23 dB PSNR, and 5-6 dimensions collapse to the
prior while the KL of the others is uneven (about 2 to 4.5 bits each). Posterior stds are
written as exp(logvar / 2), unclipped (collapsed dimensions often have std slightly above 1).

The run is deterministic given ``--seed`` (and a fixed BLAS thread count). It takes
about 15 s on one core. Needs numpy and scikit-learn (for the data only);
the written file is read by ``rec_codec.digits_vae`` with numpy alone.

    python examples/vae/train_vae.py              # seed 0, writes rec_codec/data/digits_vae.npz
    python examples/vae/train_vae.py --seed 1 --out /tmp/vae.npz
"""

import argparse
import os
import time

import numpy as np

LATENT = 24
HIDDEN = 128
PIXELS = 64
N_TEST = 300
LN2 = np.log(2.0)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "rec_codec", "data", "digits_vae.npz"))


def load_images():
    """Digits scaled to [0, 1], split into (train [1497, 64], test [300, 64]) in load_digits order."""
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64) / 16.0
    return x[:-N_TEST], x[-N_TEST:]


def init_params(rng):
    """Glorot-uniform weights, zero biases (log-variance bias starts at 0: std 1)."""

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))

    return {
        "enc_w1": glorot(PIXELS, HIDDEN),
        "enc_b1": np.zeros(HIDDEN),
        "enc_wm": glorot(HIDDEN, LATENT),
        "enc_bm": np.zeros(LATENT),
        "enc_wv": glorot(HIDDEN, LATENT) * 0.1,
        "enc_bv": np.zeros(LATENT),
        "dec_w1": glorot(LATENT, HIDDEN),
        "dec_b1": np.zeros(HIDDEN),
        "dec_w2": glorot(HIDDEN, PIXELS),
        "dec_b2": np.zeros(PIXELS),
    }


def sigmoid(a):
    """Logistic function, written with tanh so it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def encode(p, x):
    """Posterior mean and log-variance, plus the hidden layer (for backprop)."""
    h = np.maximum(x @ p["enc_w1"] + p["enc_b1"], 0.0)
    return h @ p["enc_wm"] + p["enc_bm"], h @ p["enc_wv"] + p["enc_bv"], h


def decode(p, z):
    """Decoded images in [0, 1], plus the hidden layer (for backprop)."""
    g = np.maximum(z @ p["dec_w1"] + p["dec_b1"], 0.0)
    return sigmoid(g @ p["dec_w2"] + p["dec_b2"]), g


def loss_and_grads(p, x, eps, inv_two_var, beta):
    """Negative ELBO (nats per image, batch mean) and its gradient for one minibatch."""
    n = x.shape[0]
    mean, logvar, h = encode(p, x)
    std = np.exp(0.5 * logvar)
    z = mean + std * eps
    y, g = decode(p, z)

    diff = y - x
    rec = inv_two_var * np.sum(diff * diff, axis=1)
    kl = 0.5 * np.sum(mean * mean + std * std - logvar - 1.0, axis=1)
    loss = float(np.mean(rec + beta * kl))

    # Backward (all gradients are of the batch-mean loss).
    d_a2 = (2.0 * inv_two_var / n) * diff * y * (1.0 - y)
    grads = {"dec_w2": g.T @ d_a2, "dec_b2": d_a2.sum(axis=0)}
    d_a1 = (d_a2 @ p["dec_w2"].T) * (g > 0.0)
    grads["dec_w1"] = z.T @ d_a1
    grads["dec_b1"] = d_a1.sum(axis=0)
    d_z = d_a1 @ p["dec_w1"].T

    d_mean = d_z + (beta / n) * mean
    d_logvar = d_z * (0.5 * std * eps) + (beta / n) * 0.5 * (std * std - 1.0)
    grads["enc_wm"] = h.T @ d_mean
    grads["enc_bm"] = d_mean.sum(axis=0)
    grads["enc_wv"] = h.T @ d_logvar
    grads["enc_bv"] = d_logvar.sum(axis=0)
    d_h = (d_mean @ p["enc_wm"].T + d_logvar @ p["enc_wv"].T) * (h > 0.0)
    grads["enc_w1"] = x.T @ d_h
    grads["enc_b1"] = d_h.sum(axis=0)
    return loss, float(np.mean(rec)), float(np.mean(kl)), grads


class Adam:
    """Adam (Kingma & Ba 2015) on a dict of arrays, updated in place; lr passed per step."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params, grads, lr):
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for k, gk in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1.0 - self.b1) * gk
            self.v[k] = self.b2 * self.v[k] + (1.0 - self.b2) * gk * gk
            params[k] -= lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def kl_bits(mean, std):
    """KL(N(mean, std^2) || N(0, 1)) per dimension, in bits."""
    return (-np.log(std) + 0.5 * (std * std + mean * mean) - 0.5) / LN2


def psnr(x, y):
    """Per-image PSNR in dB, peak 1.0."""
    return 10.0 * np.log10(1.0 / np.mean((x - y) ** 2, axis=1))


def train(x_train, seed, sigma, epochs, batch, lr, beta0, beta_epochs, verbose=True):
    """Adam on the (beta-weighted) negative ELBO; returns the parameter dict."""
    rng = np.random.default_rng(seed)
    p = init_params(rng)
    opt = Adam(p, lr)
    inv_two_var = 1.0 / (2.0 * sigma * sigma)
    n = x_train.shape[0]
    steps_per_epoch = (n + batch - 1) // batch
    total = epochs * steps_per_epoch
    step = 0
    for epoch in range(epochs):
        perm = rng.permutation(n)
        beta = beta0 + (1.0 - beta0) * min(1.0, epoch / beta_epochs) if beta_epochs > 0 else 1.0
        tot = rec_tot = kl_tot = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            xb = x_train[idx]
            eps = rng.standard_normal((xb.shape[0], LATENT))
            # Cosine decay of the learning rate to 5% of its initial value.
            lr_t = lr * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * step / total)))
            loss, rec, kl, grads = loss_and_grads(p, xb, eps, inv_two_var, beta)
            opt.step(p, grads, lr_t)
            step += 1
            w = xb.shape[0] / n
            tot += loss * w
            rec_tot += rec * w
            kl_tot += kl * w
        if verbose and (epoch % 50 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:4d}  beta {beta:.2f}  loss {tot:8.2f}  rec {rec_tot:8.2f}  "
                  f"kl {kl_tot / LN2:6.1f} bits")
    return p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sigma", type=float, default=0.04,
                    help="observation noise std of the Gaussian likelihood (pixels in [0, 1])")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--beta0", type=float, default=8.0, help="KL weight at the start of training")
    ap.add_argument("--beta-epochs", type=int, default=200,
                    help="epochs over which the KL weight falls linearly from beta0 to 1")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    t0 = time.time()
    x_train, x_test = load_images()
    p = train(x_train, args.seed, args.sigma, args.epochs, args.batch, args.lr,
              args.beta0, args.beta_epochs)
    t_train = time.time() - t0

    train_mean, train_logvar, _ = encode(p, x_train)
    test_mean, test_logvar, _ = encode(p, x_test)
    train_std = np.exp(0.5 * train_logvar)
    test_std = np.exp(0.5 * test_logvar)

    arrays = {
        "train_mean": train_mean, "train_std": train_std,
        "test_mean": test_mean, "test_std": test_std,
        "test_images": x_test,
    }
    arrays.update(p)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **arrays)

    # Report on the float32 arrays as written.
    a = {k: v.astype(np.float64) for k, v in arrays.items()}
    kl = kl_bits(a["test_mean"], a["test_std"])
    kl_img = kl.sum(axis=1)
    kl_dim = kl.mean(axis=0)
    rng = np.random.default_rng(args.seed + 1)
    z_sample = a["test_mean"] + a["test_std"] * rng.standard_normal(a["test_mean"].shape)
    psnr_mean = psnr(a["test_images"], decode(a, a["test_mean"])[0])
    psnr_sample = psnr(a["test_images"], decode(a, z_sample)[0])

    print(f"trained in {t_train:.1f} s; wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    print(f"test KL bits/image: mean {kl_img.mean():.2f}  min {kl_img.min():.2f}  max {kl_img.max():.2f}")
    print("test KL bits per dim (mean over images): "
          + " ".join(f"{v:.2f}" for v in np.sort(kl_dim)[::-1]))
    print(f"dims with mean test KL < 0.1 bit: {int(np.sum(kl_dim < 0.1))} of {LATENT}")
    print(f"test stds > 1: {int(np.sum(a['test_std'] > 1.0))} of {a['test_std'].size} "
          f"(max {a['test_std'].max():.4f})")
    print(f"PSNR decode(posterior mean): {psnr_mean.mean():.2f} dB")
    print(f"PSNR decode(posterior sample): {psnr_sample.mean():.2f} dB")


if __name__ == "__main__":
    main()
