"""REC against universal quantization at equal PSNR, over many seeds, on the digits VAE.

``reccodec bench rate`` compares one seed: UQ's step is bisected to the PSNR of that seed's
REC samples. A posterior sample's PSNR varies from seed to seed by a few hundredths of a dB,
and near this PSNR UQ's bits change fast with it, so one seed's comparison is mostly that
seed's luck. This script trains the model once (seed 1, as ``bench rate``), codes the 300
test images with coding seeds 1..S, and compares their means with UQ at the step whose
PSNR, averaged over dither seeds 1..S, equals REC's mean PSNR. It also prints the slope of
UQ's bits against PSNR there, the range of UQ's bits over REC's mean PSNR -/+ two standard
errors, and the per-seed comparison of ``bench rate`` (UQ and REC with the same seed).

    python bench/uq_over_seeds.py --seeds 16
"""

import argparse
import math

import numpy as np

from rec_codec import digits_vae
from rec_codec.batch import encode_batch
from rec_codec.bench_rate import largest_step, uq_at_psnr, uq_component_bits, uq_of_means, uq_settings
from rec_codec.training import train_model


def mean_and_error(values):
    """The mean and its standard error."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16, help="coding seeds 1..S (and dither seeds 1..S)")
    args = parser.parse_args()
    vae = digits_vae.load()
    images, count = vae.test_images, len(vae.test_mean)

    def psnr(latents):
        return float(digits_vae.psnr(images, vae.decode(latents)).mean())

    model = train_model(vae.train_mean, vae.train_std, seed=1)
    seeds = range(1, args.seeds + 1)
    rec_bits, rec_psnr = [], []
    for seed in seeds:
        result = encode_batch(vae.test_mean, vae.test_std, model, seed)
        rec_bits.append(8 * len(result.container) / count)
        rec_psnr.append(psnr(result.samples))
    width, prior_mean, prior_std = uq_settings(vae.train_mean, vae.train_std)

    def uq(c, components=False):
        """Per dither seed: UQ's bits per image, PSNR and (with ``components``) bits under the
        model's components."""
        bits, quality, under_components = [], [], []
        for seed in seeds:
            result, reconstruction = uq_of_means(vae.test_mean, width, c, seed, prior_mean, prior_std)
            bits.append(8 * len(result.data) / count)
            quality.append(psnr(reconstruction))
            if components:
                under_components.append(float(uq_component_bits(reconstruction, c * width, model).mean()))
        return bits, quality, under_components

    def step_at(target):
        return largest_step(lambda c: np.mean(uq(c)[1]) >= target)

    (bits_mean, bits_err), (psnr_mean, psnr_err) = mean_and_error(rec_bits), mean_and_error(rec_psnr)
    c = step_at(psnr_mean)
    bits, quality, components = uq(c, components=True)
    print(f"digits VAE, 300 test images, {args.seeds} seeds; mean -/+ standard error over the seeds")
    print(f"{'':<38}{'bits per image':>18}{'PSNR dB':>20}")
    print(f"{'REC, model sp-pfr container':<38}{bits_mean:>10.2f} -/+ {bits_err:.2f}"
          f"{psnr_mean:>13.4f} -/+ {psnr_err:.4f}")
    for name, values in ((f"UQ file, step {c:.3f} std", bits), ("UQ under the model's components", components)):
        m, e = mean_and_error(values)
        q, qe = mean_and_error(quality)
        print(f"{name:<38}{m:>10.2f} -/+ {e:.2f}{q:>13.4f} -/+ {qe:.4f}")
    around = [np.mean(uq(step_at(psnr_mean + k * psnr_err))[0]) for k in (-2, 2)]
    print(f"UQ file at REC's mean PSNR -/+ 2 standard errors: {around[0]:.2f} to {around[1]:.2f} bits per image "
          f"({(around[1] - around[0]) / (4 * psnr_err):.0f} bits per dB)")
    paired = [8 * len(uq_at_psnr(vae.test_mean, width, seed, vae, images, target, prior_mean, prior_std)[0].data)
              / count for seed, target in zip(seeds, rec_psnr)]
    wins = sum(r < u for r, u in zip(rec_bits, paired))
    print(f"per seed, UQ bisected to that seed's REC PSNR (bench rate's way): UQ {np.mean(paired):.2f} bits per "
          f"image on average, REC fewer bits on {wins} of {args.seeds} seeds")


if __name__ == "__main__":
    main()
