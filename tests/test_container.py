"""Tests of rec_codec.container: the file format, the seed/prior tag and atomic writes."""

import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_codec import container
from rec_codec.container import (
    ALGORITHMS,
    MAGIC,
    PARAM_TYPES,
    PARAMS,
    Header,
    atomic_write,
    check_tag,
    describe,
    header_size,
    pack,
    read_file,
    seed_tag,
    unpack,
)
from rec_codec.errors import FormatError, InputError, MismatchError

# Pinned bytes of _SAMPLE_HEADER + _SAMPLE_PAYLOAD. The format is versioned: these bytes
# change only with a new format version. To regenerate after such a change, print
# pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD).hex() and paste it here.
_SAMPLE_HEADER = Header(
    algorithm="orc",
    shape=(2, 300),
    tag=0xDEADBEEF,
    params={"max_steps": 1000, "block_bits": 16.0, "index_model": 7, "num_blocks": 3},
    approximate=True,
)
_SAMPLE_PAYLOAD = np.array([1, 0xFFFFFFFF], dtype=np.uint32)
_SAMPLE_HEX = (
    "89524543" "02" "02" "01" "c50132ed"  # magic, version, orc, approximate, tag (folded)
    "02" "02" "ac02"  # ndim 2, shape (2, 300)
    "04" "0100008041" "0303" "0507000000" "08e807"  # 4 params sorted by id
    "08" "01000000" "ffffffff"  # payload_len 8, payload words
)

_FULL_HEADER = Header(
    algorithm="sp-pfr",
    shape=(2, 3, 4),
    tag=0x12345678,
    params={
        "block_bits": 16.5,
        "block_dims": 8,
        "num_blocks": 3,
        "orc_candidates": 1 << 40,
        "index_model": 0xFFFFFFFF,
        "layout_mean": -0.25,
        "layout_std": 1.5,
        "max_steps": 0,
    },
)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _body(
    *,
    version=1,
    algorithm=1,
    flags=0,
    shape=b"\x00",
    params=b"\x00",
    payload=b"\x00",
) -> bytes:
    """Hand-built file body (everything before the CRC)."""
    return MAGIC + bytes([version, algorithm, flags]) + b"\x00\x00\x00\x00" + shape + params + payload


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4), (0,), (1 << 63,)])
def test_round_trip_keeps_header_and_payload(shape):
    header = Header("pfr", shape, tag=42, params={"block_dims": 4})
    payload = np.arange(7, dtype=np.uint32)
    got_header, got_payload = unpack(pack(header, payload))
    assert got_header == header
    assert got_payload.dtype == np.uint32
    np.testing.assert_array_equal(got_payload, payload)


def test_round_trip_keeps_every_param_type():
    got, payload = unpack(pack(_FULL_HEADER, np.zeros(0, dtype=np.uint32)))
    assert got == _FULL_HEADER
    assert payload.shape == (0,)
    assert type(got.params["block_dims"]) is int
    assert type(got.params["index_model"]) is int
    assert type(got.params["block_bits"]) is float


def test_every_param_declares_a_known_type_and_a_unique_id():
    ids = [ident for ident, _ in PARAMS.values()]
    assert len(set(ids)) == len(ids) and all(1 <= i <= 255 for i in ids)
    assert all(kind in PARAM_TYPES for _, kind in PARAMS.values())
    algorithm_ids = list(ALGORITHMS.values())
    assert len(set(algorithm_ids)) == len(algorithm_ids) and all(1 <= i <= 255 for i in algorithm_ids)


def test_every_algorithm_round_trips_with_both_flag_values():
    for name in ALGORITHMS:
        for approximate in (False, True):
            header = Header(name, (3,), tag=1, params={}, approximate=approximate)
            assert unpack(pack(header, np.ones(1, dtype=np.uint32)))[0] == header


def test_f32_param_reads_back_as_its_float32_value():
    header = Header("pfr", (1,), tag=0, params={"layout_mean": 0.1, "layout_std": 3})
    got = unpack(pack(header, np.zeros(0, dtype=np.uint32)))[0]
    assert got.params["layout_mean"] == float(np.float32(0.1))
    assert got.params["layout_std"] == 3.0


