"""Tests of the ``reccodec`` command line: round trips, figures, and one-line errors.

Commands run in-process through ``reccodec_cli.main.main(argv)``, the console entry point
(it turns every error into one ``Error: ...`` line on stderr and an exit status), with
stdin, stdout and stderr swapped for byte buffers so that ``-`` can be tested too. One test
runs the installed CLI as a real subprocess and pipes a file through stdout and stdin.

The targets are small (6 dimensions, std in 0.2..0.6 under the N(0, 1) prior), so exact PFR
needs a few hundred candidates per block and the whole file runs in seconds.
"""

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

from reccodec_cli.main import main

SEED = "7"
OUTPUT_OPTIONS = ("-o", "--output", "--sample-out")


# --------------------------------------------------------------------------- helpers


@dataclass
class Result:
    code: int
    out: bytes
    err: str


class _Stream(io.TextIOWrapper):
    """A text stream over bytes, with the ``.buffer`` that binary I/O and click use."""

    def __init__(self, data=b"", tty=False):
        super().__init__(io.BytesIO(data), encoding="utf-8", write_through=True)
        self._tty = tty

    def isatty(self):
        return self._tty

    def getvalue(self):
        self.flush()
        return self.buffer.getvalue()


def run_cli(*argv, stdin=b"", tty=False):
    """Run ``main(argv)`` in-process; return its exit status, stdout bytes and stderr text.

    ``tty=True`` makes stdout claim to be a terminal. Any exception other than SystemExit
    propagates, failing the test: the real CLI would have printed a traceback.
    """
    args = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in argv]
    streams = (_Stream(stdin), _Stream(tty=tty), _Stream())
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = streams
    try:
        try:
            main(args)
        except SystemExit as e:
            code = 0 if e.code is None else e.code
        else:
            raise AssertionError("main() returned instead of calling sys.exit")
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return Result(code, streams[1].getvalue(), streams[2].getvalue().decode("utf-8"))


def ok(*argv, stdin=b""):
    result = run_cli(*argv, stdin=stdin)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result


def _listing(folder):
    """Every file under folder (hidden and temporary ones included) with its content."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


def assert_one_error_line(result, *fragments, code=1):
    """Exit status ``code``, nothing on stdout, one ``Error: ...`` line naming the fragments."""
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: ") and lines[0][len("Error: "):].strip(), result.err
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), (fragment, lines[0])
    assert result.out == b""
    return lines[0]


def fails(folder, *argv, fragments=(), code=1, stdin=b"", tty=False):
    """Run a command that must fail, and check that it leaves folder exactly as it was.

    Besides ``assert_one_error_line``: no output file (nor a temporary one) appears, and
    files that existed keep their content.
    """
    outputs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in OUTPUT_OPTIONS]
    before = _listing(folder)
    result = run_cli(*argv, stdin=stdin, tty=tty)
    line = assert_one_error_line(result, *fragments, code=code)
    for path in outputs:
        if path != "-" and os.path.relpath(os.path.abspath(path), folder) not in before:
            assert not os.path.exists(path), f"{path} was left behind"
    assert _listing(folder) == before
    return line


def write_gaussian(path, mean, std):
    np.savez(path, mean=np.asarray(mean, dtype=np.float64), std=np.asarray(std, dtype=np.float64))
    return path


def random_gaussian(shape, seed=0):
    """Mean ~ N(0, 0.5), std ~ U(0.2, 0.6): a few bits of KL per dimension under N(0, 1)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.5, shape), rng.uniform(0.2, 0.6, shape)


@pytest.fixture
def target(tmp_path):
    return write_gaussian(tmp_path / "target.npz", *random_gaussian(6))


@pytest.fixture
def prior(tmp_path):
    return write_gaussian(tmp_path / "prior.npz", np.full(6, 0.1), np.full(6, 1.2))


