"""The encoder's loop over blocks, one range of blocks per call.

Blocks are independent given the seed (each has its own counter field), so any split of
them over threads gives the same result. ``interrupts.run_search`` hands ranges of blocks
to Python threads that call these kernels; they release the GIL (``nogil``), so the threads
run in parallel without numba's parallel loops, whose compilation took most of a cold
start.

numba's on-disk cache keys a kernel on its own source file only, so a change to
``pfr.py``, ``orc.py`` or ``rng.py`` alone leaves these compiled loops running the old code;
delete the ``__pycache__/*.nbi`` and ``*.nbc`` files after such a change.
"""

import numba

from .orc import orc_block
from .pfr import pfr_block


@numba.njit(cache=True, nogil=True)
def search_blocks(k0, k1, block_ids, starts, lengths, a, b, c, lrmax, orc_candidates, max_steps, stop, done, lo, hi,
                  indices, steps):
    """Index and steps of blocks lo .. hi - 1: PFR when orc_candidates == 0, else ORC.

    Args:
        k0, k1: key words of the seed.
        block_ids: int64 counter field of each block.
        starts, lengths: int64 slices of the flat coefficient arrays, one per block.
        a, b, c, lrmax: flat per-dimension log-ratio coefficients.
        orc_candidates: 0 for PFR, else ORC's N.
        max_steps: PFR's cap on candidates per block.
        stop: int64[1]; every block gives up (index -2) once stop[0] != 0 (see ``interrupts``).
        done: uint8 per block, out: set to 1 when the block is finished.
        lo, hi: the blocks of this call.
        indices, steps: int64 per block, out: the chosen index (-1: the cap ran out) and
            the candidates drawn.
    """
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        if orc_candidates == 0:
            index, n = pfr_block(k0, k1, block_ids[i], a[s:e], b[s:e], c[s:e], lrmax[s:e], max_steps, stop)
        else:
            index, n = orc_block(k0, k1, block_ids[i], a[s:e], b[s:e], c[s:e], lrmax[s:e], orc_candidates, stop)
        indices[i] = index
        steps[i] = n
        done[i] = 1


@numba.njit(cache=True, nogil=True)
def search_keyed_blocks(k0s, k1s, block_ids, starts, lengths, a, b, c, lrmax, max_steps, stop, done, lo, hi,
                        indices, steps):
    """PFR on blocks lo .. hi - 1, each with its own seed key words (k0s[i], k1s[i]).

    The items of a batch each have their own seed; this searches all of their blocks in
    one loop. Arguments as ``search_blocks`` (PFR only).
    """
    for i in range(lo, hi):
        s = starts[i]
        e = s + lengths[i]
        index, n = pfr_block(k0s[i], k1s[i], block_ids[i], a[s:e], b[s:e], c[s:e], lrmax[s:e], max_steps, stop)
        indices[i] = index
        steps[i] = n
        done[i] = 1