def test_f64_type_keeps_full_precision(monkeypatch):
    monkeypatch.setitem(PARAMS, "test_f64", (200, "f64"))
    header = Header("pfr", (1,), tag=0, params={"test_f64": 0.1})
    assert unpack(pack(header, np.zeros(0, dtype=np.uint32)))[0].params["test_f64"] == 0.1


def test_big_endian_payload_is_stored_little_endian():
    payload = np.array([1, 2, 0x01020304], dtype=">u4")
    data = pack(Header("pfr", (1,), tag=0), payload)
    np.testing.assert_array_equal(unpack(data)[1], payload.astype(np.uint32))
    assert data[-16:-4] == struct.pack("<3I", 1, 2, 0x01020304)


@settings(max_examples=150, deadline=None)
@given(
    algorithm=st.sampled_from(sorted(ALGORITHMS)),
    shape=st.lists(st.integers(0, (1 << 64) - 1), max_size=32).map(tuple),
    tag=st.integers(0, (1 << 32) - 1),
    approximate=st.booleans(),
    params=st.fixed_dictionaries(
        {},
        optional={
            name: (
                st.integers(0, (1 << 64) - 1)
                if kind == "varint"
                else st.integers(0, (1 << 32) - 1)
                if kind == "u32"
                else st.floats(-1e30, 1e30, allow_nan=False)
            )
            for name, (_, kind) in PARAMS.items()
        },
    ),
    words=st.lists(st.integers(0, (1 << 32) - 1), max_size=50),
)
def test_pack_then_unpack_is_identity(algorithm, shape, tag, approximate, params, words):
    header = Header(algorithm, shape, tag, params, approximate)
    payload = np.array(words, dtype=np.uint32)
    data = pack(header, payload)
    got_header, got_payload = unpack(data)
    expected = {
        name: float(np.float32(value)) if PARAMS[name][1] == "f32" else value
        for name, value in params.items()
    }
    assert got_header == Header(algorithm, shape, tag, expected, approximate)
    np.testing.assert_array_equal(got_payload, payload)
    assert header_size(data) == len(data) - 4 * len(words)
    assert pack(got_header, got_payload) == data


# --------------------------------------------------------------------------- determinism


def test_pack_gives_the_pinned_bytes():
    data = pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)
    assert data == _with_crc(bytes.fromhex(_SAMPLE_HEX))


def test_pack_is_independent_of_param_insertion_order():
    reordered = Header(
        _SAMPLE_HEADER.algorithm,
        _SAMPLE_HEADER.shape,
        _SAMPLE_HEADER.tag,
        dict(reversed(list(_SAMPLE_HEADER.params.items()))),
        _SAMPLE_HEADER.approximate,
    )
    assert pack(reordered, _SAMPLE_PAYLOAD) == pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)


# --------------------------------------------------------------------------- corruption


def test_every_truncation_raises_format_error():
    data = pack(_FULL_HEADER, np.arange(5, dtype=np.uint32))
    for length in range(len(data)):
        with pytest.raises(FormatError):
            unpack(data[:length])


def test_truncation_inside_the_payload_says_truncated():
    data = pack(_FULL_HEADER, np.arange(5, dtype=np.uint32))
    for cut in (1, 4, 9):
        with pytest.raises(FormatError, match="^truncated"):
            unpack(data[:-cut])
    with pytest.raises(FormatError, match="^truncated"):
        unpack(MAGIC)


def test_every_flipped_byte_raises_format_error():
    data = pack(_FULL_HEADER, np.arange(5, dtype=np.uint32))
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            corrupt = bytearray(data)
            corrupt[position] ^= mask
            with pytest.raises(FormatError):
                unpack(bytes(corrupt))


def test_flipped_payload_byte_says_checksum_mismatch():
    data = bytearray(pack(_FULL_HEADER, np.arange(5, dtype=np.uint32)))
    data[-6] ^= 0x10
    with pytest.raises(FormatError, match="^checksum mismatch: the file is corrupt$"):
        unpack(bytes(data))


def test_empty_data_says_truncated():
    with pytest.raises(FormatError, match="^truncated: the file is empty$"):
        unpack(b"")