@pytest.fixture
def encoded(tmp_path, target):
    """(file, chosen): target encoded with SEED under N(0, 1), and the encoder's sample."""
    rec, chosen = tmp_path / "encoded.rec", tmp_path / "chosen.npy"
    ok("encode", target, "-o", rec, "--seed", SEED, "--sample-out", chosen, "-q")
    return rec, chosen


def round_trip(tmp_path, target, *encode_options, decode_options=(), seed=SEED):
    """Encode then decode; return (encoder's sample bytes, decoded bytes, encode's JSON)."""
    rec, chosen, decoded = tmp_path / "rt.rec", tmp_path / "rt-chosen.npy", tmp_path / "rt-decoded.npy"
    result = ok("encode", target, "-o", rec, "--seed", seed, "--sample-out", chosen, "--json", *encode_options)
    ok("decode", rec, "-o", decoded, "--seed", seed, *decode_options)
    return chosen.read_bytes(), decoded.read_bytes(), json.loads(result.out)


def load_npy(data):
    return np.load(io.BytesIO(data), allow_pickle=False)


def with_crc(body):
    """body followed by its CRC32, as the container ends."""
    return body + struct.pack("<I", zlib.crc32(body))


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("shape", [(6,), (2, 3)])
def test_decode_gives_exactly_the_encoders_sample(tmp_path, shape):
    target = write_gaussian(tmp_path / "t.npz", *random_gaussian(shape, seed=1))
    chosen, decoded, _ = round_trip(tmp_path, target)
    assert decoded == chosen
    sample = load_npy(decoded)
    assert sample.dtype == np.float64
    assert sample.shape == shape
    assert np.isfinite(sample).all()


def test_round_trip_with_a_prior(tmp_path, target, prior):
    chosen, decoded, _ = round_trip(tmp_path, target, "--prior", prior, decode_options=("--prior", prior))
    assert decoded == chosen


def test_round_trip_with_orc(tmp_path, target):
    chosen, decoded, figures = round_trip(tmp_path, target, "--algorithm", "orc")
    assert decoded == chosen
    assert figures["algorithm"] == "orc" and figures["approximate"] is True


def test_round_trip_with_fixed_blocks_of_two_dims(tmp_path, target):
    chosen, decoded, figures = round_trip(tmp_path, target, "--block-dims", "2")
    assert decoded == chosen
    assert figures["blocks"] == 3


def test_round_trip_with_small_kl_blocks(tmp_path, target):
    chosen, decoded, figures = round_trip(tmp_path, target, "--block-bits", "1")
    assert decoded == chosen
    assert figures["blocks"] > 1


def test_round_trip_with_the_largest_seed(tmp_path, target):
    chosen, decoded, _ = round_trip(tmp_path, target, seed=str(2**64 - 1))
    assert decoded == chosen


def test_round_trip_through_stdout_and_stdin(tmp_path, target):
    chosen = tmp_path / "chosen.npy"
    encoded = ok("encode", target, "-o", "-", "--seed", SEED, "--sample-out", chosen, "-q").out
    assert encoded.startswith(b"\x89REC")
    decoded = ok("decode", "-", "-o", "-", "--seed", SEED, stdin=encoded).out
    assert decoded == chosen.read_bytes()


def test_encode_reads_the_target_from_stdin(tmp_path, target, encoded):
    rec, _ = encoded
    from_stdin = tmp_path / "stdin.rec"
    ok("encode", "-", "-o", from_stdin, "--seed", SEED, "-q", stdin=target.read_bytes())
    assert from_stdin.read_bytes() == rec.read_bytes()


def test_encode_json_prints_one_object_with_the_figures(tmp_path, target):
    rec = tmp_path / "out.rec"
    result = ok("encode", target, "-o", rec, "--seed", SEED, "--json")
    lines = result.out.decode().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    assert {"bits", "header_bits", "payload_bits", "kl_bits", "blocks", "seconds"} <= figures.keys()
    assert figures["bits"] == 8 * rec.stat().st_size
    assert figures["header_bits"] + figures["payload_bits"] == figures["bits"]
    assert figures["kl_bits"] > 0 and figures["blocks"] >= 1 and figures["seconds"] >= 0


