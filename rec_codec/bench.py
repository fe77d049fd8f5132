"""What ``reccodec bench`` runs: kernel throughput, start-up times, and steps/bits against KL.

Every figure is measured in the run that reports it; ratios compare implementations run
side by side on the same machine, never against numbers from elsewhere.
"""

import math
import os
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from scipy import optimize, stats

from . import codec, digits_vae, training
from .distributions import DiagonalGaussian, dinf_bits, kl_bits, log_ratio_coefficients, standard_normal_like
from .errors import InputError
from .interrupts import run_search
from .kernels.ceiling import philox_blocks
from .kernels.block_search import orc_blocks, pfr_blocks
from .pfr_numpy import pfr_block_numpy
from .reference import pfr_reference
from .rng import split_seed

__all__ = [
    "THROUGHPUT_COLUMNS",
    "STARTUP_COLUMNS",
    "STEPS_COLUMNS",
    "latent_posteriors",
    "gaussian_with_dinf",
    "gaussian_with_kl",
    "throughput",
    "startup",
    "steps",
    "format_table",
    "format_csv",
    "plot_steps",
]

THROUGHPUT_COLUMNS = ("impl", "dims", "dinf_bits", "candidates", "seconds", "candidates_per_second", "of_ceiling",
                      "speedup")
STARTUP_COLUMNS = ("command", "algorithm", "cold_seconds", "warm_seconds")
STEPS_COLUMNS = ("algorithm", "dims", "kl_bits", "dinf_bits", "blocks", "mean_steps", "median_steps",
                 "mean_bits", "bits_bound", "ks_stat", "encode_seconds", "log2_prod_m")
_LN2 = math.log(2.0)
_OFFSET = 0.5  # target mean offset, in prior standard deviations


def latent_posteriors(dims, count, seed=0, collapsed=0.25):
    """Posteriors of a VAE-like latent against the prior N(0, 1), shape (count, dims).

    z ~ N(0, 1) per dimension is observed as x = z + N(0, tau_d^2), tau_d ~ U(0.05, 0.6);
    a fraction ``collapsed`` of the dimensions carry no information (tau = 1e6). Each target
    is the exact posterior of z given one x, so its KL is what a VAE would pay.
    """
    g = np.random.default_rng(seed)
    tau = g.uniform(0.05, 0.6, dims)
    tau[g.permutation(dims)[: int(collapsed * dims)]] = 1e6
    z = g.normal(size=(count, dims))
    x = z + g.normal(size=(count, dims)) * tau
    precision = 1.0 + 1.0 / tau**2
    return DiagonalGaussian(x / tau**2 / precision, np.broadcast_to(1.0 / np.sqrt(precision), (count, dims)))


def gaussian_with_dinf(dims, dinf):
    """A target of ``dims`` equal dimensions, mean 0.5, whose D_inf against N(0,1) is ``dinf`` bits."""
    per_dim = dinf * _LN2 / dims

    def excess(log_sigma):
        sigma2 = math.exp(2 * log_sigma)
        return -log_sigma + _OFFSET**2 / (2 * (1 - sigma2)) - per_dim

    upper = math.log(0.5)  # the root with sigma < 0.5, where -log(sigma) dominates
    if excess(upper) >= 0:
        raise InputError(f"D_inf {dinf} bits is too small for {dims} dimensions: at least "
                         f"{dims * (excess(upper) + per_dim) / _LN2:.1f} bits are needed")
    log_sigma = optimize.brentq(excess, -60.0, upper)
    return DiagonalGaussian(np.full(dims, _OFFSET), np.full(dims, math.exp(log_sigma)))


def gaussian_with_kl(dims, kl):
    """A target of ``dims`` equal dimensions, mean 0, whose KL against N(0,1) is ``kl`` bits."""
    per_dim = kl * _LN2 / dims
    if per_dim <= 0:
        raise InputError(f"KL must be > 0, got {kl}")
    log_sigma = optimize.brentq(lambda s: -s + (math.exp(2 * s) - 1) / 2 - per_dim, -60.0, -1e-12)
    return DiagonalGaussian(np.zeros(dims), np.full(dims, math.exp(log_sigma)))


def _tile(target, count):
    return DiagonalGaussian(np.tile(target.mean, count), np.tile(target.std, count))


def _best_of(repeat, work):
    """(result, fastest seconds) of ``repeat`` runs of work(): the least disturbed run."""
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return result, best


