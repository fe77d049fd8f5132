"""The shared seed and the stream fields of the PRNG's counter (plain Python, no numba).

``rng`` (numba, for the encoder's search) and ``philox_numpy`` (numpy, for rebuilding the
chosen candidates) both key Philox4x32-10 by the seed and count it by
(position, block, stream + WORD_SHIFT * word); see ``rng`` for the layout.
"""

import numpy as np

from .errors import InputError

__all__ = [
    "STREAM_CANDIDATE",
    "STREAM_ARRIVAL",
    "STREAM_LABEL",
    "STREAM_DITHER",
    "STREAM_BIN",
    "WORD_SHIFT",
    "PHILOX_M0",
    "PHILOX_M1",
    "PHILOX_W0",
    "PHILOX_W1",
    "split_seed",
    "check_position",
]

# Streams: one counter field each. Candidates (shared by encoder and decoder), arrival-time
# exponentials (private to the encoder, except in Wyner-Ziv binning), bin labels, dithers.
STREAM_CANDIDATE = 0
STREAM_ARRIVAL = 1
STREAM_LABEL = 2
STREAM_DITHER = 3
STREAM_BIN = 4

# c3 = stream + WORD_SHIFT * word: the word (e.g. a dimension) has the upper 24 bits.
WORD_SHIFT = 256

# Philox4x32's round multipliers and Weyl key increments (Salmon et al., SC 2011).
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)


def split_seed(seed):
    """Key words (k0, k1) of a seed in [0, 2^64).

    Args:
        seed (int): the shared seed.
    Returns:
        tuple of two np.uint64 holding the low and high 32 bits.
    Raises:
        InputError: if seed is not an integer in [0, 2^64).
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed must be an integer in [0, 2^64), got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise InputError(f"seed must be an integer in [0, 2^64), got {seed}")
    return np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)


def check_position(stream, block, start, count):
    """InputError unless stream and block fit 32 bits, start 63 bits and count >= 0."""
    for name, value, limit in (("stream", stream, 2**32), ("block", block, 2**32), ("start", start, 2**63)):
        if not 0 <= int(value) < limit:
            raise InputError(f"{name} must be in [0, {limit}), got {value}")
    if int(count) < 0:
        raise InputError(f"count must be >= 0, got {count}")
