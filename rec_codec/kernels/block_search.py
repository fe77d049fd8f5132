"""The encoder's loops over blocks, one range of blocks per call: PFR and ORC.

Blocks are independent given the seed (each has its own counter field), so any split of
them over threads gives the same result. ``interrupts.run_search`` hands ranges of blocks
to Python threads that call these kernels; they release the GIL (``nogil``), so the threads
run in parallel without numba's parallel loops, whose compilation took most of a cold
start. PFR and ORC have a loop each, so that a first run compiles only the one it uses.

numba's on-disk cache keys a kernel on its own source file only, so a change to
``pfr.py``, ``orc.py`` or ``rng.py`` alone leaves these compiled loops running the old code;
delete the ``__pycache__/*.nbi`` and ``*.nbc`` files after such a change.
"""

import numba

from .orc import orc_block
from .pfr import pfr_block


@numba.njit(cache=True, nogil=True)
def pfr_blocks(k0s, k1s, block_ids, starts, lengths, a, b, c, lrmax, max_steps, stop, done, lo, hi, indices, steps):
    """PFR's index and steps of blocks lo .. hi - 1, each with its own seed key words.

    Args:
        k0s, k1s: uint64 key words of the seed of each block (one seed for a file; one per
            item for the items of a batch).
        block_ids: int64 counter field of each block.
        starts, lengths: int64 slices of the flat coefficient arrays, one per block.
        a, b, c, lrmax: flat per-dimension log-ratio coefficients.
        max_steps: the cap on candidates per block.
        stop: int64[1]; every block gives up (index -2) once stop[0] != 0 (see ``interrupts``).
        done: uint8 per block, out: set to 1 when the block is finished.
        lo, hi: the blocks of this call.
        indices, steps: int64 per block, out: the chosen index (-1: the cap ran out) and
            the candidates drawn.
    """
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        indices[i], steps[i] = pfr_block(k0s[i], k1s[i], block_ids[i], a[s:e], b[s:e], c[s:e], lrmax[s:e], max_steps,
                                         stop)
        done[i] = 1


@numba.njit(cache=True, nogil=True)
def orc_blocks(k0, k1, block_ids, starts, lengths, a, b, c, lrmax, orc_candidates, stop, done, lo, hi, indices, steps):
    """ORC over orc_candidates candidates on blocks lo .. hi - 1, under one seed (k0, k1);
    the other arguments as ``pfr_blocks``."""
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        indices[i], steps[i] = orc_block(k0, k1, block_ids[i], a[s:e], b[s:e], c[s:e], lrmax[s:e], orc_candidates,
                                         stop)
        done[i] = 1
