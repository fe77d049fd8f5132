"""Counter-based shared-seed PRNG: Philox4x32-10 as numba code.

Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011.

The generator is a pure function of a 64-bit key (the seed) and a 128-bit counter, so the
decoder reaches any candidate of any block directly, without generating the ones before it.
The counter is laid out as

    c0, c1 = low and high 32 bits of the *call position* inside one sequence
    c2     = block index
    c3     = stream id + 256 * word (STREAM_CANDIDATE, STREAM_ARRIVAL, ...; word < 2^24)

and each call yields four 32-bit words, i.e. two uniforms of 53 bits: uniform number i of a
sequence is the half ``i & 1`` of call ``i >> 1``. Candidates are dimension-major: dimension
k of candidate n of a block is uniform n of the sequence (STREAM_CANDIDATE, word k). The
encoder can then draw one dimension for a batch of candidates, and the other dimensions
only for the few candidates that could still win; the decoder draws the d uniforms of
candidate n directly, in O(d). Different streams never share a counter, hence a state.

Space-partitioned candidates (SP-PFR, SP-ORC) are keyed by a bin j (a flat int64 over the
block's bins) and a local index m instead of a global n. Each bin has its own Philox key,
the first two words of the call

    c0, c1 = low and high 32 bits of j,   c2 = block,   c3 = STREAM_BIN

under the seed (``bin_key``), and under that key dimension k of candidate m of the bin is
the half ``k & 1`` of the call with counter (c0, c1 = m, c2 = k >> 1, c3 = 0)
(``bin_uniform``). The decoder rebuilds candidate (j, m) with one call for the key and
d/2 calls for its uniforms, in O(d). Two bins share a key with probability 2^-64.

numpy's own ``numpy.random.Philox`` is the 4x64 variant; this module is checked bit for bit
against Random123's published known answers and against ``randomgen``'s Philox4x32.
"""

import math

import numba
import numpy as np

from .as241 import A as _A, B as _B, C as _C, D as _D, E as _E, F as _F
from .seed import (
    PHILOX_M0,
    PHILOX_M1,
    PHILOX_W0,
    PHILOX_W1,
    STREAM_ARRIVAL,
    STREAM_BIN,
    STREAM_CANDIDATE,
    STREAM_DITHER,
    STREAM_LABEL,
    WORD_SHIFT,
    check_position,
    split_seed,
)

__all__ = [
    "STREAM_CANDIDATE",
    "STREAM_ARRIVAL",
    "STREAM_LABEL",
    "STREAM_DITHER",
    "STREAM_BIN",
    "stream_word",
    "split_seed",
    "philox_words",
    "uniforms",
    "normals",
    "exponentials",
    "ndtri_as241",
    "bin_key",
    "bin_uniform",
    "bin_uniform_pair",
]



@numba.njit(cache=True, inline="always")
def stream_word(stream, word):
    """Counter field c3 of word ``word`` (e.g. a dimension) of stream ``stream``."""
    return stream + WORD_SHIFT * word


_MASK32 = np.uint64(0xFFFFFFFF)
_M0, _M1, _W0, _W1 = PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1
_S32 = np.uint64(32)
_S5 = np.uint64(5)
_S6 = np.uint64(6)
_TWO_M26 = 2.0**26
_TWO_M53 = 2.0**-53


@numba.njit(cache=True, inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0..c3) under key (k0, k1); all uint64 holding 32 bits."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = (p1 >> _S32) ^ c1 ^ k0
        n2 = (p0 >> _S32) ^ c3 ^ k1
        c1 = p1 & _MASK32
        c3 = p0 & _MASK32
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@numba.njit(cache=True, inline="always")
def words_to_uniform(hi, lo):
    """53-bit uniform in the open interval (0, 1) from two 32-bit words."""
    return (float(hi >> _S5) * _TWO_M26 + float(lo >> _S6) + 0.5) * _TWO_M53


_S26 = np.uint64(26)
_MANTISSAS = 2**53


@numba.njit(cache=True, inline="always")
def words_to_mantissa(hi, lo):
    """The 53-bit integer m (int64) of ``words_to_uniform(hi, lo)``, which is (m + 0.5) 2^-53 rounded.

    Both halves of ``words_to_uniform``'s sum are exact, so ``mantissa_to_uniform`` of m is
    that uniform bit for bit; a filter can compare m with integer bounds and convert only
    the candidates that pass.
    """
    return np.int64(((hi >> _S5) << _S26) | (lo >> _S6))


