"""A codec model on a latent larger than the digits VAE's: training, bits, encode and decode.

The targets are ``bench.latent_posteriors`` (exact posteriors of a VAE-like latent: a quarter
of the dimensions collapsed, the others of uneven width), the first ``--train`` for the
model and the next ``--test`` coded as one container. The script prints the training
time, bits per item against KL, the container's items per chunk, and milliseconds per item
to encode, to decode all items and to decode the last item alone, on one thread; then
where a record's information goes, read back from the records: the coding component, the
bins, the uniform part of each index, and the rest (the octaves of the indices and the
halving flags), against the KL to the coding distribution.

    python bench/large_latent.py --dims 256 --train 1000 --test 100 --margin 4
"""

import argparse
import time

import numba
import numpy as np

from rec_codec.batch import decode_batch, describe_container, encode_batch
from rec_codec.bench import latent_posteriors
from rec_codec.items import read_item
from rec_codec.record_coder import RecordReader
from rec_codec.training import DEFAULT_MODEL_DINF_LIMIT, DEFAULT_MODEL_MARGIN_BITS, train_model


def information_parts(model, records):
    """Mean bits per record of its component code, its bins and its indices' uniform parts."""
    weights = model.component_freqs / model.component_freqs.sum() if model.num_components > 1 else None
    component_bits = bin_bits = uniform_bits = 0.0
    for record in records:
        component, lengths, _, indices = read_item(RecordReader(record), model)
        component_bits += -np.log2(weights[component]) if weights is not None else 0.0
        bin_bits += float(np.log2(model.nbins[component][:int(lengths.sum())]).sum())
        uniform_bits += sum((int(n) + 1).bit_length() - 1 for n in indices)
    return component_bits / len(records), bin_bits / len(records), uniform_bits / len(records)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--train", type=int, default=1000, help="training items")
    parser.add_argument("--test", type=int, default=100, help="items coded")
    parser.add_argument("--margin", default=str(DEFAULT_MODEL_MARGIN_BITS),
                        help="the model's margin in bits, or auto (reccodec train's --margin-bits)")
    parser.add_argument("--dinf-limit", type=float, default=DEFAULT_MODEL_DINF_LIMIT,
                        help="halve blocks past this D_inf (reccodec train's --dinf-limit)")
    parser.add_argument("--seed", type=int, default=5, help="the container's seed")
    parser.add_argument("--rounds", type=int, default=3, help="decode timings, best of")
    args = parser.parse_args()
    numba.set_num_threads(1)
    targets = latent_posteriors(args.dims, args.train + args.test, seed=3)
    mean, std = np.asarray(targets.mean), np.asarray(targets.std)
    started = time.perf_counter()
    margin = args.margin if args.margin == "auto" else float(args.margin)
    model = train_model(mean[:args.train], std[:args.train], seed=1, margin_bits=margin, dinf_limit=args.dinf_limit)
    train_s = time.perf_counter() - started
    test = (mean[args.train:], std[args.train:])
    encode_batch(test[0][:1], test[1][:1], model, args.seed)  # load the kernels outside the timing
    result = encode_batch(*test, model, args.seed)
    decode_all = decode_one = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        samples = decode_batch(result.container, model, args.seed)
        decode_all = min(decode_all, time.perf_counter() - started)
        started = time.perf_counter()
        last = decode_batch(result.container, model, args.seed, items=[args.test - 1])
        decode_one = min(decode_one, time.perf_counter() - started)
    assert samples.tobytes() == result.samples.tobytes() and last.tobytes() == result.samples[-1:].tobytes()
    summary = result.summary()
    print(f"{args.dims} dims, {args.train} training items: trained in {train_s:.1f} s, "
          f"{model.num_components} components, {model.num_blocks} blocks")
    print(f"{args.test} items: KL {summary['kl_bits_mean']:.1f} bits per item, container "
          f"{summary['container_bits_per_item']:.1f} bits per item ({summary['container_bits_over_kl']:.4f}x KL), "
          f"records {summary['record_bits_over_kl']:.4f}x, {summary['blocks_mean']:.1f} blocks per item, "
          f"{describe_container(result.container)['chunk_items']} items per chunk")
    print(f"ms per item: encode {1000 * result.seconds / args.test:.1f}, decode {1000 * decode_all / args.test:.2f}; "
          f"the last item alone {1000 * decode_one:.2f} ms; bit for bit")
    component, bins, uniform = information_parts(model, result.records)
    information = float(result.information_bits.mean())
    print(f"information {information:.1f} bits per item against {result.coding_kl_bits.mean():.1f} bits of KL to "
          f"the coding distribution: component {component:.1f}, bins {bins:.1f}, indices' uniform parts "
          f"{uniform:.1f}, octaves and halving flags {information - component - bins - uniform:.1f}")


if __name__ == "__main__":
    main()
