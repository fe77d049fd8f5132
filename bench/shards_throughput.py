"""encode-shards throughput: 1 against 2 local workers, Dask against the local pool.

The digits VAE's 300 test posteriors are repeated (tiled) into --shards shards of
--items items each; every shard has its own name, so its own seed. The script times
``encode_shards`` on:

- ``pool-1``: one worker (this process, one thread);
- ``pool-2``: a local pool of 2 processes (each shard on one thread);
- ``dask-2``: a ``distributed.LocalCluster`` of 2 worker processes of one thread each
  (the cluster's start is not timed; the workers' first import of reccodec is).

It checks that the three give the same bytes, then measures the scheduler's own cost per
task (--noop-tasks tasks that do nothing) and states the Dask overhead per shard against
the local pool and, on paper, the items/s of 100 machines like this one. Each row also
gives the CPU seconds spent (this process and the pool's; not measured for Dask) and the
load average, since on a shared machine the wall-clock speedup is only as good as the
cores that are free.

    python bench/shards_throughput.py --shards 8 --items 300 --json shards.json
"""

import argparse
import glob
import json
import os
import resource
import tempfile
import time

import numpy as np

from rec_codec import digits_vae
from rec_codec.container import read_file
from rec_codec.model import load_model
from rec_codec.shards import encode_shards, summarize
from rec_codec.training import train_model


def _noop(i):
    return i


def make_shards(folder, shards, items):
    vae = digits_vae.load()
    reps = -(-items // vae.test_mean.shape[0])
    mean = np.tile(vae.test_mean, (reps, 1))[:items]
    std = np.tile(vae.test_std, (reps, 1))[:items]
    paths = []
    for i in range(shards):
        path = os.path.join(folder, f"part-{i:04d}.npz")
        np.savez(path, mean=mean, std=std)
        paths.append(path)
    return paths


def _cpu_seconds():
    """CPU seconds of this process and of its finished child processes (a local pool's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label, paths, model, seed, out_dir, **how):
    cpu = _cpu_seconds()
    started = time.perf_counter()
    outcomes = encode_shards(paths, model, seed, out_dir, **how)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    total = summarize(outcomes)
    assert total["encoded"] == len(paths), [o.error for o in outcomes if o.failed]
    row = {"run": label, "shards": len(paths), "items": total["items"], "seconds": round(seconds, 2),
           "items_per_second": round(total["items"] / seconds, 1),
           "shard_seconds_mean": round(total["shard_seconds"] / len(paths), 3),
           "bits_per_item": round(total["bits"] / total["items"], 2),
           "cpu_seconds": round(cpu, 1) if "client" not in how else None,
           "items_per_cpu_second": round(total["items"] / cpu, 1) if "client" not in how else None,
           "load_average": round(os.getloadavg()[0], 1)}
    print(json.dumps(row), flush=True)
    return row


def contents(folder):
    return {os.path.basename(p): read_file(p) for p in sorted(glob.glob(os.path.join(folder, "*.recs")))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--items", type=int, default=300, help="items per shard")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="a codec model file (default: trained here, margin 4 bits)")
    parser.add_argument("--noop-tasks", type=int, default=2000)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        if args.model:
            model = load_model(read_file(args.model))
        else:
            vae = digits_vae.load()
            model = train_model(vae.train_mean, vae.train_std, seed=1, margin_bits=4.0)
        paths = make_shards(folder, args.shards, args.items)
        os.mkdir(os.path.join(folder, "warm-in"))
        warm = make_shards(os.path.join(folder, "warm-in"), 1, 20)  # compile or load the kernels once
        encode_shards(warm, model, args.seed, os.path.join(folder, "warm"), workers=1)
        rows = [timed("pool-1", paths, model, args.seed, os.path.join(folder, "pool-1"), workers=1),
                timed("pool-2", paths, model, args.seed, os.path.join(folder, "pool-2"), workers=2)]
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            rows.append(timed("dask-2", paths, model, args.seed, os.path.join(folder, "dask-2"), client=client))
            started = time.perf_counter()
            client.gather(client.map(_noop, range(args.noop_tasks), pure=False))
            per_task = (time.perf_counter() - started) / args.noop_tasks
        same = contents(os.path.join(folder, "pool-1")) == contents(os.path.join(folder, "pool-2")) \
            == contents(os.path.join(folder, "dask-2"))
    one, two, dask = rows
    per_shard_overhead = (dask["seconds"] - two["seconds"]) * 2 / args.shards
    shard_seconds = one["cpu_seconds"] / args.shards  # one shard on one free thread: its CPU time
    machines, cores = 100, 2
    per_item = shard_seconds / args.items
    items_10k_shard = 10_000
    shard_10k = per_item * items_10k_shard
    workers_rate = machines * cores * items_10k_shard / (shard_10k + max(per_shard_overhead, 0.0))
    scheduler_rate = items_10k_shard / per_task
    summary = {
        "same_bytes": same,
        "speedup_2_over_1": round(two["items_per_second"] / one["items_per_second"], 3),
        "cpu_per_item_2_over_1": round(one["items_per_cpu_second"] / two["items_per_cpu_second"], 3),
        "dask_over_pool_seconds": round(dask["seconds"] - two["seconds"], 2),
        "dask_overhead_per_shard_seconds": round(per_shard_overhead, 3),
        "scheduler_seconds_per_noop_task": round(per_task, 5),
        "shard_seconds_one_thread": round(shard_seconds, 3),
        "estimate_100_machines_items_per_second": round(min(workers_rate, scheduler_rate)),
        "estimate_limited_by": "workers" if workers_rate <= scheduler_rate else "scheduler",
    }
    print(json.dumps(summary), flush=True)
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