@numba.njit(cache=True, inline="always")
def mantissa_to_uniform(m):
    """The uniform (m + 0.5) 2^-53 (rounded to nearest even) of a 53-bit integer m."""
    return (float(m) + 0.5) * _TWO_M53


@numba.njit(cache=True)
def mantissa_bounds(lo, hi):
    """(m_lo, m_hi): the uniform of m lies in the open interval (lo, hi) iff m_lo <= m <= m_hi.

    The uniform of m is non-decreasing in m; m_lo > m_hi when no m qualifies.
    """
    if lo < 0.0:
        m_lo = 0
    elif lo >= 1.0:
        m_lo = _MANTISSAS
    else:
        m_lo = max(int(lo * _MANTISSAS) - 2, 0)
        while m_lo < _MANTISSAS and mantissa_to_uniform(m_lo) <= lo:
            m_lo += 1
    if hi > 1.0:
        m_hi = _MANTISSAS - 1
    elif hi <= 0.0:
        m_hi = -1
    else:
        m_hi = min(int(hi * _MANTISSAS) + 2, _MANTISSAS - 1)
        while m_hi >= 0 and mantissa_to_uniform(m_hi) >= hi:
            m_hi -= 1
    return m_lo, m_hi


@numba.njit(cache=True, inline="always")
def uniform_pair(call, block, stream, k0, k1):
    """The two uniforms of one Philox call at position ``call`` of (stream, block)."""
    w0, w1, w2, w3 = philox4x32(
        np.uint64(call) & _MASK32, np.uint64(call) >> _S32, np.uint64(block), np.uint64(stream), k0, k1
    )
    return words_to_uniform(w0, w1), words_to_uniform(w2, w3)


@numba.njit(cache=True, inline="always")
def uniform_at(position, block, stream, k0, k1):
    """Uniform number ``position`` of (stream, block)."""
    u0, u1 = uniform_pair(position >> 1, block, stream, k0, k1)
    return u1 if position & 1 else u0


@numba.njit(cache=True)
def _fill_pairs(out, first_call, calls, block, stream, k0, k1):
    """out[2 i], out[2 i + 1] = the uniforms of call first_call + i, for i < calls.

    A counted loop with no branch and no carry out of 32 bits inside it (the caller keeps
    first_call + calls <= 2^32 on one c1), so LLVM vectorises it.
    """
    c1 = np.uint64(first_call) >> _S32
    c0 = np.uint64(first_call) & _MASK32
    c2 = np.uint64(block)
    c3 = np.uint64(stream)
    for i in range(calls):
        w0, w1, w2, w3 = philox4x32(c0 + np.uint64(i), c1, c2, c3, k0, k1)
        out[2 * i] = words_to_uniform(w0, w1)
        out[2 * i + 1] = words_to_uniform(w2, w3)


@numba.njit(cache=True, inline="always")
def _pairs_of(start, n):
    """(first_call, calls) when uniforms start .. start + n - 1 are whole calls on one c1, else (0, -1)."""
    if (start & 1) == 0 and (n & 1) == 0:
        first_call = start >> 1
        calls = n >> 1
        if (first_call & 0xFFFFFFFF) + calls <= 0x100000000:
            return first_call, calls
    return 0, -1


@numba.njit(cache=True)
def fill_uniforms(out, start, block, stream, k0, k1):
    """out[j] = uniform number start + j of (stream, block), for j < len(out)."""
    n = out.shape[0]
    first_call, calls = _pairs_of(start, n)
    if calls >= 0:  # every batch of the search kernels
        _fill_pairs(out, first_call, calls, block, stream, k0, k1)
        return
    j = 0
    pos = start
    if n > 0 and (pos & 1) == 1:
        _, u1 = uniform_pair(pos >> 1, block, stream, k0, k1)
        out[0] = u1
        j = 1
        pos += 1
    call = pos >> 1
    while j + 1 < n:
        u0, u1 = uniform_pair(call, block, stream, k0, k1)
        out[j] = u0
        out[j + 1] = u1
        j += 2
        call += 1
    if j < n:
        u0, _ = uniform_pair(call, block, stream, k0, k1)
        out[j] = u0