def test_encode_summary_goes_to_stderr_and_quiet_silences_it(tmp_path, target):
    loud = ok("encode", target, "-o", tmp_path / "a.rec", "--seed", SEED)
    assert loud.out == b""
    assert len(loud.err.splitlines()) == 1 and "bits" in loud.err
    quiet = ok("encode", target, "-o", tmp_path / "b.rec", "--seed", SEED, "-q")
    assert quiet.out == b"" and quiet.err == ""


def test_info_shows_algorithm_shape_and_bits(tmp_path):
    target = write_gaussian(tmp_path / "t.npz", *random_gaussian((2, 3)))
    rec = tmp_path / "out.rec"
    figures = json.loads(ok("encode", target, "-o", rec, "--seed", SEED, "--json").out)
    lines = ok("info", rec).out.decode().splitlines()
    assert "algorithm: pfr" in lines
    assert "shape: [2, 3]" in lines
    assert f"header_bits: {figures['header_bits']}" in lines
    assert f"payload_bits: {figures['payload_bits']}" in lines
    assert not any(line.startswith("note:") for line in lines)


def test_info_json_agrees_with_encode_json(tmp_path, target):
    rec = tmp_path / "out.rec"
    figures = json.loads(ok("encode", target, "-o", rec, "--seed", SEED, "--json", "--algorithm", "orc").out)
    described = json.loads(ok("info", "--json", rec).out)
    assert described["algorithm"] == "orc"
    assert described["shape"] == [6]
    assert described["header_bits"] == figures["header_bits"]
    assert described["payload_bits"] == figures["payload_bits"]
    assert described["approximate"] is True


def test_info_notes_that_orc_is_approximate(tmp_path, target):
    rec = tmp_path / "out.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "--algorithm", "orc", "-q")
    assert "note: the sample is approximate" in ok("info", rec).out.decode()


def test_info_reads_stdin(encoded):
    rec, _ = encoded
    assert json.loads(ok("info", "--json", "-", stdin=rec.read_bytes()).out)["shape"] == [6]


def test_same_inputs_and_seed_give_identical_bytes(tmp_path, target):
    ok("encode", target, "-o", tmp_path / "a.rec", "--seed", SEED, "--sample-out", tmp_path / "a.npy", "-q")
    ok("encode", target, "-o", tmp_path / "b.rec", "--seed", SEED, "--sample-out", tmp_path / "b.npy", "-q")
    assert (tmp_path / "a.rec").read_bytes() == (tmp_path / "b.rec").read_bytes()
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


def test_another_seed_gives_other_bytes(tmp_path, target):
    ok("encode", target, "-o", tmp_path / "a.rec", "--seed", SEED, "--sample-out", tmp_path / "a.npy", "-q")
    ok("encode", target, "-o", tmp_path / "b.rec", "--seed", "8", "--sample-out", tmp_path / "b.npy", "-q")
    assert (tmp_path / "a.rec").read_bytes() != (tmp_path / "b.rec").read_bytes()
    assert (tmp_path / "a.npy").read_bytes() != (tmp_path / "b.npy").read_bytes()


def test_force_overwrites_an_existing_output(tmp_path, target, encoded):
    rec, _ = encoded
    expected = rec.read_bytes()
    rec.write_bytes(b"old")
    ok("encode", target, "-o", rec, "--seed", SEED, "-q", "--force")
    assert rec.read_bytes() == expected