@pytest.mark.parametrize("data", [b"PK\x03\x04" + bytes(30), b"\x89RED" + bytes(30), b"x"])
def test_other_data_is_not_a_reccodec_file(data):
    with pytest.raises(FormatError, match="^not a reccodec file$"):
        unpack(data)


def test_version_3_file_is_refused_with_the_version_message():
    data = _with_crc(_body(version=3))
    with pytest.raises(
        FormatError, match="^format version 3 is not supported; this reccodec reads versions 1, 2$"
    ):
        unpack(data)


def test_version_1_file_is_read_with_its_tag_as_stored():
    body = bytearray(pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)[:-4])
    body[4] = 1
    body[7:11] = struct.pack("<I", 0xDEADBEEF)
    header, words = unpack(_with_crc(bytes(body)))
    assert header == _SAMPLE_HEADER
    assert words.tolist() == _SAMPLE_PAYLOAD.tolist()


def test_every_byte_but_the_crc_is_folded_into_the_tag():
    data = pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)
    for position in range(4, len(data) - 4):
        if 7 <= position < 11:
            continue
        for bit in range(8):
            body = bytearray(data[:-4])
            body[position] ^= 1 << bit
            try:
                header, _ = unpack(_with_crc(bytes(body)))
            except FormatError:
                continue  # no longer parses
            assert header.tag != _SAMPLE_HEADER.tag, (position, bit)


def test_hand_built_minimal_file_is_read():
    header, payload = unpack(_with_crc(_body()))
    assert header == Header("pfr", (), 0, {}, False)
    assert payload.shape == (0,)


def test_bytes_appended_after_the_crc_say_trailing_bytes():
    data = pack(_FULL_HEADER, np.arange(5, dtype=np.uint32))
    with pytest.raises(FormatError, match="3 trailing bytes after the checksum"):
        unpack(data + b"abc")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body(algorithm=0), "unknown algorithm id 0"),
        (_body(algorithm=250), "unknown algorithm id 250"),
        (_body(flags=0x02), "unknown flags"),
        (_body(shape=b"\x21" + b"\x00" * 33), "at most 32"),
        (_body(params=b"\x01\xfa\x00"), "unknown parameter id 250"),
        (_body(params=b"\x02\x02\x01\x02\x01"), "repeated or out of order"),
        (_body(params=b"\x02\x03\x01\x02\x01"), "repeated or out of order"),
        (_body(params=b"\x01\x01\x00\x00\x80\x7f"), "not finite"),
        (_body(shape=b"\x01" + b"\xff" * 10 + b"\x01"), "varint overflow"),
        (_body(shape=b"\x01" + b"\xff" * 9 + b"\x02"), "varint overflow"),
        (_body(shape=b"\x01\x80\x00"), "non-canonical varint"),
        (_body(payload=b"\x03abc"), "not a multiple of 4"),
        (_body(payload=b"\x04abcdEXTRA"), "unexpected bytes after the payload"),
        (_body(payload=b"\x08abcd"), "truncated"),
        (_body(payload=b"\x80"), "truncated"),
    ],
)
def test_malformed_file_with_valid_crc_raises_format_error(body, message):
    with pytest.raises(FormatError, match=message):
        unpack(_with_crc(body))


def test_largest_varint_is_accepted():
    header, _ = unpack(_with_crc(_body(shape=b"\x01" + b"\xff" * 9 + b"\x01")))
    assert header.shape == ((1 << 64) - 1,)


def test_format_errors_are_one_line():
    data = pack(_FULL_HEADER, np.arange(5, dtype=np.uint32))
    for bad in (data[:3], data[:20], data + b"x", b"nope", _with_crc(_body(version=9))):
        with pytest.raises(FormatError) as info:
            unpack(bad)
        assert "\n" not in str(info.value)


def test_unpack_accepts_bytearray_and_memoryview():
    data = pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)
    assert unpack(bytearray(data))[0] == _SAMPLE_HEADER
    assert unpack(memoryview(data))[0] == _SAMPLE_HEADER
    with pytest.raises(InputError):
        unpack("not bytes")


# --------------------------------------------------------------------------- bad input to pack