@numba.njit(cache=True)
def _fill_filter_pairs(m_first, v, m_second, first_call, calls, block, stream_first, stream_v, stream_second, k0,
                       k1):
    """``fill_filter_streams`` of whole calls on one c1: a counted loop, as ``_fill_pairs``."""
    c1 = np.uint64(first_call) >> _S32
    c0 = np.uint64(first_call) & _MASK32
    c2 = np.uint64(block)
    s_first = np.uint64(stream_first)
    s_v = np.uint64(stream_v)
    s_second = np.uint64(max(stream_second, 0))
    # two counted loops, with and without the second stream, so that each is a plain loop
    # for LLVM to vectorise rather than one whose branch it would have to hoist out
    if stream_second < 0:
        for i in range(calls):
            a0, a1, a2, a3 = philox4x32(c0 + np.uint64(i), c1, c2, s_first, k0, k1)
            b0, b1, b2, b3 = philox4x32(c0 + np.uint64(i), c1, c2, s_v, k0, k1)
            m_first[2 * i] = words_to_mantissa(a0, a1)
            m_first[2 * i + 1] = words_to_mantissa(a2, a3)
            v[2 * i] = words_to_uniform(b0, b1)
            v[2 * i + 1] = words_to_uniform(b2, b3)
        return
    for i in range(calls):
        a0, a1, a2, a3 = philox4x32(c0 + np.uint64(i), c1, c2, s_first, k0, k1)
        b0, b1, b2, b3 = philox4x32(c0 + np.uint64(i), c1, c2, s_v, k0, k1)
        e0, e1, e2, e3 = philox4x32(c0 + np.uint64(i), c1, c2, s_second, k0, k1)
        m_first[2 * i] = words_to_mantissa(a0, a1)
        m_first[2 * i + 1] = words_to_mantissa(a2, a3)
        v[2 * i] = words_to_uniform(b0, b1)
        v[2 * i + 1] = words_to_uniform(b2, b3)
        m_second[2 * i] = words_to_mantissa(e0, e1)
        m_second[2 * i + 1] = words_to_mantissa(e2, e3)


@numba.njit(cache=True)
def fill_filter_streams(m_first, v, m_second, start, block, stream_first, stream_v, stream_second, k0, k1):
    """The streams of a filtering search's batch, positions start .. start + len(v) - 1.

    m_first and m_second get the ``words_to_mantissa`` integers of two streams' uniforms
    (the two dimensions a filter tests first, with no conversion to float), v the uniforms
    of a third (the arrival times'). m_first and v have one length. A negative
    stream_second leaves m_second as it is, and it may then be empty (a search that
    filters one dimension per batch).

    The streams' Philox calls are independent, so one loop lets the CPU overlap them where
    a loop per stream would wait on each call's ten dependent rounds.
    """
    n = v.shape[0]
    first_call, calls = _pairs_of(start, n)
    if calls >= 0:
        _fill_filter_pairs(m_first, v, m_second, first_call, calls, block, stream_first, stream_v, stream_second, k0,
                           k1)
        return
    for j in range(n):
        call = np.uint64(start + j) >> np.uint64(1)
        low_half = ((start + j) & 1) == 0
        c0, c1, c2 = call & _MASK32, call >> _S32, np.uint64(block)
        w0, w1, w2, w3 = philox4x32(c0, c1, c2, np.uint64(stream_first), k0, k1)
        m_first[j] = words_to_mantissa(w0, w1) if low_half else words_to_mantissa(w2, w3)
        w0, w1, w2, w3 = philox4x32(c0, c1, c2, np.uint64(stream_v), k0, k1)
        v[j] = words_to_uniform(w0, w1) if low_half else words_to_uniform(w2, w3)
        if stream_second >= 0:
            w0, w1, w2, w3 = philox4x32(c0, c1, c2, np.uint64(stream_second), k0, k1)
            m_second[j] = words_to_mantissa(w0, w1) if low_half else words_to_mantissa(w2, w3)


@numba.njit(cache=True, inline="always")
def bin_key(j, block, k0, k1):
    """Key words (uint64 holding 32 bits) of the generator of bin ``j`` of ``block``."""
    w0, w1, _, _ = philox4x32(
        np.uint64(j) & _MASK32, np.uint64(j) >> _S32, np.uint64(block), np.uint64(STREAM_BIN), k0, k1
    )
    return w0, w1


