"""Codec model settings over training and coding seeds, on the digits VAE.

One container of the 300 test images costs a few tenths of a bit more or less per image
from one coding seed to the next, and one trained model from the next, about as much as
the settings differ. So each setting here is trained with several training seeds, each
model codes the test images with several coding seeds, and a line gives, per training
seed, the mean container bits per image over the coding seeds, the mean encode time per
image, the training time and the margin the model has. The last column is the mean over
the training seeds, and its ratio to the test images' mean KL.
Run it with one numba thread for per-core times:

    NUMBA_NUM_THREADS=1 python bench/model_defaults.py --settings 20:auto,21:4 --training-seeds 1,2,3,4,5
"""

import argparse
import time

import numpy as np

from rec_codec import digits_vae
from rec_codec.batch import encode_batch
from rec_codec.distributions import DiagonalGaussian, kl_bits
from rec_codec.training import train_model


def run(limit, margin, training_seed, coding_seeds, vae):
    """(mean container bits per image, mean encode ms per image, training s, chosen margin)."""
    started = time.perf_counter()
    model = train_model(vae.train_mean, vae.train_std, seed=training_seed, dinf_limit=limit, margin_bits=margin)
    train_s = time.perf_counter() - started
    encode_batch(vae.test_mean[:2], vae.test_std[:2], model, 0)  # compile and warm the kernels
    count = len(vae.test_mean)
    bits, seconds = [], []
    for seed in coding_seeds:
        started = time.perf_counter()
        result = encode_batch(vae.test_mean, vae.test_std, model, seed)
        seconds.append(time.perf_counter() - started)
        bits.append(8 * len(result.container) / count)
    return float(np.mean(bits)), 1000 * float(np.mean(seconds)) / count, train_s, model.info["margin_bits"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default="20:auto,21:4",
                        help="LIMIT:MARGIN pairs (--dinf-limit, --margin-bits of reccodec train)")
    parser.add_argument("--training-seeds", default="1,2,3,4,5")
    parser.add_argument("--coding-seeds", type=int, default=8, help="coding seeds 1..N per model")
    args = parser.parse_args()
    vae = digits_vae.load()
    kl_mean = float(kl_bits(DiagonalGaussian(vae.test_mean, vae.test_std),
                            DiagonalGaussian(np.zeros_like(vae.test_mean), np.ones_like(vae.test_std))).sum(axis=1).mean())
    training_seeds = [int(s) for s in args.training_seeds.split(",")]
    coding_seeds = range(1, args.coding_seeds + 1)
    print(f"container bits per image (mean of coding seeds 1-{args.coding_seeds}), encode ms per image, "
          "training s and the margin, per training seed")
    for setting in args.settings.split(","):
        limit, margin = setting.split(":")
        margin = margin if margin == "auto" else float(margin)
        cells, means = [], []
        for seed in training_seeds:
            bits, ms, train_s, chosen = run(float(limit), margin, seed, coding_seeds, vae)
            means.append(bits)
            cells.append(f"{bits:.2f} {ms:.1f} ms {train_s:.0f} s m{chosen:g}")
        print(f"limit {limit} margin {margin}: " + " | ".join(cells)
              + f" | mean {np.mean(means):.3f} ({np.mean(means) / kl_mean:.4f}x KL)", flush=True)


if __name__ == "__main__":
    main()
