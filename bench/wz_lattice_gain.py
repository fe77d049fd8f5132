"""How much do vector codes gain over nested scalar quantization, on a Wyner-Ziv source?

The learned compressor's target on ``y=x+n:laplace`` asks for 1 dB over nsq designed for
the source's Gaussian fit. That source is close to its fit (see RESULTS), so such a gain
would have to come from coding several samples together, a gain that owes nothing to the
source's law. This script measures that gain with nested lattice codes in blocks of n
samples: a fine lattice s L, with a subtractive dither uniform over its cell, and the
coarse lattice k s L, whose k^n cosets are sent in R = log2(k) bits a sample (a fixed-rate
code). L is Z (n = 1, the scalar code), D4 (n = 4) or E8 (n = 8). The decoder takes the
coset's point nearest to y + dither and combines it linearly with y. The scale s and the
combination are fitted on one half of the draws and measured on the other, next to nsq
designed for the Gaussian fit (with its own decoder) on the same half.

    python bench/wz_lattice_gain.py --source y=x+n:laplace --rates 1,2
"""

import argparse
import math

import numpy as np

from rec_codec import bench_wz, wz_sources

LATTICES = {"Z": 1, "D4": 4, "E8": 8}
SCALES = np.geomspace(0.1, 2.0, 40)


def nearest_dn(v):
    """Nearest point of D_n (integer vectors of even sum) to each row of v (Conway and Sloane)."""
    f = np.round(v)
    odd = np.nonzero(f.sum(axis=1) % 2 != 0)[0]
    err = v - f
    worst = np.argmax(np.abs(err[odd]), axis=1)
    f[odd, worst] += np.where(err[odd, worst] > 0, 1.0, -1.0)
    return f


def nearest(v, lattice):
    """Nearest point of Z^n, D4 or E8 (= D8 and D8 + 1/2) to each row of v."""
    if lattice == "Z":
        return np.round(v)
    if lattice == "D4":
        return nearest_dn(v)
    a, b = nearest_dn(v), nearest_dn(v - 0.5) + 0.5
    closer = ((v - a) ** 2).sum(axis=1) <= ((v - b) ** 2).sum(axis=1)
    return np.where(closer[:, None], a, b)


def nested_code(x, y, lattice, scale, k, rng):
    """Per block of n samples: (the decoded fine point minus the dither, y), both [samples]."""
    n = LATTICES[lattice]
    x, y = x.reshape(-1, n), y.reshape(-1, n)
    u = rng.uniform(-2.0, 2.0, x.shape)  # 4 Z^n lies in each lattice: u mod L is uniform on its cell
    dither = scale * (u - nearest(u, lattice))
    fine = scale * nearest((x + dither) / scale, lattice)
    coset = fine - k * scale * nearest(fine / (k * scale), lattice)
    decoded = coset + k * scale * nearest((y + dither - coset) / (k * scale), lattice)
    return (decoded - dither).ravel(), y.ravel()


def fitted_mse(fit, evaluate):
    """MSE on ``evaluate`` of the least-squares combination a e + b y + c fitted on ``fit``;
    each is (e, y, x)."""
    def design(e, y):
        return np.stack([e, y, np.ones_like(e)], axis=1)
    coef, *_ = np.linalg.lstsq(design(*fit[:2]), fit[2], rcond=None)
    return float(np.mean((design(*evaluate[:2]) @ coef - evaluate[2]) ** 2))


def lattice_db(x, y, lattice, k, seed):
    """The best scale's MSE in dB on the second half, scale and combination fitted on the first."""
    half = x.size // 2
    parts = [(x[:half], y[:half]), (x[half:], y[half:])]

    def run(scale, part, salt):
        e, yy = nested_code(*part, lattice, scale, k, np.random.default_rng([seed, salt]))
        return e, yy, part[0]

    def fitted(scale):
        coded = run(scale, parts[0], 0)
        return fitted_mse(coded, coded)

    best = min(SCALES, key=fitted)
    mse = fitted_mse(run(best, parts[0], 0), run(best, parts[1], 1))
    return 10 * math.log10(mse), best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="y=x+n:laplace", help="a bench wz source (default y=x+n:laplace)")
    parser.add_argument("--rates", default="1,2", help="bits per sample, whole numbers")
    parser.add_argument("--samples", type=int, default=400_000, help="draws, half to fit and half to measure")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    samples = args.samples - args.samples % 16
    other = wz_sources.source(args.source)
    gaussian = other.gaussian_fit if other else bench_wz.parse_source(args.source)
    rng = np.random.default_rng(args.seed)
    x, y = (other or gaussian).sample(samples, rng)
    half = samples // 2
    print(f"{args.source}: {samples} draws; MSE in dB on the second half")
    print(f"{'rate':>4} {'nsq (Gaussian fit)':>19}" + "".join(f"{name:>16}" for name in LATTICES))
    for rate in (int(r) for r in args.rates.split(",")):
        nsq = bench_wz.designed_row_run(gaussian, "nsq", rate, x[half:], y[half:], args.seed, None)[2]
        nsq_db = 10 * math.log10(float(np.mean((nsq - x[half:]) ** 2)))
        cells = []
        for name in LATTICES:
            db, scale = lattice_db(x, y, name, 2 ** rate, args.seed)
            cells.append(f"{db:8.2f} ({db - nsq_db:+.2f})")
        print(f"{rate:>4} {nsq_db:>19.2f}" + "".join(f"{c:>16}" for c in cells))
    print("(in brackets: dB against nsq; negative is better)")


if __name__ == "__main__":
    main()