def test_installed_cli_round_trips_through_a_pipe(tmp_path, target):
    command = [sys.executable, "-m", "reccodec_cli.main"]
    chosen = tmp_path / "chosen.npy"
    encode = subprocess.run(
        [*command, "encode", str(target), "-o", "-", "--seed", SEED, "--sample-out", str(chosen), "-q"],
        capture_output=True, cwd=tmp_path, timeout=120,
    )
    assert encode.returncode == 0, encode.stderr.decode()
    assert encode.stderr == b""
    assert encode.stdout.startswith(b"\x89REC")
    decode = subprocess.run(
        [*command, "decode", "-", "-o", "-", "--seed", SEED, "-q"],
        input=encode.stdout, capture_output=True, cwd=tmp_path, timeout=120,
    )
    assert decode.returncode == 0, decode.stderr.decode()
    assert decode.stderr == b""
    assert decode.stdout == chosen.read_bytes()
    failure = subprocess.run([*command, "decode", "-", "-o", "-", "--seed", "8"], input=encode.stdout,
                             capture_output=True, cwd=tmp_path, timeout=120)
    assert failure.returncode == 1 and failure.stdout == b""
    assert failure.stderr.decode().splitlines() == [
        "Error: stdin: the seed or the prior differs from the encoder's (tag mismatch)"]


# --------------------------------------------------------------------------- index models


@pytest.fixture
def models(tmp_path):
    """Two index models fitted on different training batches (8 and 5 targets of 6 dims)."""
    paths = []
    for name, count, seed in (("model.npz", 8, 1), ("other.npz", 5, 2)):
        train = write_gaussian(tmp_path / f"train-{name}", *random_gaussian((count, 6), seed=seed))
        result = ok("fit-index-model", train, "-o", tmp_path / name, "--seed", "3")
        assert result.out == b""
        paths.append(tmp_path / name)
    return paths


def test_round_trip_with_a_fitted_index_model(tmp_path, target, models):
    model, _ = models
    chosen, decoded, _ = round_trip(tmp_path, target, "--index-model", model, decode_options=("--index-model", model))
    assert decoded == chosen


def test_decode_without_the_index_model_fails(tmp_path, target, models):
    model, _ = models
    rec = tmp_path / "m.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "--index-model", model, "-q")
    fails(tmp_path, "decode", rec, "-o", tmp_path / "out.npy", "--seed", SEED, fragments=("--index-model",))


def test_decode_with_another_index_model_fails(tmp_path, target, models):
    model, other = models
    rec = tmp_path / "m.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "--index-model", model, "-q")
    fails(tmp_path, "decode", rec, "-o", tmp_path / "out.npy", "--seed", SEED, "--index-model", other,
          fragments=("index model differs",))


def test_decode_of_a_zipf_file_with_an_index_model_fails(tmp_path, encoded, models):
    rec, _ = encoded
    fails(tmp_path, "decode", rec, "-o", tmp_path / "out.npy", "--seed", SEED, "--index-model", models[0],
          fragments=("zipf",))


def test_encode_refuses_an_index_model_that_is_not_one(tmp_path, target):
    fails(tmp_path, "encode", target, "-o", tmp_path / "out.rec", "--seed", SEED, "--index-model", target,
          fragments=("index model",))


def test_fit_index_model_refuses_a_batch_without_a_leading_axis(tmp_path, target):
    fails(tmp_path, "fit-index-model", target, "-o", tmp_path / "model.npz", "--seed", "3",
          fragments=("leading batch axis",))


# --------------------------------------------------------------------------- bad targets and options


def _encode_fails(tmp_path, target, *options, fragments=(), code=1):
    return fails(tmp_path, "encode", target, "-o", tmp_path / "out.rec", "--seed", SEED,
                 "--sample-out", tmp_path / "out.npy", *options, fragments=fragments, code=code)


def test_encode_refuses_nan_mean(tmp_path):
    mean, std = random_gaussian(6)
    mean[2] = np.nan
    _encode_fails(tmp_path, write_gaussian(tmp_path / "t.npz", mean, std), fragments=("mean", "nan"))


def test_encode_refuses_infinite_std(tmp_path):
    mean, std = random_gaussian(6)
    std[4] = np.inf
    _encode_fails(tmp_path, write_gaussian(tmp_path / "t.npz", mean, std), fragments=("std", "infinite"))


