"""The PFR and ORC kernels of this tree against those of another checkout: the same results,
and the speed of each, in one process.

A kernel change that must not change any output byte is checked here on random blocks
(1-8 dimensions, random means and widths, some dimensions equal to the prior, caps inside
and past a batch), then both versions search the bench's equal-width 5-D target (D_inf 20
bits; ORC with N = 2^22) on one thread, alternating, and the script prints ns per
candidate and the share of the Philox rate measured between them.

    git worktree add /tmp/before d1d16ef
    python bench/pfr_against_checkout.py /tmp/before --blocks 600 --rounds 5
"""

import argparse
import math
import time

import numba
import numpy as np

from rec_codec.bench import gaussian_with_dinf
from rec_codec.distributions import DiagonalGaussian, log_ratio_coefficients, standard_normal_like
from rec_codec.kernels import orc, pfr
from rec_codec.kernels.ceiling import philox_blocks
from rec_codec.rng import split_seed

from checkout import checkout_modules  # bench/checkout.py


def random_blocks(count, seed=5):
    """(a, b, c, lrmax, k0, k1, block, cap) of random blocks whose D_inf is at most 22 bits."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        d = int(rng.integers(1, 9))
        std = np.exp(rng.uniform(-2.5, -0.02, d))
        if rng.random() < 0.2:
            std[rng.integers(0, d)] = 1.0
        mean = rng.normal(0.0, 0.7, d)
        a, b, c, lrmax = log_ratio_coefficients(DiagonalGaussian(mean, std), standard_normal_like((d,)))
        if not np.isfinite(lrmax).all() or lrmax.sum() / math.log(2) > 22:
            continue
        k0, k1 = split_seed(int(rng.integers(0, 2**40)))
        cap = int(rng.choice([2**40, rng.integers(1, 5000), rng.integers(1, 200000)]))
        out.append((a, b, c, lrmax, k0, k1, int(rng.integers(0, 1000)), cap))
    return out


def same_results(blocks, other_pfr, other_orc):
    """Assert both versions give every block the same (index, steps); ORC on every fourth."""
    stop = np.zeros(1, np.int64)
    candidates = 0
    for i, (a, b, c, lrmax, k0, k1, block, cap) in enumerate(blocks):
        here = pfr.pfr_block(k0, k1, block, a, b, c, lrmax, cap, stop)
        there = other_pfr.pfr_block(k0, k1, block, a, b, c, lrmax, cap, stop)
        assert here == there, f"block {i}: pfr gives {here} here, {there} in the checkout"
        if i % 4 == 0:
            n = 2 ** min(22, int(lrmax.sum() / math.log(2)) + 2)
            here = orc.orc_block(k0, k1, block, a, b, c, lrmax, n, stop)
            there = other_orc.orc_block(k0, k1, block, a, b, c, lrmax, n, stop)
            assert here == there, f"block {i}: orc gives {here} here, {there} in the checkout"
        candidates += here[1]
    return candidates


def timed(search, target_blocks, limit, rounds):
    """Best seconds per Philox call and per candidate of each search (limit: its argument
    after lrmax, max_steps or N), alternating."""
    k0, k1 = split_seed(1)
    stop = np.zeros(1, np.int64)
    a, b, c, lrmax = target_blocks
    philox_blocks(16, 0, k0, k1)
    best = {name: math.inf for name in list(search) + ["philox"]}
    steps = 0
    for name, block_search in search.items():
        block_search(k0, k1, 0, a, b, c, lrmax, limit, stop)  # compile
    for _ in range(rounds):
        started = time.perf_counter()
        philox_blocks(2**25, 0, k0, k1)
        best["philox"] = min(best["philox"], (time.perf_counter() - started) / 2**25)
        for name, block_search in search.items():
            started = time.perf_counter()
            steps = sum(block_search(k0, k1, block, a, b, c, lrmax, limit, stop)[1] for block in range(12))
            best[name] = min(best[name], (time.perf_counter() - started) / steps)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", help="a checkout of another commit (its rec_codec folder is used)")
    parser.add_argument("--blocks", type=int, default=600, help="random blocks to compare")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds, alternating")
    args = parser.parse_args()
    numba.set_num_threads(1)
    other_pfr, other_orc = checkout_modules(args.checkout, "kernels.pfr", "kernels.orc")
    blocks = random_blocks(args.blocks)
    candidates = same_results(blocks, other_pfr, other_orc)
    print(f"{len(blocks)} random blocks, {candidates} candidates: the same index and steps in both")
    target = gaussian_with_dinf(5, 20.0)
    coefficients = log_ratio_coefficients(target, standard_normal_like((5,)))
    for kernel, here, there, limit in (("pfr", pfr.pfr_block, other_pfr.pfr_block, 2**40),
                                       ("orc", orc.orc_block, other_orc.orc_block, 2**22)):
        best = timed({"this tree": here, "checkout": there}, coefficients, limit, args.rounds)
        for name in ("checkout", "this tree"):
            print(f"5-D {kernel}, {name}: {1e9 * best[name]:.2f} ns per candidate, "
                  f"{best['philox'] / best[name]:.3f} of the Philox rate")


if __name__ == "__main__":
    main()
