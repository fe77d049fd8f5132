"""Regression tests for hostile files and extreme inputs: each case once crashed, hung, ate
memory or decoded to garbage; each must now give the project's own error, quickly.

Edited files keep a valid CRC32 (recomputed after the edit), as anyone can do. Files are
written in version 1 where the edit must reach the decoder past the tag (version 1's tag
does not cover the header's fields), and in version 2 to show that the tag refuses it.
"""

import io
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from dataclasses import replace

import numpy as np
import pytest

from rec_codec import DiagonalGaussian, codec, container
from rec_codec import wyner_ziv as wz
from rec_codec.entropy import EmpiricalIndexModel, zipf_lambda
from rec_codec.errors import FormatError, InputError, MismatchError, RecCodecError
from rec_codec.uq import UQPrior, decode_uq, encode_uq
from test_cli import assert_one_error_line, run_cli

SEED = 11
SOURCE = wz.GaussianSource("y = x + n", 1.0, 0.5)


def _edited(data, version=1, shape=None, **params):
    """``data`` with header params (and the shape) replaced, the CRC32 recomputed.

    Written in ``version``: in version 1 the stored tag is the seed/prior tag itself; in
    version 2 the original stored tag is kept (it folds in the original fields).
    """
    header, words = container.unpack(data)
    new_params = dict(header.params, **params)
    header = container.Header(header.algorithm, tuple(header.shape if shape is None else shape), header.tag,
                              new_params, header.approximate)
    out = bytearray(container.pack(header, words)[:-4])
    if version == 1:
        out[4] = 1
        out[7:11] = struct.pack("<I", header.tag)
    else:
        out[7:11] = data[7:11]
    return bytes(out) + struct.pack("<I", zlib.crc32(bytes(out)))