def _kernel_rows(dims, target, blocks, k0, k1, repeat):
    """(impl, candidates, seconds) of the PFR and ORC kernels on ``blocks`` copies of target."""
    a, b, c, lrmax = log_ratio_coefficients(target, standard_normal_like((dims,)))
    tiled = [np.tile(x, blocks) for x in (a, b, c, lrmax)]
    ids = np.arange(blocks, dtype=np.int64)
    lengths = np.full(blocks, dims, dtype=np.int64)
    orc_candidates = 2 ** min(int(math.ceil(float(dinf_bits(target, standard_normal_like((dims,))).sum()))) + 2, 60)

    k0s, k1s = np.full(blocks, k0), np.full(blocks, k1)

    def steps_of(count, n_orc):  # the blocks on the caller's thread count, as the codec runs them
        indices, steps = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
        if n_orc == 0:
            run_search(count, lambda lo, hi, stop, done: pfr_blocks(k0s, k1s, ids, ids * dims, lengths, *tiled, 2**40,
                                                                    stop, done, lo, hi, indices, steps))
        else:
            run_search(count, lambda lo, hi, stop, done: orc_blocks(k0, k1, ids, ids * dims, lengths, *tiled, n_orc,
                                                                    stop, done, lo, hi, indices, steps))
        return int(steps.sum())

    measured = []
    for impl, n_orc in (("pfr", 0), ("orc", orc_candidates)):
        steps_of(1, n_orc)  # compile
        steps, seconds = _best_of(repeat, lambda: steps_of(blocks, n_orc))
        measured.append((impl, steps, seconds))
    return measured


def _encode_rows(latent, seed, repeat):
    """(impl, candidates, seconds) of whole encodes of a latent by each algorithm."""
    measured = []
    for algorithm in ("pfr", "orc", "sp-pfr", "hybrid"):
        codec.encode(latent, seed, algorithm=algorithm)  # compile
        result, seconds = _best_of(repeat, lambda: codec.encode(latent, seed, algorithm=algorithm))
        measured.append((f"{algorithm} encode", int(result.steps.sum()), seconds))
    return measured


def _numpy_rows(target, blocks, seed, repeat):
    a, b, c, lrmax = log_ratio_coefficients(target, standard_normal_like(target.shape))
    measured = []
    for impl in ("numpy", "numpy-generator"):
        def run():
            generator = np.random.Generator(np.random.Philox(seed)) if impl == "numpy-generator" else None
            return sum(pfr_reference(a, b, c, lrmax, seed, blk, generator=generator)[1] for blk in range(blocks))
        total, seconds = _best_of(repeat, run)
        measured.append((impl, int(total), seconds))
    total, seconds = _best_of(repeat, lambda: sum(pfr_block_numpy(seed, blk, a, b, c, lrmax, 2**40, 2**40)[1]
                                                  for blk in range(blocks)))
    measured.append(("pfr-numpy", int(total), seconds))
    return measured


def _rows(measured, dims, dinf, baseline):
    rates = {impl: total / secs for impl, total, secs in measured}
    return [{"impl": impl, "dims": dims, "dinf_bits": dinf, "candidates": total, "seconds": round(secs, 4),
             "candidates_per_second": round(rates[impl]), "of_ceiling": round(rates[impl] / rates["philox"], 4),
             "speedup": round(rates[impl] / rates[baseline], 2)} for impl, total, secs in measured]


