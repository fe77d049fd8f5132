"""Measure the core codec's targets and print them as Markdown tables for RESULTS.md.

    python bench/core_targets.py [--quick]

1. Thread scaling: 64 PFR blocks (4-D, D_inf 19 bits) encoded on 1 thread and on 2 threads, as a ratio.
2. A 1,000-dimension VAE-like latent with 16-bit blocks: Zipf payload bits per block against
   KL + log2(KL+1) + 1, over several seeds; an empirical index model fitted on 64 other
   latents of the same kind: file bits against 1.15 x KL plus the header.
3. The CLI as a user runs it (new processes): cold (empty numba cache) and warm encode and
   decode of that latent.
4. Peak resident memory of encoding a 100,000-dimension latent (in a fresh process).
5. The empirical index model on identical 16-bit blocks of 1, 3 and 6 dimensions, against Zipf.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

from rec_codec import codec
from rec_codec.bench import gaussian_with_dinf, gaussian_with_kl, latent_posteriors
from rec_codec.distributions import DiagonalGaussian
from rec_codec.training import fit_index_model


def thread_scaling(blocks=64):
    one = gaussian_with_dinf(4, 19.0)
    target = DiagonalGaussian(np.tile(one.mean, blocks), np.tile(one.std, blocks))
    codec.encode(target, 1, block_dims=4)  # compile
    seconds = {}
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            best = math.inf
            for _ in range(3):
                started = time.perf_counter()
                result = codec.encode(target, 1, block_dims=4)
                best = min(best, time.perf_counter() - started)
            seconds[threads] = best
    finally:
        numba.set_num_threads(before)
    print("| blocks | dims per block | D_inf per block | mean steps | 1 thread (s) | 2 threads (s) | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {blocks} | 4 | 19.0 | {result.steps.mean():.0f} | {seconds[1]:.3f} | {seconds[2]:.3f} | "
          f"{seconds[1] / seconds[2]:.2f}x |")


def latent_bits(seeds):
    batch = latent_posteriors(1000, 65, seed=2026)
    target = DiagonalGaussian(batch.mean[0], batch.std[0])
    train = DiagonalGaussian(batch.mean[1:], batch.std[1:])
    print("| seed | blocks | KL (bits) | KL per block | Zipf payload per block (no layout) | bound KL+log2(KL+1)+1 | layout bits | header bits | file bits | file / KL | encode (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in seeds:
        r = codec.encode(target, seed)
        nb = r.layout.num_blocks
        per_block_kl = r.kl_bits / nb
        per_block = (r.payload_bits - r.layout_bits) / nb
        bound = per_block_kl + math.log2(per_block_kl + 1) + 1
        print(f"| {seed} | {nb} | {r.kl_bits:.1f} | {per_block_kl:.2f} | {per_block:.2f} | {bound:.2f} | "
              f"{r.layout_bits:.0f} | {r.header_bits} | {r.bits} | {r.bits / r.kl_bits:.3f} | {r.seconds:.2f} |")
    started = time.perf_counter()
    model = fit_index_model(train, seed=1)
    fit_seconds = time.perf_counter() - started
    print()
    print(f"Empirical index model fitted on 64 other latents in {fit_seconds:.1f} s "
          f"({model.training_indices} block indices).")
    print()
    print("| seed | KL (bits) | header bits | layout bits | index bits | file bits | (file - header - layout) / KL | file / KL | 1.15 x KL + header + layout |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in seeds:
        r = codec.encode(target, seed, index_model=model)
        index_bits = r.payload_bits - r.layout_bits
        print(f"| {seed} | {r.kl_bits:.1f} | {r.header_bits} | {r.layout_bits:.0f} | {index_bits:.0f} | {r.bits} | "
              f"{index_bits / r.kl_bits:.3f} | {r.bits / r.kl_bits:.3f} | "
              f"{1.15 * r.kl_bits + r.header_bits + r.layout_bits:.0f} |")
    return target


def _timed(args, env=None):
    started = time.perf_counter()
    subprocess.run(args, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def cli_timing(target):
    folder = tempfile.mkdtemp()
    try:
        np.savez(os.path.join(folder, "t.npz"), mean=target.mean, std=target.std)
        rec, out = os.path.join(folder, "t.rec"), os.path.join(folder, "s.npy")
        cache = os.path.join(folder, "numba-cache")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cli = [sys.executable, "-m", "reccodec_cli.main"]
        enc = cli + ["encode", os.path.join(folder, "t.npz"), "-o", rec, "--seed", "5", "-f", "-q"]
        dec = cli + ["decode", rec, "-o", out, "--seed", "5", "-f"]
        cold = (_timed(enc, env), _timed(dec, env))
        warm = min(((_timed(enc, env), _timed(dec, env)) for _ in range(3)), key=sum)
        startup = min(_timed(cli + ["--version"], env) for _ in range(3))
        started = time.perf_counter()
        result = codec.encode(target, 5)
        in_process = (time.perf_counter() - started,)
        started = time.perf_counter()
        codec.decode(result.data, 5)
        in_process += (time.perf_counter() - started,)
    finally:
        shutil.rmtree(folder)
    print("| run | encode (s) | decode (s) | encode + decode (s) |")
    print("|---|---:|---:|---:|")
    print(f"| CLI, cold (empty numba cache: JIT compiles) | {cold[0]:.2f} | {cold[1]:.2f} | {sum(cold):.2f} |")
    print(f"| CLI, warm (cached kernels) | {warm[0]:.2f} | {warm[1]:.2f} | {sum(warm):.2f} |")
    print(f"| in-process library call, warm | {in_process[0]:.2f} | {in_process[1]:.3f} | {sum(in_process):.2f} |")
    print()
    print(f"`reccodec --version` alone (interpreter and imports): {startup:.2f} s.")


MEMORY_SCRIPT = """
import resource, sys, time
from rec_codec import codec
from rec_codec.bench import gaussian_with_dinf, gaussian_with_kl, latent_posteriors
from rec_codec.distributions import DiagonalGaussian
batch = latent_posteriors(100_000, 1, seed=4)
target = DiagonalGaussian(batch.mean[0], batch.std[0])
started = time.perf_counter()
result = codec.encode(target, 1)
seconds = time.perf_counter() - started
assert codec.decode(result.data, 1).tobytes() == result.sample.tobytes()
print(result.layout.num_blocks, result.kl_bits, result.bits, seconds,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory():
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], check=True, capture_output=True, text=True)
    blocks, kl, bits, seconds, peak_mb = out.stdout.split()
    print("| dims | blocks | KL (bits) | file bits | encode (s) | peak RSS of the process (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| 100000 | {blocks} | {float(kl):.0f} | {bits} | {float(seconds):.1f} | {float(peak_mb):.0f} |")