@pytest.mark.parametrize("bad", [0.0, -0.3])
def test_encode_refuses_std_not_positive(tmp_path, bad):
    mean, std = random_gaussian(6)
    std[1] = bad
    _encode_fails(tmp_path, write_gaussian(tmp_path / "t.npz", mean, std), fragments=("std must be > 0",))


def test_encode_refuses_a_prior_of_another_shape(tmp_path, target):
    prior = write_gaussian(tmp_path / "p.npz", np.zeros(5), np.ones(5))
    _encode_fails(tmp_path, target, "--prior", prior, fragments=("shape",))


def test_encode_refuses_a_target_whose_mean_and_std_differ_in_shape(tmp_path):
    target = write_gaussian(tmp_path / "t.npz", np.zeros(6), np.full(5, 0.5))
    _encode_fails(tmp_path, target, fragments=("shape",))


@pytest.mark.parametrize(
    "shape, where, std, name",
    [((6,), 3, 1.5, "dimension 3"), ((6,), 2, 1.0, "dimension 2"), ((2, 3), (1, 0), 1.5, "dimension (1, 0)")],
)
def test_pfr_narrows_a_target_wider_than_the_prior_and_strict_refuses_naming_the_dimension(tmp_path, shape, where,
                                                                                          std, name):
    mean, stds = random_gaussian(shape)
    mean[where], stds[where] = 0.3, std
    target = write_gaussian(tmp_path / "t.npz", mean, stds)
    _encode_fails(tmp_path, target, "--strict", fragments=(name, "without --strict"))
    # ... and the advice works: without --strict the target is coded, approximately
    chosen, decoded, summary = round_trip(tmp_path, target)
    assert decoded == chosen
    assert summary["approximate"] and summary["narrowed_dims"] == 1 and 0 < summary["tv_bound"] < 1
    assert json.loads(ok("info", tmp_path / "rt.rec", "--json").out)["approximate"]


def test_encode_refuses_a_missing_target(tmp_path):
    _encode_fails(tmp_path, tmp_path / "missing.npz", fragments=("missing.npz", "no such file"))