def throughput(dims_list, dinf_bits=20.0, blocks=6, threads=1, seed=1, repeat=3, ceiling_calls=2**25,
               latent_dims=32, latent_items=16):
    """Candidates per second of every search kernel beside the raw Philox rate, in one run.

    Rows for each dimension count, all on the same target (equal dimensions, D_inf
    ``dinf_bits``): ``philox`` (Philox4x32-10 calls in a tight loop, one per candidate: the
    ceiling), ``pfr`` and ``orc`` (the kernels on ``threads`` threads), ``numpy`` (the
    reference PFR on the same shared Philox stream) and ``numpy-generator`` (the reference
    drawing from numpy's own Philox generator) and ``pfr-numpy`` (``pfr_numpy``, the search
    of small pfr jobs: the kernel's candidates, in numpy); ``speedup`` is over the numpy row. Then, on
    one VAE-like latent (``latent_posteriors``, flattened, default blocks), whole encodes by
    pfr, orc, sp-pfr and hybrid (steps over wall time of ``codec.encode``; ``speedup`` is
    over pfr's). ``of_ceiling`` is a row's rate over the philox row's of the same group.

    Args:
        dims_list (list of int): dimensions per block.
        dinf_bits (float): D_inf of each block; PFR's steps grow as 2^D_inf.
        blocks (int): blocks per measurement.
        threads (int): numba threads for the kernel and encode rows.
        seed (int): seed of the shared stream.
        repeat (int): runs of each measurement; the fastest counts.
        ceiling_calls (int): Philox calls of the ceiling measurement.
        latent_dims, latent_items (int): the latent of the encode rows (0 dims: no such rows).
    Returns:
        list of dict rows with keys THROUGHPUT_COLUMNS.
    """
    rows = []
    k0, k1 = split_seed(seed)
    previous_threads = numba.get_num_threads()
    try:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        philox_blocks(16, 0, k0, k1)  # compile
        for dims in dims_list:
            target = gaussian_with_dinf(dims, dinf_bits)
            _, seconds = _best_of(repeat, lambda: philox_blocks(ceiling_calls, 0, k0, k1))
            measured = [("philox", ceiling_calls, seconds)]
            measured += _kernel_rows(dims, target, blocks, k0, k1, repeat)
            measured += _numpy_rows(target, blocks, seed, repeat)
            rows += _rows(measured, dims, round(dinf_bits, 2), "numpy")
        if latent_dims:
            latent = latent_posteriors(latent_dims, latent_items, seed=seed)
            latent = DiagonalGaussian(np.asarray(latent.mean).ravel(), np.asarray(latent.std).ravel())
            _, seconds = _best_of(repeat, lambda: philox_blocks(ceiling_calls, 0, k0, k1))
            measured = [("philox", ceiling_calls, seconds)] + _encode_rows(latent, seed, repeat)
            rows += _rows(measured, f"{latent_items}x{latent_dims} latent", "", "pfr encode")
    finally:
        numba.set_num_threads(previous_threads)
    return rows


_STARTUP_TARGET = {"mean": np.linspace(-0.8, 0.8, 16), "std": np.linspace(0.2, 0.6, 16)}
# a pfr job past ``pfr_numpy.DEFAULT_BUDGET`` candidates: its search loads the numba kernel
_STARTUP_KERNEL_TARGET = {"mean": np.tile(_STARTUP_TARGET["mean"], 32), "std": np.tile(_STARTUP_TARGET["std"], 32)}


def _wall(argv, env):
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise InputError(f"{' '.join(argv[3:])} failed: {done.stderr.decode(errors='replace').strip()}")
    return seconds


