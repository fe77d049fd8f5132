"""The record reader of this tree against that of another checkout: the same symbols, and
the time per symbol of each, in one process.

Chunks of records like a codec model's items are written with this tree's writer: per
item a coding component (32), 24 bins (2 to 9 each), three octaves under a 63-entry table
and their uniforms, about 90 bits, from 1 to 256 items per chunk. Both readers must return
the same symbols and accept the record, and with a byte flipped or dropped both must
refuse it or both read the same symbols. Then both decode every chunk size, alternating,
and the script prints microseconds per symbol.

    git worktree add /tmp/before 370d817
    python bench/records_against_checkout.py /tmp/before --rounds 5
"""

import argparse
import math
import time

import numpy as np

from rec_codec import record_coder

from checkout import checkout_modules  # bench/checkout.py

_CHUNKS = (1, 8, 64, 256)


def chunk_symbols(items, rng):
    """[(kind, value, table or size)] of ``items`` items, kind "c" (categorical) or "u" (uniform)."""
    components = record_coder.cumulative_table(record_coder.quantize_frequencies(rng.random(32) + 0.1, 16))
    octaves = record_coder.cumulative_table(record_coder.quantize_frequencies(np.exp(-0.5 * (np.arange(63) - 4.0) ** 2
                                                                                      / 4.0) + 1e-6, 16))
    symbols = []
    for _ in range(items):
        symbols.append(("c", int(rng.integers(32)), components))
        symbols += [("u", int(rng.integers(n)), int(n)) for n in rng.integers(2, 10, 24)]
        for octave in rng.integers(0, 9, 3):
            symbols.append(("c", int(octave), octaves))
            symbols.append(("u", int(rng.integers(1 << octave)), 1 << int(octave)))
    return symbols


def write(symbols):
    writer = record_coder.RecordWriter()
    for kind, value, model in symbols:
        if kind == "c":
            writer.categorical(value, model)
        else:
            writer.uniform(value, model)
    return writer.finish()


def read(module, data, symbols):
    """The symbols ``module``'s reader finds in data, read as ``symbols`` were written."""
    reader = module.RecordReader(data)
    out = [reader.categorical(model) if kind == "c" else reader.uniform(model) for kind, _, model in symbols]
    reader.finish()
    return out


def outcome(module, data, symbols):
    """The symbols read, or "refused" where the reader raises its FormatError."""
    try:
        return read(module, data, symbols)
    except Exception as error:  # FormatError, here or the checkout's own class
        if type(error).__name__ != "FormatError":
            raise
        return "refused"


def corrupted(data, rng, count=8):
    """``count`` copies of data with one bit flipped, and one without its last byte."""
    out = [data[:-1]]
    for position in rng.integers(0, len(data), count):
        bad = bytearray(data)
        bad[position] ^= 1 << int(rng.integers(8))
        out.append(bytes(bad))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", help="a checkout of another commit (its rec_codec folder is used)")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds, alternating")
    args = parser.parse_args()
    (other,) = checkout_modules(args.checkout, "record_coder")
    rng = np.random.default_rng(7)
    chunks = []
    for items in _CHUNKS:
        symbols = chunk_symbols(items, rng)
        data = write(symbols)
        expected = [value for _, value, _ in symbols]
        assert read(record_coder, data, symbols) == read(other, data, symbols) == expected
        for bad in corrupted(data, rng):
            assert outcome(record_coder, bad, symbols) == outcome(other, bad, symbols)
        chunks.append((items, symbols, data))
    print("every chunk, and 9 corrupt copies of each: the same symbols or the same refusal from both readers")
    readers = {"checkout": other, "this tree": record_coder}
    best = {(items, name): math.inf for items, _, _ in chunks for name in readers}
    for _ in range(args.rounds):
        for items, symbols, data in chunks:
            for name, module in readers.items():
                started = time.perf_counter()
                read(module, data, symbols)
                best[items, name] = min(best[items, name], (time.perf_counter() - started) / len(symbols))
    print(f"{'items':>6} {'bits':>7} {'checkout us/symbol':>19} {'this tree us/symbol':>20} {'ratio':>7}")
    for items, symbols, data in chunks:
        before, after = best[items, "checkout"], best[items, "this tree"]
        print(f"{items:>6} {8 * len(data):>7} {1e6 * before:>19.2f} {1e6 * after:>20.2f} {before / after:>7.1f}")


if __name__ == "__main__":
    main()
