"""Report the digits example: bits per image against KL, PSNR, and bit-for-bit round trips.

    python report.py OUT
"""

import json
import os
import sys

import numpy as np

from rec_codec import digits_vae


def main(out):
    with open(os.path.join(out, "encode.json")) as f:
        summary = json.load(f)
    chosen = np.load(os.path.join(out, "chosen.npy"))
    decoded = np.load(os.path.join(out, "decoded.npy"))
    item17 = np.load(os.path.join(out, "item17.npy"))
    one = np.load(os.path.join(out, "one.npy"))
    one_bits = 8 * os.path.getsize(os.path.join(out, "one.rec"))
    vae = digits_vae.load()
    same = chosen.tobytes() == decoded.tobytes() and item17.tobytes() == decoded[17].tobytes()
    psnr = digits_vae.psnr(vae.test_images, vae.decode(decoded)).mean()
    kl = summary["kl_bits_mean"]
    print(f"items              {summary['items']:8d}     KL {kl:.1f} bits per image")
    print(f"container          {summary['container_bits_per_item']:8.1f} bits per image  "
          f"({summary['container_bits_over_kl']:.3f} x KL, header included)")
    print(f"records            {summary['record_bits_mean']:8.1f} bits per image  "
          f"({summary['record_bits_over_kl']:.3f} x KL; + 16 bits framing stored alone)")
    print(f"one record file    {one_bits:8d} bits         (test image 0)")
    print(f"PSNR               {psnr:8.2f} dB")
    print(f"approximate        {'yes' if summary['approximate'] else 'no':>8}")
    print(f"round trip         {'bit for bit' if same else 'MISMATCH'}")
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
