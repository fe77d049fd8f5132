"""Measure the space-partitioning targets and print Markdown tables for RESULTS-partition.md.

    python bench/partition_targets.py [--quick]

1. DESIGN's synthetic 5-D study at I = 12 bits (one collapsed dimension): PFR against SP-PFR
   with the MI profile, mean/median steps and payload bits per block, in one run.
2. A 1,000-dimension VAE-like latent (rec_codec.bench.latent_posteriors, seed 2026; the MI
   profile is the mean KL of 64 other latents of the same kind): 16-bit PFR blocks against
   SP-PFR and SP-ORC at several block budgets, file bits and encode seconds (warm), with
   D_inf(Q||P') per block, which sets SP-PFR's steps. A configuration that would run past
   --max-steps 2^26 is reported as refused.
"""

import argparse
import time

import numpy as np

from rec_codec import codec
from rec_codec.bench import latent_posteriors
from rec_codec.bench_partition import synthetic_posteriors
from rec_codec.distributions import DiagonalGaussian
from rec_codec.errors import InputError
from rec_codec.partition import mi_profile_from_batch


def synthetic(blocks):
    targets, profile = synthetic_posteriors(12.0, blocks, seed=1200)
    flat = DiagonalGaussian(targets.mean.ravel(), targets.std.ravel())
    rows = {}
    for algorithm in ("pfr", "sp-pfr"):
        prof = np.tile(profile, blocks) if algorithm == "sp-pfr" else None
        codec.encode(DiagonalGaussian(flat.mean[:5], flat.std[:5]), 1, algorithm=algorithm, block_dims=5,
                     mi_profile=None if prof is None else prof[:5])  # compile
        started = time.perf_counter()
        result = codec.encode(flat, 1, algorithm=algorithm, block_dims=5, mi_profile=prof)
        rows[algorithm] = (result, time.perf_counter() - started)
    print("| algorithm | blocks | KL per block | mean steps | median steps | payload bits per block | encode (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for algorithm, (r, secs) in rows.items():
        print(f"| {algorithm} | {blocks} | {r.kl_bits / blocks:.2f} | {r.steps.mean():.1f} | {np.median(r.steps):.0f} | "
              f"{r.payload_bits / blocks:.2f} | {secs:.3f} |")
    ratio = rows["pfr"][0].steps.mean() / rows["sp-pfr"][0].steps.mean()
    print(f"\nmean steps PFR / SP-PFR = {ratio:.0f}x; payload bits SP-PFR / PFR = "
          f"{rows['sp-pfr'][0].payload_bits / rows['pfr'][0].payload_bits:.3f}\n")


def latent(configs):
    batch = latent_posteriors(1000, 65, seed=2026)
    target = DiagonalGaussian(batch.mean[0], batch.std[0])
    profile = mi_profile_from_batch(DiagonalGaussian(batch.mean[1:], batch.std[1:]))
    print("| algorithm | block bits | MI profile | blocks | file bits | vs 16-bit PFR | mean D_inf(Q||P') | "
          "mean steps | max steps | encode (s) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for algorithm, block_bits, use_profile in configs:
        prof = profile if use_profile else None
        small = DiagonalGaussian(target.mean[:8], target.std[:8])
        try:  # compile outside the timing
            codec.encode(small, 1, algorithm=algorithm, block_bits=block_bits,
                         mi_profile=None if prof is None else prof[:8])
        except InputError:
            pass
        started = time.perf_counter()
        try:
            r = codec.encode(target, 5, algorithm=algorithm, block_bits=block_bits, mi_profile=prof,
                             max_steps=2**26)
        except InputError as e:
            print(f"| {algorithm} | {block_bits:g} | {'yes' if use_profile else 'no'} | | refused: {e} | | | | | |")
            continue
        secs = time.perf_counter() - started
        assert np.array_equal(codec.decode(r.data, 5, mi_profile=prof), r.sample)
        base = r.bits if base is None else base
        s = r.summary()
        print(f"| {algorithm} | {block_bits:g} | {'yes' if use_profile else 'no'} | {s['blocks']} | {r.bits} | "
              f"{r.bits / base:.3f} | {s.get('dinf_partitioned_bits', '')} | {s['mean_steps']:.0f} | "
              f"{s['max_steps']} | {secs:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    synthetic(200 if args.quick else 1000)
    configs = [("pfr", 16, False), ("sp-pfr", 12, True), ("sp-pfr", 16, True), ("sp-pfr", 20, True),
               ("sp-pfr", 32, True), ("sp-orc", 32, True), ("sp-orc", 24, True)]
    latent(configs)


if __name__ == "__main__":
    main()