def startup(algorithms=("pfr", "orc", "sp-pfr", "sp-orc", "hybrid"), repeat=3, seed=7):
    """Wall seconds of ``reccodec`` commands in fresh processes: cold and warm, per algorithm.

    ``cold`` runs start with an empty numba cache (a new NUMBA_CACHE_DIR), so they include
    compiling every kernel they run; ``warm`` runs reuse that cache (best of ``repeat``).
    Each algorithm encodes a 16-dimension target and decodes the file; ``--help`` and
    ``--version`` are timed too. A small pfr job is searched in numpy (``pfr_numpy``), so
    pfr is timed on a 512-dimension target too ("pfr, 512 dims"), whose search needs the
    numba kernel. With sp-pfr, one test item of the bundled digits VAE is coded with a
    codec model made from its training posteriors ("sp-pfr, model item": a record
    file; the model is made before the timing).

    Args:
        algorithms (list of str): algorithms to time.
        repeat (int): warm runs of each command; the fastest counts.
        seed (int): the shared seed.
    Returns:
        list of dict rows with keys STARTUP_COLUMNS.
    """
    command = [sys.executable, "-m", "reccodec_cli.main"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small, large = os.path.join(tmp, "target.npz"), os.path.join(tmp, "large.npz")
        np.savez(small, **_STARTUP_TARGET)
        np.savez(large, **_STARTUP_KERNEL_TARGET)
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba-cache"))
        for name, args in (("--help", ["--help"]), ("--version", ["--version"])):
            rows.append({"command": name, "algorithm": "", "cold_seconds": "",
                         "warm_seconds": round(min(_wall(command + args, env) for _ in range(repeat)), 3)})
        jobs = []
        for algorithm in algorithms:
            jobs.append((algorithm, ["--algorithm", algorithm], small))
            if algorithm == "pfr":
                jobs.append(("pfr, 512 dims", ["--algorithm", "pfr"], large))
            if algorithm == "sp-pfr":
                item, model = os.path.join(tmp, "item.npz"), os.path.join(tmp, "digits.rcm")
                vae = digits_vae.load()
                np.savez(item, mean=vae.test_mean[0], std=vae.test_std[0])
                with open(model, "wb") as f:
                    f.write(training.train_model(vae.train_mean, vae.train_std, seed=0).to_bytes())
                jobs.append(("sp-pfr, model item", ["--model", model], item))
        for i, (label, options, target) in enumerate(jobs):
            rec = os.path.join(tmp, f"{i}.rec")
            out = os.path.join(tmp, f"{i}.npy")
            model_options = options if options[0] == "--model" else []
            encode = command + ["encode", target, "-o", rec, "-f", "--seed", str(seed)] + options
            decode = command + ["decode", rec, "-o", out, "-f", "--seed", str(seed)] + model_options
            cold = [_wall(encode, env), _wall(decode, env)]
            warm = [min(_wall(encode, env) for _ in range(repeat)), min(_wall(decode, env) for _ in range(repeat))]
            for name, c, w in zip(("encode", "decode"), cold, warm):
                rows.append({"command": name, "algorithm": label, "cold_seconds": round(c, 3),
                             "warm_seconds": round(w, 3)})
            rows.append({"command": "encode+decode", "algorithm": label, "cold_seconds": round(sum(cold), 3),
                         "warm_seconds": round(sum(warm), 3)})
    return rows


def steps(algorithms, dims=1, kl_values=(2, 4, 6, 8, 10, 12), blocks=200, seed=0):
    """Steps, payload bits and time against KL, for each algorithm, through the real codec.

    For each KL, ``blocks`` copies of one target (mean 0, equal std per dimension) are
    encoded as one file with one block per copy; bits are the file's payload bits per block.
    ``ks_stat`` is the Kolmogorov-Smirnov statistic of the standardised samples against
    N(0,1): sampling noise for exact PFR, noise plus bias for ORC.

    Args:
        algorithms (list of str): "pfr", "orc", "hybrid" (bits include the header bits of M).
        dims (int): dimensions per block.
        kl_values (list of float): KL of a block in bits.
        blocks (int): blocks (independent samples) per row.
        seed (int): shared seed.
    Returns:
        list of dict rows with keys STEPS_COLUMNS.
    """
    known = codec.ALGORITHMS
    for algorithm in algorithms:
        if algorithm not in known:
            raise InputError(f"unknown algorithm {algorithm!r}; choose from {', '.join(known)}")
    rows = []
    for kl in kl_values:
        one = gaussian_with_kl(dims, kl)
        target = _tile(one, blocks)
        prior = standard_normal_like(target.shape)
        dinf = float(dinf_bits(one, standard_normal_like((dims,))).sum())
        for algorithm in algorithms:
            result = codec.encode(target, seed, prior=prior, algorithm=algorithm, block_dims=dims)
            standardised = (result.sample - target.mean) / target.std
            rows.append({
                "algorithm": algorithm,
                "dims": dims,
                "kl_bits": round(float(kl_bits(one, standard_normal_like((dims,))).sum()), 3),
                "dinf_bits": round(dinf, 3),
                "blocks": blocks,
                "mean_steps": round(float(result.steps.mean()), 1),
                "median_steps": float(np.median(result.steps)),
                # hybrid: the header bytes that describe the widths M count too
                "mean_bits": round((result.payload_bits + result.extra.get("m_bits", 0)) / blocks, 3),
                "bits_bound": round(kl + math.log2(kl + 1) + 4, 3),
                "ks_stat": round(float(stats.kstest(standardised, "norm").statistic), 4),
                "encode_seconds": round(result.seconds, 4),
                "log2_prod_m": result.extra.get("mean_log2_m", ""),
            })
    return rows


def format_table(rows, columns):
    """A plain-text table of the rows, one line per row."""
    cells = [[str(c) for c in columns]] + [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths)] + lines[1:])


def format_csv(rows, columns):
    """The rows as CSV text with a header line."""
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'reccodec[plot]'") from None
    return plt


def plot_steps(rows, path):
    """Plot mean steps (log scale) against KL and D_inf, one line per algorithm."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for algorithm in sorted({r["algorithm"] for r in rows}):
        mine = [r for r in rows if r["algorithm"] == algorithm]
        ax.plot([r["kl_bits"] for r in mine], [r["mean_steps"] for r in mine], "o-", label=f"{algorithm} mean steps")
    first = sorted({r["algorithm"] for r in rows})[0]
    ref = [r for r in rows if r["algorithm"] == first]
    ax.plot([r["kl_bits"] for r in ref], [2 ** r["dinf_bits"] for r in ref], "k--", label="2^D_inf")
    ax.set_yscale("log")
    ax.set_xlabel("KL(Q||P) per block [bits]")
    ax.set_ylabel("candidates examined")
    ax.set_title(f"steps against KL, {rows[0]['dims']}-D Gaussian targets")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
