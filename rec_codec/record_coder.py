"""Compact byte-aligned records: an exact arithmetic coder over Python integers.

A record holds the entropy-coded symbols of one item (or of a chunk of items) in as few
whole bytes as hold a point of the final coding interval: the cost is the information
content plus at most one bit, rounded up to a byte. constriction's ANS and range coders
write whole 32-bit words and carry a state of their own (about 15 bits on top of a
70-bit message, then rounding to 32 bits), which is what a file of big arrays can
afford and a 9-byte record cannot; so records are coded here, exactly, with integers.

**The code.** Every symbol is drawn from a model given as integer frequencies: symbol s
of a table with cumulative counts ``cum`` and total ``T`` owns [cum_s, cum_s + f_s) of T.
The interval after the symbols is [low/D, (low + width)/D) with

    low <- low * T + cum_s * width,   width <- width * f_s,   D <- D * T,

starting from low = 0, width = D = 1. No rounding happens anywhere (Python integers are
unbounded), so encoder and decoder agree on every platform, uniform symbols over any
range cost exactly log2(range) bits, and frequency tables need not sum to a power of two.
The record is the shortest whole number of bytes k whose value c (big-endian) satisfies
low <= c * D / 2^(8k) < low + width, with the smallest such c. The decoder reads c, finds
each symbol from where c falls, and at the end checks that the encoder would have written
exactly these bytes: a record that is not canonical is refused as corrupt.

Every step is linear in the integers' length: the writer and the reader multiply them by
a table's small numbers only, and the reader finds a symbol from the part of c left within
the interval (``_quotient``) rather than by dividing big integers. A record of n bits thus
costs O(n) per symbol, O(n^2) in all, which is why a container codes its items in chunks
of a few dozen (see ``rec_codec.batch``).
"""

import math

import numpy as np

from .errors import FormatError, InputError

__all__ = ["RecordWriter", "RecordReader", "cumulative_table", "quantize_frequencies", "frequency_bits"]

_CORRUPT = "record is corrupt or truncated"


def quantize_frequencies(probabilities, total_bits=16):
    """Integer frequencies for a probability vector: every entry >= 1, summing to 2^total_bits.

    Args:
        probabilities (array_like): non-negative weights (normalised here), at most
            2^total_bits - 1 of them would not leave room: the length must be below
            2^total_bits.
        total_bits (int): log2 of the frequencies' sum, 1..30.
    Returns:
        np.ndarray: int64 frequencies.
    Raises:
        InputError: weights that are negative, not finite or all zero, or too many of them.
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    total = 1 << int(total_bits)
    if p.size == 0 or p.size >= total or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise InputError("frequencies need 1..2^bits - 1 finite non-negative weights with a positive sum")
    spare = total - p.size
    freqs = 1 + np.floor(p / p.sum() * spare).astype(np.int64)
    # hand the rounding remainder to the largest entries, ties to the lower symbol
    short = total - int(freqs.sum())
    if short > 0:
        order = np.argsort(-p, kind="stable")
        freqs[order[np.arange(short) % p.size]] += 1
    return freqs


def frequency_bits(freqs, symbols):
    """Information content in bits of symbols under an integer frequency table."""
    freqs = np.asarray(freqs, dtype=np.int64)
    return float(-np.log2(freqs[np.asarray(symbols, dtype=np.int64)] / freqs.sum()).sum())


class RecordWriter:
    """Collects symbols and writes them as one canonical byte string."""

    def __init__(self):
        self._low, self._width, self._scale = 0, 1, 1

    def _put(self, cum, freq, total):
        self._low = self._low * total + cum * self._width
        self._width *= freq
        self._scale *= total

    def uniform(self, value, size):
        """A value in [0, size), each equally likely: log2(size) bits."""
        value, size = int(value), int(size)
        if not 0 <= value < size:
            raise InputError(f"uniform symbol {value} is outside [0, {size})")
        if size > 1:
            self._put(value, 1, size)

    def categorical(self, symbol, cumulative):
        """A symbol under a table from ``cumulative_table``."""
        symbol = int(symbol)
        freq = cumulative[symbol + 1] - cumulative[symbol] if 0 <= symbol < len(cumulative) - 1 else 0
        if freq <= 0:
            raise InputError(f"symbol {symbol} has no probability under its model")
        self._put(cumulative[symbol], freq, cumulative[-1])

    def information_bits(self):
        """-log2 of the interval's width: the bits the symbols carry so far."""
        return math.log2(self._scale) - math.log2(self._width)

    def finish(self):
        """The record: the fewest whole bytes that name a point of the interval."""
        return _canonical(self._low, self._width, self._scale)