@numba.njit(cache=True, inline="always")
def bin_uniform_pair(m, pair, kb0, kb1):
    """Uniforms of dimensions 2 pair and 2 pair + 1 of candidate ``m`` of a bin's key."""
    w0, w1, w2, w3 = philox4x32(
        np.uint64(m) & _MASK32, np.uint64(m) >> _S32, np.uint64(pair), np.uint64(0), kb0, kb1
    )
    return words_to_uniform(w0, w1), words_to_uniform(w2, w3)


@numba.njit(cache=True, inline="always")
def bin_uniform(m, k, kb0, kb1):
    """Uniform of dimension ``k`` of candidate ``m`` of the bin whose key is (kb0, kb1)."""
    w0, w1, w2, w3 = philox4x32(
        np.uint64(m) & _MASK32, np.uint64(m) >> _S32, np.uint64(k >> 1), np.uint64(0), kb0, kb1
    )
    return words_to_uniform(w2, w3) if k & 1 else words_to_uniform(w0, w1)


# Wichura, "Algorithm AS 241: the percentage points of the normal distribution" (PPND16),
# Applied Statistics 37 (1988); relative accuracy about 1e-16, no rejection step.


@numba.njit(cache=True, inline="always")
def _poly(c, x):
    return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x + c[1]) * x + c[0]


@numba.njit(cache=True)
def ndtri_as241(p):
    """Inverse standard normal CDF of p in (0, 1) by AS241."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _poly(_A, r) / _poly(_B, r)
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        val = _poly(_C, r) / _poly(_D, r)
    else:
        r -= 5.0
        val = _poly(_E, r) / _poly(_F, r)
    return -val if q < 0.0 else val


@numba.njit(cache=True)
def _fill_normals(out, start, block, stream, k0, k1):
    fill_uniforms(out, start, block, stream, k0, k1)
    for j in range(out.shape[0]):
        out[j] = ndtri_as241(out[j])


@numba.njit(cache=True)
def _fill_exponentials(out, start, block, stream, k0, k1):
    fill_uniforms(out, start, block, stream, k0, k1)
    for j in range(out.shape[0]):
        out[j] = -math.log(out[j])


@numba.njit(cache=True)
def _philox_words(c, k0, k1):
    w0, w1, w2, w3 = philox4x32(c[0], c[1], c[2], c[3], k0, k1)
    return np.array([w0, w1, w2, w3], dtype=np.uint64)


def philox_words(counter, key):
    """The four 32-bit output words of Philox4x32-10.

    Args:
        counter (sequence of 4 ints): counter words c0..c3, each < 2^32.
        key (sequence of 2 ints): key words k0, k1, each < 2^32.
    Returns:
        np.ndarray: 4 words as uint32.
    """
    c = np.asarray(counter, dtype=np.uint64)
    k = np.asarray(key, dtype=np.uint64)
    return _philox_words(c, k[0], k[1]).astype(np.uint32)


def _draw(fill, seed, stream, block, start, count):
    k0, k1 = split_seed(seed)
    check_position(stream, block, start, count)
    out = np.empty(int(count))
    fill(out, np.int64(start), np.int64(block), np.int64(stream), k0, k1)
    return out


def uniforms(seed, stream, block, start, count):
    """Uniforms number start .. start+count-1 of (stream, block), in (0, 1) with 53 bits.

    Args:
        seed (int): shared seed in [0, 2^64).
        stream (int): counter field c3, ``stream_word(stream id, word)``, e.g.
            ``stream_word(STREAM_CANDIDATE, k)`` for dimension k of the candidates.
        block (int): block index.
        start (int): position of the first uniform.
        count (int): how many.
    Returns:
        np.ndarray: float64 array of shape (count,).
    Raises:
        InputError: an invalid seed, position or count.
    """
    return _draw(fill_uniforms, seed, stream, block, start, count)


def normals(seed, stream, block, start, count):
    """Standard normals by inverse CDF (AS241) of ``uniforms(...)``; same arguments."""
    return _draw(_fill_normals, seed, stream, block, start, count)


def exponentials(seed, stream, block, start, count):
    """Exp(1) variates -log(U) of ``uniforms(...)``; same arguments."""
    return _draw(_fill_exponentials, seed, stream, block, start, count)
