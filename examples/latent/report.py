"""Print bits against KL for one encode, and check that decoding returned the same sample.

    python report.py ENCODE.json CHOSEN.npy SAMPLE.npy
"""

import json
import sys

import numpy as np


def main(summary_path, chosen_path, sample_path):
    with open(summary_path) as f:
        summary = json.load(f)
    chosen, sample = np.load(chosen_path), np.load(sample_path)
    identical = chosen.shape == sample.shape and chosen.tobytes() == sample.tobytes()
    kl = summary["kl_bits"]
    print(f"KL(Q||P)      {kl:10.1f} bits")
    print(f"file          {summary['bits']:10d} bits  ({summary['bits'] / kl:.3f} x KL)")
    print(f"  header      {summary['header_bits']:10d} bits")
    print(f"  payload     {summary['payload_bits']:10d} bits  (block layout {summary['layout_bits']:.0f} of them)")
    print(f"blocks        {summary['blocks']:10d}     mean steps {summary['mean_steps']:.0f}")
    print(f"round trip    {'bit for bit' if identical else 'MISMATCH'}")
    return 0 if identical else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
