"""The SP-PFR candidate filter on the blocks of real latents: nanoseconds per candidate with
the filter and without it (``filter_dims=0``, the kernel's exact test alone), in one run.

The blocks are those of the 300 digits test images coded under a codec model made from the
training posteriors (``--model`` to use a saved one instead). The script records the
arguments that ``encode_batch`` hands to the kernel, then times the kernel on all the blocks
on one thread, alternating the two settings --rounds times, and checks that both give the
same indices, steps and bins.

    python bench/sp_filter.py --rounds 5
"""

import argparse
import time

import numba
import numpy as np

from rec_codec import digits_vae
from rec_codec.batch import encode_batch
from rec_codec.kernels import partition
from rec_codec.model import load_model
from rec_codec.training import train_model

# the arguments of sp_search_keyed_blocks up to (and without) its per-call ones
_NAMES = ("k0s k1s block_ids starts lengths a b c nbins strides tstart offset cum lrmax_p max_steps out_bins").split()


def recorded_blocks(model, mean, std, seed):
    """The kernel's inputs for every block of the batch, as ``encode_batch`` makes them."""
    recorded = {}
    search = partition.sp_search_keyed_blocks

    def recording(*args):
        if not recorded:
            recorded.update({name: np.array(value) for name, value in zip(_NAMES, args)})
        search(*args)

    partition.sp_search_keyed_blocks = recording
    try:
        encode_batch(mean, std, model, seed)
    finally:
        partition.sp_search_keyed_blocks = search
    return recorded


def timed_search(blocks, filter_dims):
    """(seconds, (local, steps, bins)) of one search of all the blocks."""
    count = blocks["lengths"].shape[0]
    bins = np.zeros_like(blocks["out_bins"])
    local, steps = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    args = [blocks[name] for name in _NAMES[:-2]] + [int(blocks["max_steps"]), bins]
    started = time.perf_counter()
    partition.sp_search_keyed_blocks(*args, np.zeros(1, dtype=np.int64), np.zeros(count, dtype=np.int64), 0, count,
                                     local, steps, filter_dims)
    return time.perf_counter() - started, (local, steps, bins)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a codec model file (default: made from the training posteriors)")
    parser.add_argument("--seed", type=int, default=1, help="the batch's seed and the model's training seed")
    parser.add_argument("--rounds", type=int, default=5, help="timed searches per setting")
    options = parser.parse_args()
    numba.set_num_threads(1)
    vae = digits_vae.load()
    if options.model:
        with open(options.model, "rb") as f:
            model = load_model(f.read())
    else:
        model = train_model(vae.train_mean, vae.train_std, seed=options.seed)
    if model.algorithm != "sp-pfr":
        raise SystemExit(f"error: the model's algorithm is {model.algorithm}, not sp-pfr")
    blocks = recorded_blocks(model, vae.test_mean, vae.test_std, options.seed)
    settings = {"filtered": partition.FILTER_DIMS, "unfiltered": 0}
    seconds = {name: [] for name in settings}
    results = {}
    for name, dims in settings.items():  # compile and warm
        results[name] = timed_search(blocks, dims)[1]
    for _ in range(options.rounds):
        for name, dims in settings.items():
            seconds[name].append(timed_search(blocks, dims)[0])
    same = all(np.array_equal(x, y) for x, y in zip(results["filtered"], results["unfiltered"]))
    candidates = int(results["filtered"][1].sum())
    print(f"{blocks['lengths'].shape[0]} blocks of {vae.test_mean.shape[0]} items, {candidates} candidates, "
          f"same results: {same}")
    print(f"{'search':>10}  {'ns/candidate (best)':>19}  {'median':>6}")
    for name in settings:
        print(f"{name:>10}  {1e9 * min(seconds[name]) / candidates:19.1f}  "
              f"{1e9 * float(np.median(seconds[name])) / candidates:6.1f}")
    print(f"unfiltered / filtered (best): {min(seconds['unfiltered']) / min(seconds['filtered']):.2f}")
    if not same:
        raise SystemExit("error: the filter changed a result")


if __name__ == "__main__":
    main()