def _raw_shape_file(shape, algorithm="pfr", version=1):
    """A minimal file claiming ``shape``, with a correct CRC32 and no payload."""
    body = bytearray(container.MAGIC + bytes([version, container.ALGORITHMS[algorithm], 0]) + bytes(4))
    body.append(len(shape))
    for dim in shape:
        while True:
            low, dim = dim & 0x7F, dim >> 7
            body.append(low | 0x80 if dim else low)
            if not dim:
                break
    body += b"\x00\x00"  # no params, payload_len 0
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def _fast_and_small(call, seconds=5.0, megabytes=100):
    """Run ``call``; it must raise a RecCodecError within ``seconds`` and ``megabytes``."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(RecCodecError) as caught:
            call()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, elapsed
    assert peak < megabytes * 2**20, peak
    return caught.value


# --------------------------------------------------------------------------- shapes and memory


@pytest.mark.parametrize("algorithm", ["pfr", "orc", "hybrid", "sp-pfr", "sp-orc", "uq"])
@pytest.mark.parametrize("shape", [(2**28,), (2**62,), (2**31, 2**31), (2**64 - 1,)])
def test_a_tiny_file_claiming_a_huge_shape_is_refused_before_any_allocation(algorithm, shape):
    if algorithm == "uq":
        data = _edited(_uq_file(), shape=shape)
        error = _fast_and_small(lambda: decode_uq(data, SEED, UQPrior("gaussian", 0.0, 1.5)))
    else:
        data = _raw_shape_file(shape, algorithm)
        assert len(data) < 48
        error = _fast_and_small(lambda: codec.decode(data, SEED))
    assert isinstance(error, FormatError)
    assert "--max-dims" in str(error)


@pytest.mark.parametrize("size", [5, 2**16, 2**16 + 3, 3 * 2**16])
def test_the_default_prior_hashed_without_being_built_gives_the_same_tag(size):
    shape = (size,)
    built = container.seed_tag(SEED, np.zeros(shape), np.ones(shape))
    assert container.seed_tag(SEED, np.broadcast_to(0.0, shape), np.broadcast_to(1.0, shape)) == built
    assert container.seed_tag(SEED, np.broadcast_to(-0.0, shape), np.broadcast_to(1.0, shape)) == built


def test_a_file_of_max_dims_elements_is_refused_by_its_tag_quickly():
    data = _raw_shape_file((container.MAX_DIMS,))
    started = time.perf_counter()
    with pytest.raises(MismatchError):
        codec.decode(data, SEED)
    assert time.perf_counter() - started < 5.0


def test_max_dims_limits_what_a_decoder_accepts():
    target = DiagonalGaussian(np.zeros(40), np.full(40, 0.7))
    data = codec.encode(target, SEED, block_bits=4.0).data
    assert codec.decode(data, SEED, max_dims=40).shape == (40,)
    with pytest.raises(FormatError, match="--max-dims"):
        codec.decode(data, SEED, max_dims=39)
    with pytest.raises(InputError, match="--max-dims"):
        codec.decode(data, SEED, max_dims=0)


def test_cli_max_dims_refuses_with_one_line(tmp_path):
    target = DiagonalGaussian(np.zeros(40), np.full(40, 0.7))
    (tmp_path / "x.rec").write_bytes(codec.encode(target, SEED, block_bits=4.0).data)
    result = run_cli("decode", tmp_path / "x.rec", "--seed", SEED, "--max-dims", "8", "-o", tmp_path / "x.npy")
    assert_one_error_line(result, "--max-dims")
    assert not (tmp_path / "x.npy").exists()
    (tmp_path / "big.rec").write_bytes(_raw_shape_file((2**28,)))
    result = run_cli("decode", tmp_path / "big.rec", "--seed", SEED, "-o", tmp_path / "y.npy")
    assert_one_error_line(result, "--max-dims")


def test_max_dims_limits_what_the_wyner_ziv_decoders_accept():
    from rec_codec import learned_wz

    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    y = x + rng.normal(scale=0.5, size=300)
    model, _ = learned_wz.train(x, y, 10.0, codewords=4, hidden=8, epochs=2, seed=3)
    data = learned_wz.encode(x[:40], model)[0]
    assert learned_wz.decode(data, y[:40], model, max_dims=40).shape == (40,)
    with pytest.raises(FormatError, match="--max-dims"):
        learned_wz.decode(data, y[:40], model, max_dims=39)


# --------------------------------------------------------------------------- edited parameters


@pytest.fixture(scope="module")
def sp_file():
    target = DiagonalGaussian(np.linspace(-1, 1, 12), np.full(12, 0.4))
    return codec.encode(target, SEED, algorithm="sp-pfr", block_bits=8.0).data


def test_sp_exp_mean_16_is_refused_not_an_overflow(sp_file):
    for value in (16.0, 15.99):
        try:
            out = codec.decode(_edited(sp_file, sp_exp_mean=value), SEED)
        except RecCodecError:
            continue
        assert np.isfinite(out).all()
    with pytest.raises(FormatError, match="sp_exp_mean"):
        codec.decode(_edited(sp_file, sp_exp_mean=16.5), SEED)


@pytest.mark.parametrize("name, value", [("hybrid_log2m_min", 41), ("hybrid_log2m_levels", 0)])
def test_hybrid_params_out_of_range_are_refused(name, value):
    target = DiagonalGaussian(np.linspace(-1, 1, 6), np.full(6, 0.4))
    data = codec.encode(target, SEED, algorithm="hybrid", block_bits=6.0).data
    with pytest.raises(FormatError, match=name):
        codec.decode(_edited(data, **{name: value}), SEED)


def _uq_file():
    values = np.random.default_rng(1).normal(0.0, 2.0, 5)
    return encode_uq(values, UQPrior("gaussian", 0.0, 1.5), SEED, 2.5).data


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_uq_alpha_out_of_range_is_refused(alpha):
    with pytest.raises(FormatError, match="uq_alpha"):
        decode_uq(_edited(_uq_file(), uq_alpha=alpha), SEED, UQPrior("gaussian", 0.0, 1.5))


def _wz_files():
    x, y = SOURCE.sample(12, np.random.default_rng(3))
    sv2 = SOURCE.cond_var / 3.0
    rec = wz.WZModel(SOURCE, "rec", nsq=wz.NSQParams(0.5, 4),
                     rec=wz.RECParams(sv2, 2.0, wz.default_candidates(SOURCE, sv2, 2), 2, "soft"))
    nsq = wz.WZModel(SOURCE, "nsq", nsq=wz.NSQParams(0.4, 8, "hard", "uniform"))
    return y, {"rec": (rec, wz.encode(x, rec, SEED).data), "nsq": (nsq, wz.encode(x, nsq, SEED).data)}


@pytest.mark.parametrize("name, value", [("wz_sigma_v2", 1e300), ("wz_sigma_v2", 1e-300),
                                         ("wz_labels", 2**23 + 1), ("wz_candidates", 2**22 + 1),
                                         ("wz_block_dims", 65)])
def test_wz_rec_params_out_of_range_are_refused_never_garbage(name, value):
    y, files = _wz_files()
    model, data = files["rec"]
    with pytest.raises(FormatError):
        wz.decode(_edited(data, **{name: value}), y, model, SEED)


@pytest.mark.parametrize("value", [1e-10, 5e-324, 1e300])
def test_wz_delta_out_of_range_is_refused_quickly(value):
    y, files = _wz_files()
    model, data = files["nsq"]
    _fast_and_small(lambda: wz.decode(_edited(data, wz_delta=value), y, model, SEED), seconds=2.0)


def test_wz_cosets_out_of_range_is_refused():
    y, files = _wz_files()
    model, data = files["nsq"]
    with pytest.raises(FormatError):
        wz.decode(_edited(data, wz_cosets=2**40 + 1), y, model, SEED)


_MEMORY_CHILD = """
import json, resource, sys
import numpy as np
from rec_codec import wyner_ziv as wz
from rec_codec.errors import RecCodecError