@pytest.mark.parametrize(
    "header",
    [
        Header("nope", (1,), 0),
        Header(1, (1,), 0),
        Header("pfr", (1,), 0, {"unknown": 1}),
        Header("pfr", (1,), 0, {"block_dims": -1}),
        Header("pfr", (1,), 0, {"block_dims": 1 << 64}),
        Header("pfr", (1,), 0, {"block_dims": 2.0}),
        Header("pfr", (1,), 0, {"block_dims": True}),
        Header("pfr", (1,), 0, {"index_model": 1 << 32}),
        Header("pfr", (1,), 0, {"block_bits": float("nan")}),
        Header("pfr", (1,), 0, {"block_bits": float("inf")}),
        Header("pfr", (1,), 0, {"block_bits": 1e39}),
        Header("pfr", (1,), 0, {"block_bits": 10**400}),
        Header("pfr", (1,), 0, {"block_bits": "16"}),
        Header("pfr", (1,), -1),
        Header("pfr", (1,), 1 << 32),
        Header("pfr", (1,), 1.0),
        Header("pfr", (-1,), 0),
        Header("pfr", (1.5,), 0),
        Header("pfr", 3, 0),
        Header("pfr", (1,) * 33, 0),
        Header("pfr", (1,), 0, approximate=1),
        Header("pfr", (1,), 0, params=[("block_dims", 1)]),
    ],
)
def test_pack_refuses_invalid_header(header):
    with pytest.raises(InputError):
        pack(header, np.zeros(1, dtype=np.uint32))


@pytest.mark.parametrize(
    "payload",
    [[1, 2], np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.uint64), np.zeros((2, 2), dtype=np.uint32)],
)
def test_pack_refuses_payload_that_is_not_1d_uint32(payload):
    with pytest.raises(InputError):
        pack(Header("pfr", (1,), 0), payload)


def test_pack_accepts_numpy_scalars():
    header = Header("pfr", (np.int64(3),), np.uint32(5), {"block_bits": np.float32(2.5), "num_blocks": np.int8(2)})
    got = unpack(pack(header, np.zeros(1, dtype=np.uint32)))[0]
    assert got == Header("pfr", (3,), 5, {"block_bits": 2.5, "num_blocks": 2})


# --------------------------------------------------------------------------- header size and info


def test_header_size_counts_everything_but_payload_words():
    data = pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)
    assert header_size(data) == len(data) - 8
    assert header_size(data) == len(bytes.fromhex(_SAMPLE_HEX)) - 8 + 4


def test_describe_reports_header_and_payload_apart_as_json():
    data = pack(_SAMPLE_HEADER, _SAMPLE_PAYLOAD)
    info = describe(data)
    assert info == {
        "format_version": 2,
        "algorithm": "orc",
        "approximate": True,
        "shape": [2, 300],
        "params": {"block_bits": 16.0, "num_blocks": 3, "index_model": 7, "max_steps": 1000},
        "tag": "deadbeef",
        "file_bytes": len(data),
        "header_bytes": len(data) - 8,
        "payload_bytes": 8,
        "header_bits": 8 * (len(data) - 8),
        "payload_bits": 64,
    }
    assert list(info["params"]) == ["block_bits", "num_blocks", "index_model", "max_steps"]
    json.dumps(info)


def test_describe_of_corrupt_file_raises_format_error():
    with pytest.raises(FormatError):
        describe(b"\x89REC\x01")


# --------------------------------------------------------------------------- seed tag


def _prior(n=6):
    return np.linspace(-1, 1, n), np.linspace(0.5, 2, n)


def test_seed_tag_is_a_deterministic_u32():
    mean, std = _prior()
    tag = seed_tag(7, mean, std)
    assert 0 <= tag < 1 << 32
    assert tag == seed_tag(7, mean.copy(), std.astype(">f8"))
    assert tag == seed_tag(np.uint64(7), list(mean), tuple(std))


def test_seed_tag_is_pinned():
    # Regenerate with: seed_tag(0, np.zeros(3), np.ones(3)) (changes only with the format).
    import hashlib

    message = (
        (0).to_bytes(8, "little")
        + b"\x01" + struct.pack("<Q", 3)
        + b"\x01" + struct.pack("<Q", 3)
        + np.zeros(3, "<f8").tobytes()
        + np.ones(3, "<f8").tobytes()
    )
    expected = int.from_bytes(hashlib.blake2b(message).digest()[:4], "little")
    assert seed_tag(0, np.zeros(3), np.ones(3)) == expected