def identical_blocks(kl=16.0, blocks=300, train=400):
    print("| dims per block | KL per block | Zipf payload per block - KL | empirical payload per block - KL | empirical / KL |")
    print("|---:|---:|---:|---:|---:|")
    for dims in (1, 3, 6):
        one = gaussian_with_kl(dims, kl)
        batch = DiagonalGaussian(np.tile(one.mean, (train, 1)), np.tile(one.std, (train, 1)))
        model = fit_index_model(batch, seed=1, block_dims=dims)
        target = DiagonalGaussian(np.tile(one.mean, blocks), np.tile(one.std, blocks))
        empirical = codec.encode(target, 5, block_dims=dims, index_model=model).payload_bits / blocks
        zipf = codec.encode(target, 5, block_dims=dims).payload_bits / blocks
        print(f"| {dims} | {kl:.1f} | {zipf - kl:.2f} | {empirical - kl:.2f} | {empirical / kl:.3f} |")


SECTIONS = ("threads", "latent", "cli", "memory", "identical")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed for the latent tables")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    args = parser.parse_args()
    sections = args.sections.split(",")
    if "threads" in sections:
        print("### Thread scaling\n")
        thread_scaling()
    target = None
    if "latent" in sections:
        print("\n### 1,000-dimension latent, 16-bit blocks\n")
        target = latent_bits([1] if args.quick else [1, 2, 3, 4, 5])
    if "cli" in sections:
        print("\n### CLI time, 1,000-dimension latent\n")
        if target is None:
            batch = latent_posteriors(1000, 65, seed=2026)
            target = DiagonalGaussian(batch.mean[0], batch.std[0])
        cli_timing(target)
    if "memory" in sections:
        print("\n### Memory, 100,000 dimensions\n")
        memory()
    if "identical" in sections:
        print("\n### Index models on identical 16-bit blocks\n")
        identical_blocks()
    print(json.dumps({"numba_threads": numba.get_num_threads(), "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