folder = sys.argv[1]
model = wz.load_model(folder + "/model.json")
y = np.load(folder + "/y.npy")
data = open(folder + "/ok.rec", "rb").read()
hostile = open(folder + "/hostile.rec", "rb").read()
for decoder in ("soft", "hard"):
    wz.decode(data, y, model, SEED, decoder)
wz.encode(np.zeros(2), model, SEED)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = []
for decoder in ("soft", "hard"):
    try:
        out = wz.decode(hostile, y, model, SEED, decoder)
        outcomes.append("decoded" if np.isfinite(out).all() else "not finite")
    except RecCodecError:
        outcomes.append("refused")
wz.encode(np.full(12, 8.0), model, SEED)  # eight standard deviations out: each search scans all N
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
print(json.dumps({"outcomes": outcomes, "grown_mb": grown / 1024.0}))
"""


@pytest.mark.slow
def test_the_most_candidates_a_wz_rec_file_may_ask_for_keep_memory_bounded(tmp_path):
    """A 45-byte file with wz_candidates = 2^22 once took 400 MB above the baseline on two
    threads (each block kept every candidate drawn); the encoder likewise for samples whose
    search scans all N. Measured in a child on two threads, after an ordinary decode and
    encode (with kernels loaded from the cache this process writes) set its baseline."""
    y, files = _wz_files()
    model, data = files["rec"]
    for decoder in ("soft", "hard"):
        wz.decode(data, y, model, SEED, decoder)
    hostile = _edited(data, wz_candidates=wz.MAX_CANDIDATES)
    big = wz.WZModel(model.source, "rec", rec=replace(model.rec, candidates=wz.MAX_CANDIDATES))
    wz.encode(np.zeros(2), big, SEED)
    wz.save_model(tmp_path / "model.json", big)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "ok.rec").write_bytes(data)
    (tmp_path / "hostile.rec").write_bytes(hostile)
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", f"SEED = {SEED}\n" + _MEMORY_CHILD, str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result["outcomes"]) <= {"decoded", "refused"}, result
    assert result["grown_mb"] < 100, result


def test_a_wz_decode_in_range_never_returns_uninitialised_values():
    """sigma_v2 large against the source: finite output or a FormatError, several calls in one
    process (the first call once returned uninitialised memory)."""
    y, files = _wz_files()
    model, data = files["rec"]
    for value in (SOURCE.var_x * 2.0**31, SOURCE.var_x * 2.0**32):
        for _ in range(2):
            try:
                out = wz.decode(_edited(data, wz_sigma_v2=value), y, model, SEED)
            except FormatError:
                continue
            assert np.isfinite(out).all() and not np.any((out != 0) & (np.abs(out) < 1e-300))


@pytest.mark.parametrize("edit", [dict(wz_sigma_v2=0.2), dict(wz_labels=8), dict(wz_candidates=5),
                                  dict(shape=(6, 2))])
def test_any_header_edit_of_a_version_2_file_is_refused_by_the_tag(edit):
    y, files = _wz_files()
    model, data = files["rec"]
    shape = edit.pop("shape", None)
    with pytest.raises(MismatchError, match="tag mismatch"):
        wz.decode(_edited(data, version=2, shape=shape, **edit), y if shape is None else y.reshape(shape), model,
                  SEED)


@pytest.mark.parametrize("scheme", ["nsq", "rec"])
def test_every_payload_bit_flip_of_a_version_2_wz_file_is_refused(scheme):
    """With the CRC32 recomputed, a flipped payload bit once decoded to another output."""
    y, files = _wz_files()
    model, data = files[scheme]
    header, words = container.unpack(data)
    payload_start = len(data) - 4 - 4 * words.size
    assert words.size >= 1
    for position in range(payload_start, len(data) - 4):
        for bit in range(8):
            body = bytearray(data[:-4])
            body[position] ^= 1 << bit
            with pytest.raises(MismatchError):
                wz.decode(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))), y, model, SEED)


def test_edited_uq_alpha_and_hybrid_param_of_a_version_2_file_are_refused():
    with pytest.raises(MismatchError):
        decode_uq(_edited(_uq_file(), version=2, uq_alpha=2.6), SEED, UQPrior("gaussian", 0.0, 1.5))
    target = DiagonalGaussian(np.linspace(-1, 1, 6), np.full(6, 0.4))
    data = codec.encode(target, SEED, algorithm="hybrid", block_bits=6.0).data
    header, _ = container.unpack(data)
    edited = _edited(data, version=2, hybrid_log2m_min=(header.params["hybrid_log2m_min"] + 1) % 40)
    with pytest.raises(MismatchError):
        codec.decode(edited, SEED)


# --------------------------------------------------------------------------- model files


def _wz_model_text(tmp_path, text):
    path = tmp_path / "model.json"
    path.write_text(text)
    return path


def test_model_json_limits(tmp_path):
    _, files = _wz_files()
    good = files["rec"][0].to_dict()
    cases = {
        "components": dict(good, rec=dict(good["rec"], components=2**31)),
        "soft_draws": dict(good, rec=dict(good["rec"], soft_draws=2**31)),
    }
    for key, obj in cases.items():
        with pytest.raises(InputError, match=key):
            wz.load_model(_wz_model_text(tmp_path, json.dumps(obj)))
    text = json.dumps(good).replace('"var_n": 0.5', '"var_n": ' + "9" * 5000)
    with pytest.raises(InputError):
        wz.load_model(_wz_model_text(tmp_path, text))
    _fast_and_small(lambda: wz.load_model(_wz_model_text(tmp_path, "[" * 100_000)))
    _fast_and_small(lambda: wz.load_model(_wz_model_text(tmp_path, '{"a": ' * 50_000)))


def _npz(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            archive.writestr(name, value)
    return out.getvalue()


def _npy(array):
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def test_index_model_zip_bomb_is_refused_quickly_in_little_memory(tmp_path):
    model = EmpiricalIndexModel.fit(np.arange(50) ** 2, zipf_lambda(4.0))
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    bomb = b"\0" * (1 << 26)
    path = tmp_path / "bomb.npz"
    path.write_bytes(_npz(dict(members, **{"octave_probs.npy": bomb})))
    assert path.stat().st_size < 1 << 20
    _fast_and_small(lambda: EmpiricalIndexModel.load(path), seconds=2.0, megabytes=16)
    path.write_bytes(_npz(dict(members, **{"bomb.npy": bomb})))  # a member not named is never read
    tracemalloc.start()
    started = time.perf_counter()
    loaded = EmpiricalIndexModel.load(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - started < 2.0 and peak < 16 << 20
    assert loaded.fingerprint() == model.fingerprint()


def test_index_model_metadata_nested_or_huge_is_refused(tmp_path):
    model = EmpiricalIndexModel.fit(np.arange(50) ** 2, zipf_lambda(4.0))
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for text in ("[" * 100_000, '{"a": ' * 50_000, '{"n": ' + "9" * 5000 + "}"):
        path = tmp_path / "meta.npz"
        path.write_bytes(_npz(dict(members, **{"metadata.npy": _npy(np.array(text))})))
        error = _fast_and_small(lambda: EmpiricalIndexModel.load(path))
        assert isinstance(error, FormatError)


# --------------------------------------------------------------------------- encoding extremes


@pytest.mark.parametrize("algorithm", ["pfr", "orc", "hybrid", "sp-pfr", "sp-orc"])
@pytest.mark.parametrize("which, value", [("mean", 1e300), ("std", 1e300), ("std", 1e-300), ("mean", 1e154)])
def test_encode_refuses_a_target_too_far_from_the_prior_quickly(algorithm, which, value):
    mean, std = np.array([0.3, -0.2, 0.1, 0.5]), np.array([0.5, 0.4, 0.6, 0.5])
    (mean if which == "mean" else std)[1] = value
    target = DiagonalGaussian(mean, std)
    if algorithm == "pfr" and (which, value) == ("std", 1e300):
        with pytest.raises(InputError, match="too far"):  # narrowing would hide it otherwise
            codec.encode(target, SEED, algorithm=algorithm, block_bits=8.0)
        return
    started = time.perf_counter()
    with pytest.raises(InputError):
        codec.encode(target, SEED, algorithm=algorithm, block_bits=8.0)
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize("algorithm", ["orc", "sp-orc"])
def test_orc_refuses_a_default_candidate_count_past_2_40(algorithm):
    target = DiagonalGaussian(np.array([0.3, 4e9]), np.array([0.5, 0.5]))
    with pytest.raises(InputError, match="2\\^40"):
        codec.encode(target, SEED, algorithm=algorithm, block_bits=8.0)


@pytest.mark.parametrize("max_steps", [2**64, 2**63, 0, -1, 1.5, True])
def test_max_steps_out_of_range_is_refused(max_steps):
    target = DiagonalGaussian(np.zeros(3), np.full(3, 0.5))
    with pytest.raises(InputError, match="--max-steps"):
        codec.encode(target, SEED, max_steps=max_steps)


def test_cli_max_steps_2_64_gives_one_error_line(tmp_path):
    np.savez(tmp_path / "q.npz", mean=np.zeros(3), std=np.full(3, 0.5))
    result = run_cli("encode", tmp_path / "q.npz", "--seed", SEED, "--max-steps", str(2**64), "-o", tmp_path / "q.rec")
    assert "Traceback" not in result.err
    assert result.code != 0
    assert len(result.err.splitlines()) == 1 and result.err.startswith("Error")
    assert not (tmp_path / "q.rec").exists()


def test_every_header_parameter_has_a_range_that_agrees_with_its_module():
    from rec_codec import container, hybrid, learned_wz, partition, wyner_ziv

    assert set(container.PARAMS) == set(container.PARAM_RANGES)
    ranges = container.PARAM_RANGES
    assert ranges["hybrid_log2m_min"][1] == hybrid.MAX_LOG2_M
    assert ranges["hybrid_log2m_levels"][1] == hybrid.MAX_LOG2_M + 1
    assert ranges["sp_exp_mean"][1] == partition.MAX_DIM_BIN_BITS
    assert ranges["wz_candidates"][1] == wyner_ziv.MAX_CANDIDATES
    assert ranges["wz_codewords"][1] == learned_wz.MAX_CODEWORDS
