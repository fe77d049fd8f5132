"""Does anything the decoder knows predict the octave of a block's index? On the digits VAE.

A codec model codes each block's index n (within its bin) as the octave b of n + 1 under a
table, then b uniform bits; the octave is most of what a record spends over the coding KL.
This script trains the digits model (seed 1), codes the 1,497 training items (seed 7) and
the 300 test items (seed 1), and fits octave tables on the training items' blocks in
several contexts, each table leaning on the pooled histogram (weight ``alpha``) for octaves
it rarely saw. It prints the test items' octave bits per image under each context, then
what the uniform bits below the octave would save under a table of their first 1-3 bits
(the index's density falls within an octave, so the first bits are not quite uniform).

    python bench/octave_context.py
"""

import argparse
from collections import defaultdict

import numpy as np

from rec_codec import digits_vae
from rec_codec.items import encode_items, item_seed
from rec_codec.model import N_OCTAVES
from rec_codec.training import train_model

CONTEXTS = {
    "none": lambda b: 0,
    "depth": lambda b: b["depth"],
    "depth, position": lambda b: (b["depth"], b["position"]),
    "depth, blocks in the item, position": lambda b: (b["depth"], b["blocks"], b["position"]),
    "depth, component": lambda b: (b["depth"], b["component"]),
    "depth, previous octave": lambda b: (b["depth"], b["previous"]),
    "depth, bins' bits // 4": lambda b: (b["depth"], int(b["bin_bits"] // 4)),
}


def blocks_of(model, coded):
    """One dict per coded block: its octave and what the decoder knows before reading it."""
    out = []
    for item in coded:
        previous, start = -1, 0
        for position, (length, depth, n) in enumerate(zip(item.lengths.tolist(), item.depths.tolist(),
                                                          item.indices.tolist())):
            octave = (n + 1).bit_length() - 1
            out.append({"octave": octave, "fraction": (n + 1) / 2**octave - 1, "depth": depth, "position": position, "blocks": len(item.lengths),
                        "component": item.component, "previous": previous,
                        "bin_bits": float(np.log2(model.nbins[item.component][start:start + length]).sum())})
            previous, start = octave, start + length
    return out


def octave_bits(train, test, context, alpha):
    """Total bits of the test blocks' octaves under tables fitted on the training blocks."""
    pooled = np.bincount([b["octave"] for b in train], minlength=N_OCTAVES) + 0.05
    pooled = pooled / pooled.sum()
    counts = defaultdict(lambda: np.zeros(N_OCTAVES))
    for b in train:
        counts[context(b)][b["octave"]] += 1
    bits = 0.0
    for b in test:
        table = counts[context(b)] + alpha * pooled
        bits -= np.log2(table[b["octave"]] / table.sum())
    return bits


def leading_bits_saved(train, test, bits):
    """Bits saved on the test blocks by coding the first ``bits`` bits below each octave
    (octaves of at least ``bits``) under a table fitted on the training blocks, not uniformly."""
    def symbols(blocks):
        return np.array([int(b["fraction"] * 2**bits) for b in blocks if b["octave"] >= bits], dtype=np.int64)
    table = np.bincount(symbols(train), minlength=2**bits) + 0.5
    coded = symbols(test)
    return float(bits * coded.size + np.log2(table[coded] / table.sum()).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alphas", default="0.5,2,8", help="weights of the pooled histogram")
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",")]
    vae = digits_vae.load()
    model = train_model(vae.train_mean, vae.train_std, seed=1)
    train = blocks_of(model, encode_items(model, vae.train_mean, vae.train_std,
                                          [item_seed(7, i) for i in range(len(vae.train_mean))]))
    test = blocks_of(model, encode_items(model, vae.test_mean, vae.test_std,
                                         [item_seed(1, i) for i in range(len(vae.test_mean))]))
    images = len(vae.test_mean)
    print(f"{len(train)} training blocks, {len(test)} test blocks; octave bits per test image:")
    print(f"{'context':<38}" + "".join(f"{'alpha ' + format(a, 'g'):>11}" for a in alphas))
    for name, context in CONTEXTS.items():
        print(f"{name:<38}" + "".join(f"{octave_bits(train, test, context, a) / images:>11.3f}" for a in alphas))
    print("bits per test image saved by a table of the first bits below the octave: "
          + ", ".join(f"{k} bit{'s' if k > 1 else ''} {leading_bits_saved(train, test, k) / images:.3f}" for k in (1, 2, 3)))


if __name__ == "__main__":
    main()
