"""The ceiling of every search kernel: raw Philox4x32-10 blocks in a tight loop.

One Philox call per candidate, its four words folded together by XOR so that nothing is
optimised away; ``reccodec bench throughput`` reports the kernels' candidates/s beside
this rate measured in the same run.
"""

import numba
import numpy as np

from ..rng import STREAM_CANDIDATE, philox4x32

__all__ = ["philox_blocks"]


@numba.njit(cache=True)
def philox_blocks(count, block, k0, k1):
    """The XOR of the words of ``count`` consecutive Philox calls of (candidate stream, block).

    Args:
        count (int): Philox calls (blocks of four 32-bit words) to make.
        block (int): counter field c2.
        k0, k1 (np.uint64): key words of the seed.
    Returns:
        np.uint64: the XOR of all 4 count words.
    """
    acc = np.uint64(0)
    c2 = np.uint64(block)
    c3 = np.uint64(STREAM_CANDIDATE)
    zero = np.uint64(0)
    for call in range(count):
        w0, w1, w2, w3 = philox4x32(np.uint64(call), zero, c2, c3, k0, k1)
        acc ^= w0 ^ w1 ^ w2 ^ w3
    return acc