def test_seed_tag_differs_for_another_seed():
    mean, std = _prior()
    tags = {seed_tag(seed, mean, std) for seed in (0, 1, 2, 1 << 32, (1 << 64) - 1)}
    assert len(tags) == 5


def test_seed_tag_differs_for_a_perturbed_prior():
    mean, std = _prior()
    tag = seed_tag(3, mean, std)
    bumped_mean = mean.copy()
    bumped_mean[2] = np.nextafter(bumped_mean[2], np.inf)
    bumped_std = std.copy()
    bumped_std[-1] *= 1.001
    assert seed_tag(3, bumped_mean, std) != tag
    assert seed_tag(3, mean, bumped_std) != tag
    assert seed_tag(3, std, mean) != tag


def test_seed_tag_differs_for_another_shape_of_the_same_values():
    mean, std = _prior(6)
    assert seed_tag(3, mean, std) != seed_tag(3, mean.reshape(2, 3), std.reshape(2, 3))


def test_seed_tag_does_not_tell_the_two_zeros_apart():
    assert seed_tag(1, np.array([0.0]), np.ones(1)) == seed_tag(1, np.array([-0.0]), np.ones(1))


@pytest.mark.parametrize("seed", [-1, 1 << 64, 1.0, "3", True])
def test_seed_tag_refuses_seed_outside_u64(seed):
    mean, std = _prior()
    with pytest.raises(InputError):
        seed_tag(seed, mean, std)


def test_check_tag_passes_for_the_encoders_seed_and_prior_and_refuses_others():
    mean, std = _prior()
    header = Header("pfr", mean.shape, seed_tag(11, mean, std))
    check_tag(header, 11, mean, std)
    with pytest.raises(MismatchError, match=r"^the seed or the prior differs from the encoder's \(tag mismatch\)$"):
        check_tag(header, 12, mean, std)
    with pytest.raises(MismatchError):
        check_tag(header, 11, mean + 1e-9, std)


# --------------------------------------------------------------------------- files


def test_atomic_write_then_read_file_round_trips(tmp_path):
    target = tmp_path / "out.rec"
    atomic_write(target, b"first")
    atomic_write(str(target), b"second")
    assert read_file(target) == b"second"
    assert os.listdir(tmp_path) == ["out.rec"]


def test_atomic_write_gives_new_file_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.rec", b"x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.rec").st_mode & 0o777 == 0o644


def test_atomic_write_keeps_permissions_of_an_existing_file(tmp_path):
    target = tmp_path / "a.rec"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    atomic_write(target, b"new")
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_atomic_write_failure_leaves_no_file_and_no_temp_file(tmp_path, monkeypatch):
    def failing_replace(src, dst):
        raise OSError("simulated failure")

    monkeypatch.setattr(container.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated failure"):
        atomic_write(tmp_path / "out.rec", b"data")
    assert os.listdir(tmp_path) == []


def test_atomic_write_failure_keeps_the_old_content(tmp_path, monkeypatch):
    target = tmp_path / "out.rec"
    target.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(container.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, b"new content")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.rec"]


def test_atomic_write_into_missing_directory_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "out.rec", b"x")
    assert os.listdir(tmp_path) == []


def test_read_file_of_missing_file_raises_one_line_input_error(tmp_path):
    missing = tmp_path / "nope.rec"
    with pytest.raises(InputError, match=r"^cannot read .*nope\.rec: No such file or directory$"):
        read_file(missing)


def test_read_file_of_directory_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="^cannot read "):
        read_file(tmp_path)


def test_written_file_round_trips_through_disk(tmp_path):
    target = tmp_path / "x.rec"
    atomic_write(target, pack(_FULL_HEADER, np.arange(3, dtype=np.uint32)))
    header, payload = unpack(read_file(target))
    assert header == _FULL_HEADER
    np.testing.assert_array_equal(payload, np.arange(3))