def test_encode_refuses_a_target_that_is_not_an_npz(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(np.random.default_rng(0).bytes(300))
    _encode_fails(tmp_path, junk, fragments=("junk.npz", "not a readable .npz"))


def test_encode_refuses_a_single_npy_array(tmp_path):
    array = tmp_path / "t.npy"
    np.save(array, np.zeros(6))
    _encode_fails(tmp_path, array, fragments=("t.npy", ".npz"))


def test_encode_says_a_single_npy_array_is_not_an_archive(tmp_path):
    array = tmp_path / "t.npy"
    np.save(array, np.zeros(6))
    line = _encode_fails(tmp_path, array)
    assert "single array" in line and "TypeError" not in line


def test_encode_refuses_an_npz_without_std(tmp_path):
    target = tmp_path / "t.npz"
    np.savez(target, mean=np.zeros(6))
    _encode_fails(tmp_path, target, fragments=("missing array 'std'",))


def test_encode_refuses_an_empty_target(tmp_path):
    _encode_fails(tmp_path, write_gaussian(tmp_path / "t.npz", np.zeros(0), np.ones(0)), fragments=("empty",))


@pytest.mark.parametrize("which", ["-o", "--sample-out"])
def test_encode_refuses_an_existing_output_without_force_and_leaves_it(tmp_path, target, which):
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep me")
    others = {"-o": tmp_path / "out.rec", "--sample-out": tmp_path / "out.npy"}
    others[which] = existing
    fails(tmp_path, "encode", target, "-o", others["-o"], "--sample-out", others["--sample-out"],
          "--seed", SEED, fragments=("already exists", "--force"))
    assert existing.read_bytes() == b"keep me"


def test_decode_refuses_an_existing_output_without_force_and_leaves_it(tmp_path, encoded):
    rec, _ = encoded
    existing = tmp_path / "existing.npy"
    existing.write_bytes(b"keep me")
    fails(tmp_path, "decode", rec, "-o", existing, "--seed", SEED, fragments=("already exists",))
    assert existing.read_bytes() == b"keep me"


def test_encode_refuses_an_output_in_a_missing_folder(tmp_path, target):
    fails(tmp_path, "encode", target, "-o", tmp_path / "nowhere" / "out.rec", "--seed", SEED,
          fragments=("does not exist",))


@pytest.mark.parametrize("seed", ["-1", "1.5", "seven", str(2**64)])
def test_encode_refuses_a_seed_outside_the_unsigned_64_bit_range(tmp_path, target, seed):
    _encode_fails(tmp_path, target, "--seed", seed, fragments=("--seed",), code=2)


def test_decode_refuses_a_negative_seed(tmp_path, encoded):
    rec, _ = encoded
    fails(tmp_path, "decode", rec, "-o", tmp_path / "out.npy", "--seed", "-1", fragments=("--seed",), code=2)


def test_encode_refuses_an_unknown_algorithm(tmp_path, target):
    _encode_fails(tmp_path, target, "--algorithm", "zip", fragments=("--algorithm", "zip"), code=2)


@pytest.mark.parametrize("bits", ["0", "-2", "nan", "inf"])
def test_encode_refuses_a_block_budget_that_is_not_positive_and_finite(tmp_path, target, bits):
    _encode_fails(tmp_path, target, "--block-bits", bits, fragments=("--block-bits",), code=2)


@pytest.mark.parametrize("option", ["--block-dims", "--max-steps", "--orc-candidates"])
def test_encode_refuses_a_zero_count(tmp_path, target, option):
    _encode_fails(tmp_path, target, option, "0", fragments=(option,), code=2)


def test_pfr_refuses_a_block_beyond_max_steps(tmp_path, target):
    _encode_fails(tmp_path, target, "--max-steps", "2", fragments=("--max-steps", "orc"))


def test_usage_errors_are_one_line(tmp_path, target):
    fails(tmp_path, "encode", fragments=("missing argument",), code=2)
    fails(tmp_path, "encode", target, "-o", tmp_path / "out.rec", fragments=("--seed",), code=2)
    fails(tmp_path, "nosuchcommand", fragments=("nosuchcommand",), code=2)
    fails(tmp_path, "encode", target, "-o", tmp_path / "out.rec", "--seed", SEED, "--bogus", code=2)


def test_encode_refuses_to_write_binary_to_a_terminal(tmp_path, target):
    fails(tmp_path, "encode", target, "-o", "-", "--seed", SEED, tty=True, fragments=("terminal",))


def test_decode_refuses_to_write_binary_to_a_terminal(tmp_path, encoded):
    rec, _ = encoded
    fails(tmp_path, "decode", rec, "-o", "-", "--seed", SEED, tty=True, fragments=("terminal",))


# --------------------------------------------------------------------------- bad bitstreams


def _decode_fails(tmp_path, source, *options, fragments=(), stdin=b""):
    return fails(tmp_path, "decode", source, "-o", tmp_path / "out.npy", "--seed", SEED, *options,
                 fragments=fragments, stdin=stdin)


def test_decode_refuses_a_missing_file(tmp_path):
    _decode_fails(tmp_path, tmp_path / "missing.rec", fragments=("missing.rec",))


def test_decode_refuses_a_file_that_is_not_a_reccodec_file(tmp_path, target):
    _decode_fails(tmp_path, target, fragments=("not a reccodec file",))


def test_decode_refuses_truncated_files(tmp_path, encoded):
    rec, _ = encoded
    data = rec.read_bytes()
    cut = tmp_path / "cut.rec"
    for size in sorted({0, 1, 3, 4, 5, 10, 14, 15, len(data) // 2, len(data) - 4, len(data) - 1}):
        cut.write_bytes(data[:size])
        _decode_fails(tmp_path, cut, fragments=("truncated",))
        fails(tmp_path, "info", cut, fragments=("truncated",))


def test_decode_refuses_an_empty_stdin(tmp_path):
    _decode_fails(tmp_path, "-", fragments=("empty",))


@pytest.mark.parametrize("mask", [0x01, 0xFF])
def test_decode_refuses_every_single_flipped_byte(tmp_path, encoded, mask):
    rec, _ = encoded
    data = rec.read_bytes()
    bad = tmp_path / "bad.rec"
    for position in range(len(data)):
        corrupt = bytearray(data)
        corrupt[position] ^= mask
        bad.write_bytes(bytes(corrupt))
        _decode_fails(tmp_path, bad)


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_a_flipped_byte_with_its_crc_fixed_decodes_or_fails_in_one_line(tmp_path, encoded, mask):
    """Past the checksum, the parser and decoder meet any header or payload byte."""
    rec, _ = encoded
    data = rec.read_bytes()
    bad, out = tmp_path / "bad.rec", tmp_path / "out.npy"
    for position in range(len(data) - 4):
        corrupt = bytearray(data[:-4])
        corrupt[position] ^= mask
        bad.write_bytes(with_crc(bytes(corrupt)))
        result = run_cli("decode", bad, "-o", out, "--seed", SEED, "--force")
        if result.code == 0:
            assert load_npy(out.read_bytes()).dtype == np.float64
        else:
            assert_one_error_line(result)


def test_decode_refuses_another_format_version(tmp_path, encoded):
    rec, _ = encoded
    data = bytearray(rec.read_bytes())
    data[4] = 9
    rec.write_bytes(with_crc(bytes(data[:-4])))
    _decode_fails(tmp_path, rec, fragments=("version 9",))
    fails(tmp_path, "info", rec, fragments=("version",))


def test_decode_refuses_trailing_bytes(tmp_path, encoded):
    rec, _ = encoded
    rec.write_bytes(rec.read_bytes() + b"\0\0")
    _decode_fails(tmp_path, rec, fragments=("trailing",))


def test_decode_with_the_wrong_seed_fails(tmp_path, encoded):
    rec, _ = encoded
    fails(tmp_path, "decode", rec, "-o", tmp_path / "out.npy", "--seed", "8", fragments=("seed",))


def test_decode_with_a_different_prior_fails(tmp_path, encoded, prior):
    rec, _ = encoded
    _decode_fails(tmp_path, rec, "--prior", prior, fragments=("prior",))


def test_decode_without_the_encoders_prior_fails(tmp_path, target, prior):
    rec = tmp_path / "p.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "--prior", prior, "-q")
    _decode_fails(tmp_path, rec, fragments=("prior",))


def test_decode_with_a_prior_of_another_shape_fails(tmp_path, encoded):
    rec, _ = encoded
    prior = write_gaussian(tmp_path / "p5.npz", np.zeros(5), np.ones(5))
    _decode_fails(tmp_path, rec, "--prior", prior, fragments=("shape",))


# --------------------------------------------------------------------------- fixed bugs stay fixed


@pytest.mark.parametrize("argv", [(), ("bench",)])
def test_a_group_without_a_command_prints_its_help(argv):
    result = run_cli(*argv)
    assert result.code == 0 and b"Usage:" in result.out and result.err == ""


def test_sample_out_dash_does_not_create_a_file_named_dash(tmp_path, target, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails(tmp_path, "encode", target, "-o", tmp_path / "out.rec", "--seed", SEED, "--sample-out", "-", "-q", code=2)
    assert not (tmp_path / "-").exists()


def test_a_failed_encode_leaves_no_sample_file(tmp_path, target):
    (tmp_path / "adir").mkdir()
    result = run_cli("encode", target, "-o", tmp_path / "adir", "--force", "--seed", SEED,
                     "--sample-out", tmp_path / "out.npy")
    assert_one_error_line(result, "adir")
    assert not (tmp_path / "out.npy").exists() and (tmp_path / "adir").is_dir()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir()), "a temporary file was left"
