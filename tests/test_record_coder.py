"""The exact arithmetic coder of records: round trips, cost, canonical form."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_codec.errors import FormatError, InputError
from rec_codec.record_coder import RecordReader, RecordWriter, cumulative_table, quantize_frequencies


def _write(symbols, uniforms, cum):
    writer = RecordWriter()
    for s in symbols:
        writer.categorical(s, cum)
    for value, size in uniforms:
        writer.uniform(value, size)
    return writer.information_bits(), writer.finish()


def _read(data, count, sizes, cum):
    reader = RecordReader(data)
    symbols = [reader.categorical(cum) for _ in range(count)]
    values = [reader.uniform(size) for size in sizes]
    reader.finish()
    return symbols, values


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=20),
       st.lists(st.integers(1, 2**62).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))), max_size=6),
       st.lists(st.floats(0.0, 1.0), min_size=10, max_size=10).filter(lambda p: sum(p) > 0))
def test_records_round_trip_and_cost_at_most_one_byte_over_their_information(symbols, uniforms, weights):
    cum = cumulative_table(quantize_frequencies(weights, 12))
    bits, data = _write(symbols, uniforms, cum)
    assert _read(data, len(symbols), [n for _, n in uniforms], cum) == (symbols, [v for v, _ in uniforms])
    assert 8 * len(data) <= math.ceil(bits + 1 + 1e-9) + 7


def test_uniform_symbols_cost_exactly_their_log2():
    writer = RecordWriter()
    for _ in range(8):
        writer.uniform(3, 7)
    assert writer.information_bits() == pytest.approx(8 * math.log2(7))


def test_an_empty_record_has_no_bytes():
    assert RecordWriter().finish() == b""
    RecordReader(b"").finish()


def test_every_non_canonical_record_is_refused():
    cum = cumulative_table([3, 1, 4, 8])
    _, data = _write([0, 2, 3, 1, 2], [(5, 11)], cum)
    refused = 0
    for byte in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[byte] ^= 1 << bit
            try:
                _read(bytes(bad), 5, [11], cum)
            except FormatError:
                refused += 1
    assert refused >= 1
    with pytest.raises(FormatError):
        _read(data + b"\x00", 5, [11], cum)


def test_quantized_frequencies_are_positive_and_sum_to_the_total():
    freqs = quantize_frequencies([0.0, 1e-12, 0.5, 0.5], 16)
    assert (freqs >= 1).all() and freqs.sum() == 2**16
    with pytest.raises(InputError):
        quantize_frequencies([0.0, 0.0], 16)
    with pytest.raises(InputError):
        quantize_frequencies([1.0, float("nan")], 16)


def test_a_symbol_without_probability_is_refused_by_the_writer():
    with pytest.raises(InputError):
        RecordWriter().categorical(4, cumulative_table([1, 1]))
    with pytest.raises(InputError):
        RecordWriter().uniform(5, 5)


def test_random_bytes_decode_or_fail_cleanly():
    rng = np.random.default_rng(3)
    cum = cumulative_table([5, 1, 1, 9])
    for _ in range(500):
        data = rng.integers(0, 256, rng.integers(0, 12)).astype(np.uint8).tobytes()
        try:
            _read(data, 4, [1000], cum)
        except FormatError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 2**62), st.integers(0, 4000), st.data())
def test_the_readers_quotient_is_the_exact_floor(total, span_bits, data):
    from rec_codec.record_coder import _quotient

    span = data.draw(st.integers(2**span_bits, 2**(span_bits + 1) - 1))
    rest = data.draw(st.sampled_from([0, span - 1, span // 2]) | st.integers(0, span - 1))
    assert _quotient(rest, total, span) == rest * total // span


def test_long_records_round_trip():
    rng = np.random.default_rng(5)
    cum = cumulative_table(quantize_frequencies(rng.random(63) ** 4, 16))
    symbols = rng.integers(0, 63, 3000).tolist()
    sizes = [int(n) for n in rng.integers(1, 2**62, 3000, dtype=np.int64)]
    values = [int(rng.integers(0, n)) for n in sizes]
    writer = RecordWriter()
    for s, v, n in zip(symbols, values, sizes):
        writer.categorical(s, cum)
        writer.uniform(v, n)
    data = writer.finish()
    reader = RecordReader(data)
    assert [(reader.categorical(cum), reader.uniform(n)) for n in sizes] == list(zip(symbols, values))
    reader.finish()
