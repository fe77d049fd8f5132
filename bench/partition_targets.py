"""Measure the space-partitioning targets and print the Markdown tables of bench/RESULTS.md.

    python bench/partition_targets.py [--quick] [--seeds 1,2,3,4,5]

1. DESIGN's synthetic 5-D study at I = 12 bits (one collapsed dimension): PFR against SP-PFR
   with the MI profile, mean/median steps and payload bits per block, in one run.
2. A 1,000-dimension VAE-like latent (rec_codec.bench.latent_posteriors, seed 2026; the MI
   profile is the mean KL of 64 other latents of the same kind): 16-bit PFR blocks against
   SP-PFR and SP-ORC at several block budgets, file bits and encode seconds (warm), with
   D_inf(Q||P') per block, which sets SP-PFR's steps, and SP-PFR's halvings of blocks over
   its D_inf(Q||P') limit (None: no halving). A configuration that would run past
   --max-steps 2^26 is reported as refused. ``--seeds 1,2,3`` repeats every row per seed.
"""

import argparse
import time

import numpy as np

from rec_codec import codec
from rec_codec.bench import latent_posteriors
from rec_codec.bench_partition import synthetic_posteriors
from rec_codec.distributions import DiagonalGaussian
from rec_codec.errors import InputError
from rec_codec.partition import DEFAULT_DINF_LIMIT_BITS, mi_profile_from_batch


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


def latent(configs, seeds):
    batch = latent_posteriors(1000, 65, seed=2026)
    target = DiagonalGaussian(batch.mean[0], batch.std[0])
    profile = mi_profile_from_batch(DiagonalGaussian(batch.mean[1:], batch.std[1:]))
    print("| algorithm | block bits | D_inf' limit | blocks (halved) | halving bits | file bits | vs 16-bit PFR | "
          "mean D_inf(Q||P') | mean steps | max steps | encode (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = {}
    for algorithm, block_bits, limit in configs:
        prof = profile if algorithm.startswith("sp") else None
        options = {"dinf_limit": limit} if algorithm == "sp-pfr" else {}
        small = DiagonalGaussian(target.mean[:8], target.std[:8])
        try:  # compile outside the timing
            codec.encode(small, 1, algorithm=algorithm, block_bits=block_bits,
                         mi_profile=None if prof is None else prof[:8], **options)
        except InputError:
            pass
        for seed in seeds:
            started = time.perf_counter()
            try:
                r = codec.encode(target, seed, algorithm=algorithm, block_bits=block_bits, mi_profile=prof,
                                 max_steps=2**26, **options)
            except InputError as e:
                print(f"| {algorithm} | {block_bits:g} | {limit if options else ''} | | | refused: {e} | | | | | |")
                break
            secs = time.perf_counter() - started
            assert np.array_equal(codec.decode(r.data, seed, mi_profile=prof), r.sample)
            base.setdefault(seed, r.bits)
            s = r.summary()
            halved = f" ({s['halved_blocks']})" if "halved_blocks" in s else ""
            print(f"| {algorithm} | {block_bits:g} | {limit if options else ''} | {s['blocks']}{halved} | "
                  f"{s.get('halving_bits', '')} | {r.bits} | {r.bits / base[seed]:.3f} | "
                  f"{s.get('dinf_partitioned_bits', '')} | {s['mean_steps']:.0f} | {int(r.steps.max())} | {secs:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", default="5", help="comma-separated shared seeds of the latent rows")
    args = parser.parse_args()
    synthetic(200 if args.quick else 1000)
    limit = DEFAULT_DINF_LIMIT_BITS
    configs = [("pfr", 16, None), ("sp-pfr", 12, limit), ("sp-pfr", 16, limit), ("sp-pfr", 24, limit),
               ("sp-pfr", 32, limit), ("sp-pfr", 48, limit), ("sp-pfr", 32, 22.0), ("sp-pfr", 32, None),
               ("sp-orc", 32, None)]
    latent(configs, [int(x) for x in args.seeds.split(",")])


if __name__ == "__main__":
    main()