def _canonical(low, width, scale):
    # a multiple of 2^-nbits lies in the interval once 2^-nbits <= width / scale; start
    # just below that
    gap = scale.bit_length() - width.bit_length()
    nbytes = max(0, (gap - 1) // 8)
    while True:
        nbits = 8 * nbytes
        c = -((-low << nbits) // scale)  # ceil(low * 2^nbits / scale)
        if c * scale < (low + width) << nbits:
            return c.to_bytes(nbytes, "big") if nbytes else b""
        nbytes += 1


def cumulative_table(freqs):
    """The cumulative counts (a list of Python ints, length len(freqs) + 1) of a table."""
    freqs = np.asarray(freqs, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(freqs))).tolist()


def _quotient(rest, total, span):
    """floor(rest * total / span) for 0 <= rest < span, with no division of big integers.

    A span at most 64 bits longer than ``total`` is divided exactly. A longer one is cut
    to its leading total.bit_length() + 64 bits (b, rounded up) and rest by as many bits
    (a, rounded down): a * total / b then lies below the true ratio by less than
    2 total / b < 2^-62, so its floor q is the true quotient or one less, which one
    comparison of rest * total - q * span with span settles (multiplications by small
    numbers only).
    """
    shift = span.bit_length() - total.bit_length() - 64
    if shift <= 0:
        return rest * total // span
    q = ((rest >> shift) * total) // ((span >> shift) + 1)
    if rest * total - q * span >= span:
        q += 1
    return q


class RecordReader:
    """Reads back what a ``RecordWriter`` wrote; ``finish`` checks the record is canonical.

    With c the record's value over 2^nbits and [low, low + width) / scale the interval, the
    reader keeps rest = c * scale - low * 2^nbits, span = width * 2^nbits and scale: c lies
    in the interval, so 0 <= rest < span, and the next symbol's position is
    floor(rest * total / span), always in [0, total); each step keeps 0 <= rest < span
    (for any bytes, so corruption shows only as a zero-frequency symbol or at ``finish``).
    ``finish`` recovers low and width from them.
    """

    def __init__(self, data):
        data = bytes(data)
        self._data = data
        self._nbits = 8 * len(data)
        self._value = int.from_bytes(data, "big")
        self._rest, self._span, self._scale = self._value, 1 << self._nbits, 1

    def _locate(self, total):
        # where the value falls within the current interval, in units of 1/total
        return _quotient(self._rest, total, self._span)

    def _take(self, cum, freq, total):
        # low <- low * total + cum * width, width <- width * freq, scale <- scale * total
        self._rest = self._rest * total - cum * self._span
        self._span *= freq
        self._scale *= total

    def uniform(self, size):
        size = int(size)
        if size <= 1:
            return 0
        value = self._locate(size)  # in [0, size): 0 <= rest < span
        self._take(value, 1, size)
        return int(value)

    def categorical(self, cumulative):
        total = cumulative[-1]
        position = self._locate(total)  # in [0, total): 0 <= rest < span
        # the symbol whose range holds position (bisect over the cumulative list)
        lo, hi = 0, len(cumulative) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if cumulative[mid] <= position:
                lo = mid
            else:
                hi = mid
        freq = cumulative[lo + 1] - cumulative[lo]
        if freq <= 0:
            raise FormatError(_CORRUPT)
        self._take(cumulative[lo], freq, total)
        return lo

    def finish(self):
        """Refuse a record that the writer would not have written for these symbols."""
        low = (self._value * self._scale - self._rest) >> self._nbits
        width = self._span >> self._nbits
        if _canonical(low, width, self._scale) != self._data:
            raise FormatError(_CORRUPT)
