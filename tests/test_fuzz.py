"""A deterministic mutation fuzzer over every file kind the library decodes.

Every byte of a reccodec file, an index model, a Wyner-Ziv model file, a codec model, a
batch container and a record is untrusted. For each kind, valid files are made with fixed
seeds and mutated: at random (bit flips, truncation, insertion, garbage) and, in most
cases, field by field with the file's own check recomputed (header fields and parameters
set to extremes, payload words changed, zip members and JSON values replaced, a record's
check byte), so that the mutation reaches the decoder past the CRC32. Reccodec files are
rewritten half in format version 1 (whose tag does not cover the header) and half in
version 2 with the folded tag rebuilt, so that edited parameters reach the decoder too. Each decode must succeed or raise ``RecCodecError``, within ``TIME_LIMIT_S``, and a
decode that succeeds on a mutated input must return finite values of a sane size (no
uninitialised memory: nothing non-finite, above 1e300 or denormal).

The cases depend only on (``FUZZ_SEED``, kind, case number), so a failure reproduces with
``case_input(kind, number)``. The default run takes ``DEFAULT_CASES`` cases per kind; the
``long`` variant runs ``SLOW_CASES`` in all (``bench/hostile_files.py`` runs the same
cases with figures per kind).
"""

import io
import json
import math
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from rec_codec import DiagonalGaussian, batch, codec, container, digits_vae
from rec_codec import wyner_ziv as wz
from rec_codec.distributions import kl_bits, standard_normal_like
from rec_codec.entropy import EmpiricalIndexModel, zipf_lambda
from rec_codec.errors import RecCodecError
from rec_codec.items import item_seed
from rec_codec.model import load_model
from rec_codec.training import train_model
from rec_codec.uq import UQPrior, decode_uq, encode_uq

FUZZ_SEED = 20240611
SEED = 7
TIME_LIMIT_S = 10.0
DEFAULT_CASES = 250
SLOW_CASES = 100_000
# The share of cases that change a field and recompute the checksum (header and payload
# fields of reccodec files, members of the zip, values of the JSON).
FIELD_SHARE = 0.6

TARGET = DiagonalGaussian(np.array([0.6, -0.4, 0.2, 0.9, 0.0, -1.1]), np.array([0.3, 0.25, 0.5, 0.4, 0.8, 0.35]))
PROFILE = kl_bits(TARGET, standard_normal_like(TARGET.shape))
UQ_GAUSSIAN = UQPrior("gaussian", np.zeros(5), np.full(5, 1.5))
UQ_LAPLACE = UQPrior("laplace", 0.5, 2.0)
WZ_SOURCE = wz.GaussianSource("y = x + n", 1.0, 0.5)


def _wz_models():
    sv2 = WZ_SOURCE.cond_var / (2.0**2 - 1.0)
    rec = wz.RECParams(sv2, 2.0, wz.default_candidates(WZ_SOURCE, sv2, 2), 2, "soft")
    return {
        "nsq": wz.WZModel(WZ_SOURCE, "nsq", nsq=wz.NSQParams(0.5, 4, "soft", "marginal")),
        "nsq-uniform": wz.WZModel(WZ_SOURCE, "nsq", nsq=wz.NSQParams(0.4, 8, "hard", "uniform")),
        "rec": wz.WZModel(WZ_SOURCE, "rec", nsq=wz.NSQParams(0.5, 4), rec=rec),
    }


_CORPUS = {}
_CODEC_MODEL = []


def corpus():
    """kind -> (valid bytes, decode function of bytes returning an array)."""
    if _CORPUS:
        return _CORPUS
    index_model = EmpiricalIndexModel.fit(np.arange(50) ** 2, zipf_lambda(4.0), metadata={"kind": "fuzz"})
    x, y = WZ_SOURCE.sample(12, np.random.default_rng(3))
    models = _wz_models()
    wz_files = {name: wz.encode(x, model, SEED).data for name, model in models.items()}

    def codec_kind(**options):
        data = codec.encode(TARGET, SEED, **options).data
        return data, lambda d: codec.decode(d, SEED, index_model=options.get("index_model"),
                                            mi_profile=options.get("mi_profile"))

    def uq_kind(prior, alpha):
        values = np.random.default_rng(4).normal(0.0, 2.0, 5)
        return encode_uq(values, prior, SEED, alpha).data, lambda d: decode_uq(d, SEED, prior)

    def wz_kind(name):
        return wz_files[name], lambda d: wz.decode(d, y, models[name], SEED)

    def load_index_model(data):
        loaded = EmpiricalIndexModel.load(_scratch(data, "model.npz"))
        assert np.all(np.isfinite(loaded.octave_probs)) and np.all(loaded.octave_probs > 0)
        return codec.decode(_CORPUS["pfr-index-model"][0], SEED, index_model=loaded)

    vae = digits_vae.load()
    codec_model = train_model(vae.train_mean[:100], vae.train_std[:100], seed=1, margin_bits=4.0, components=3)
    coded = batch.encode_batch(vae.test_mean[:6], vae.test_std[:6], codec_model, SEED, chunk_items=4)
    _CODEC_MODEL.append(codec_model)

    def load_codec_model(data):
        loaded = load_model(data, "model.rcm")
        loaded.describe()
        return np.concatenate([loaded.prior_mean, loaded.prior_std, loaded.coding_mean.ravel(),
                               loaded.coding_std.ravel()])

    def load_wz_model(data):
        model = wz.load_model(_scratch(data, "model.json"))
        name = "rec" if model.scheme == "rec" else "nsq"
        return wz.decode(wz_files[name], y, model, SEED)

    _CORPUS.update({
        "pfr": codec_kind(block_bits=4.0),
        "pfr-index-model": codec_kind(block_bits=4.0, index_model=index_model),
        "orc": codec_kind(algorithm="orc", block_dims=2),
        "hybrid": codec_kind(algorithm="hybrid", block_bits=6.0),
        "sp-pfr": codec_kind(algorithm="sp-pfr", block_bits=8.0),
        "sp-pfr-profile": codec_kind(algorithm="sp-pfr", block_bits=8.0, mi_profile=PROFILE, dinf_limit=2.0),
        "sp-orc": codec_kind(algorithm="sp-orc", block_bits=8.0),
        "uq": uq_kind(UQ_GAUSSIAN, 2.5),
        "uq-laplace": uq_kind(UQ_LAPLACE, None),
        "wz-nsq": wz_kind("nsq"),
        "wz-nsq-uniform": wz_kind("nsq-uniform"),
        "wz-rec": wz_kind("rec"),
        "index-model": (index_model.to_bytes(), load_index_model),
        "wz-model-json": (json.dumps(models["rec"].to_dict()).encode(), load_wz_model),
        "codec-model": (codec_model.to_bytes(), load_codec_model),
        "batch": (coded.container, lambda d: batch.decode_batch(d, codec_model, SEED)),
        "batch-item": (coded.container, lambda d: batch.decode_batch(d, codec_model, SEED, items=[5])),
        "record": (batch.record_file(coded.records[3], codec_model, SEED, 3),
                   lambda d: batch.decode_record(d, codec_model, SEED, 3)),
    })
    return _CORPUS


KINDS = ["pfr", "pfr-index-model", "orc", "hybrid", "sp-pfr", "sp-pfr-profile", "sp-orc", "uq", "uq-laplace",
         "wz-nsq", "wz-nsq-uniform", "wz-rec", "index-model", "wz-model-json", "codec-model", "batch", "batch-item",
         "record"]

_SCRATCH = {}


def _scratch(data, name):
    """Write data to a file in the test's scratch folder and return its path."""
    path = _SCRATCH["folder"] / name
    path.write_bytes(data)
    return path


@pytest.fixture(autouse=True)
def _scratch_folder(tmp_path):
    _SCRATCH["folder"] = tmp_path
    yield
    _SCRATCH.pop("folder", None)


# --------------------------------------------------------------------------- raw bytes


def _bytes(rng, count):
    return rng.integers(0, 256, count, dtype=np.uint8).tobytes()


def mutate_bytes(rng, data):
    """A random edit: bit flips, truncation, insertion or garbage (no checksum fixed)."""
    data = bytearray(data)
    kind = rng.integers(5)
    if kind == 0 or not data:
        for _ in range(int(rng.integers(1, 4))):
            if data:
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        return bytes(data), "bit flips"
    if kind == 1:
        return bytes(data[: int(rng.integers(len(data)))]), "truncation"
    if kind == 2:
        at = int(rng.integers(len(data) + 1))
        return bytes(data[:at] + _bytes(rng, int(rng.integers(1, 9))) + data[at:]), "insertion"
    if kind == 3:
        at = int(rng.integers(len(data)))
        span = int(rng.integers(1, 17))
        data[at: at + span] = _bytes(rng, min(span, len(data) - at))
        return bytes(data), "garbage span"
    return bytes(data[:4]) + _bytes(rng, int(rng.integers(0, 2 * len(data)))), "garbage after the magic"


# --------------------------------------------------------------------------- reccodec files


def _varint(value):
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def _value(kind, value):
    if kind == "varint":
        return _varint(int(value) % 2**64)
    if kind == "u32":
        return struct.pack("<I", int(value) % 2**32)
    with np.errstate(over="ignore"):
        return np.array(value, dtype="<f4" if kind == "f32" else "<f8").tobytes()


def raw_file(fields):
    """The bytes of a file from its fields, any values allowed, with a correct CRC32."""
    body = bytearray(container.MAGIC)
    body += bytes([fields["version"], fields["algorithm"], fields["flags"]])
    body += struct.pack("<I", fields["tag"])
    body.append(len(fields["shape"]))
    for dim in fields["shape"]:
        body += _varint(dim)
    body.append(len(fields["params"]) % 256)
    for param_id, kind, value in fields["params"]:
        body.append(param_id)
        body += _value(kind, value)
    body += _varint(len(fields["payload"]))
    body += fields["payload"]
    if fields["version"] == 2:  # version 2 folds the rest of the file into the stored tag
        body[7:11] = struct.pack("<I", fields["tag"] ^ container._body_digest(body))
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


def fields_of(data):
    header, words = container.unpack(data)
    params = sorted((container.PARAMS[name][0], container.PARAMS[name][1], value)
                    for name, value in header.params.items())
    return {"version": 2, "algorithm": container.ALGORITHMS[header.algorithm], "flags": int(header.approximate),
            "tag": header.tag, "shape": list(header.shape), "params": params,
            "payload": words.astype("<u4").tobytes()}


_INT_EXTREMES = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 40, 41, 63, 64, 65, 255, 256, 4095, 4096, 4097, 2**16,
                 2**22, 2**22 + 1, 2**23, 2**23 + 1, 2**24, 2**26, 2**26 + 1, 2**31, 2**32 - 1, 2**32, 2**40,
                 2**40 + 1, 2**53, 2**62, 2**63, 2**64 - 1]
_FLOAT_EXTREMES = [0.0, -0.0, 5e-324, 1e-310, 1.4e-45, 1e-300, 1e-30, 1e-10, 1e-3, 0.25, 0.5, 1.0, 2.0, 8.0,
                   15.99, 16.0, 16.5, 40.0, 1e10, 1e20, 3.4e38, 1e300, 1.7976931348623157e308, -1.0, -1e300,
                   math.nan, math.inf, -math.inf]
_SHAPE_EXTREMES = [0, 1, 2, 5, 6, 7, 12, 2**16, 2**24, 2**24 + 1, 2**26 + 1, 2**28, 2**31, 2**62, 2**64 - 1]


def _extreme(rng, kind, value=None):
    pick = rng.integers(4)
    if kind in ("varint", "u32"):
        if pick == 3:
            return int(rng.integers(0, 2**63)) >> int(rng.integers(63))
        if pick == 2 and value is not None:
            return max(int(value) + int(rng.integers(-3, 4)), 0)
        return _INT_EXTREMES[int(rng.integers(len(_INT_EXTREMES)))]
    if pick == 3:
        return float(rng.normal()) * 10.0 ** float(rng.integers(-40, 40))
    if pick == 2 and value is not None:  # near the value, or far from it
        if rng.integers(2):
            return float(value) * (1.0 + float(rng.normal()) * 10.0 ** float(rng.integers(-8, 1)))
        return float(value) * 2.0 ** float(rng.integers(-70, 70))
    return _FLOAT_EXTREMES[int(rng.integers(len(_FLOAT_EXTREMES)))]


def mutate_fields(rng, fields):
    """Set one to three header or payload fields to extremes; the CRC32 is recomputed."""
    fields = {k: list(v) if isinstance(v, list) else v for k, v in fields.items()}
    # half the files in version 1, whose tag does not cover the fields: edits reach the decoder
    fields["version"] = 1 if rng.integers(2) else 2
    done = [f"version {fields['version']}"]
    for _ in range(int(rng.integers(1, 4))):
        what = int(rng.integers(10))
        params = fields["params"]
        if what <= 3 and params:  # a parameter in the file to an extreme
            i = int(rng.integers(len(params)))
            pid, kind, value = params[i]
            params[i] = (pid, kind, _extreme(rng, kind, value))
            done.append(f"param {pid} = {params[i][2]!r}")
        elif what == 4:  # a parameter the file lacks, added in its place
            name = list(container.PARAMS)[int(rng.integers(len(container.PARAMS)))]
            pid, kind = container.PARAMS[name]
            if pid not in {p[0] for p in params}:
                params.append((pid, kind, _extreme(rng, kind)))
                params.sort()
                done.append(f"add {name} = {params[-1][2]!r}")
        elif what == 5 and params:  # a parameter dropped
            dropped = params.pop(int(rng.integers(len(params))))
            done.append(f"drop param {dropped[0]}")
        elif what == 6:  # the shape
            shape = fields["shape"]
            choices = _SHAPE_EXTREMES
            if shape and rng.integers(3):
                shape[int(rng.integers(len(shape)))] = choices[int(rng.integers(len(choices)))]
            elif rng.integers(2) and len(shape) < 32:
                shape.append(choices[int(rng.integers(len(choices)))])
            elif shape:
                shape.pop()
            done.append(f"shape {shape}")
        elif what == 7:  # the payload words
            words = bytearray(fields["payload"])
            op = int(rng.integers(4))
            if op == 0 and words:
                words[int(rng.integers(len(words)))] ^= 1 << int(rng.integers(8))
            elif op == 1:
                words = words[: 4 * int(rng.integers(len(words) // 4 + 1))]
            elif op == 2:
                words += _bytes(rng, 4 * int(rng.integers(1, 4)))
            else:
                words = bytearray(_bytes(rng, len(words)))
            fields["payload"] = bytes(words)
            done.append(f"payload op {op}")
        elif what == 8:  # algorithm, flags or version
            key = ("algorithm", "flags", "version")[int(rng.integers(3))]
            fields[key] = int(rng.integers(0, 10)) if rng.integers(4) else int(rng.integers(256))
            done.append(f"{key} = {fields[key]}")
        else:  # the tag
            fields["tag"] = int(rng.integers(0, 2**32))
            done.append("tag")
    return raw_file(fields), "; ".join(done) + " (CRC recomputed)"


def mutate_body(rng, data):
    """A random edit of the bytes before the CRC32, then the CRC32 recomputed."""
    body, text = mutate_bytes(rng, data[:-4])
    return body + struct.pack("<I", zlib.crc32(body)), f"{text} (CRC recomputed)"


# --------------------------------------------------------------------------- index models and JSON


def _npy(array):
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def _npy_claiming(shape, dtype="<f8", body=b""):
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + body


def mutate_npz(rng, data):
    """An index model rewritten with one member changed (a valid zip: its CRCs hold)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    names = sorted(members)
    name = names[int(rng.integers(len(names)))]
    what = int(rng.integers(9))
    if what == 0:
        del members[name]
    elif what == 1:
        members[name] = _npy(np.array(_extreme(rng, "f64")))
    elif what == 2:
        members[name] = _npy(np.array(_extreme(rng, "varint") % 2**63 * (1 - 2 * int(rng.integers(2))), dtype=np.int64))
    elif what == 3:
        size = int(rng.integers(0, 130))
        members[name] = _npy(rng.random(size) * 10.0 ** float(rng.integers(-300, 300)))
    elif what == 4:  # a header that claims more (or less) than the member holds
        shape = [_INT_EXTREMES[int(rng.integers(len(_INT_EXTREMES)))] for _ in range(int(rng.integers(0, 3)))]
        members[name] = _npy_claiming(shape, ("<f8", "|u1", "<U3", "|V0", "|O")[int(rng.integers(5))],
                                      _bytes(rng, int(rng.integers(0, 64))))
    elif what == 5:  # metadata: random, deep, long-numbered or non-scalar JSON
        texts = ["[" * 100_000, '{"a": ' * 50_000, "9" * 5000, '{"n": ' + "9" * 4000 + "}",
                 '{"x": [1, 2]}', "NaN", '{"y": 1e999}', json.dumps({"k": "v" * 1000})]
        members["metadata.npy"] = _npy(np.array(texts[int(rng.integers(len(texts)))]))
    elif what == 6:
        members["octave_probs.npy"] = _npy(_extreme_table(rng))
    elif what == 7:  # a bomb: a large member that compresses to almost nothing
        members[name] = b"\0" * (1 << int(rng.integers(16, 24)))
    else:
        members["extra.npy"] = _npy(np.zeros(int(rng.integers(1, 1000))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in members.items():
            archive.writestr(key, value)
    return out.getvalue(), f"zip member {name} op {what} (zip CRCs valid)"


def _extreme_table(rng):
    p = np.full(64, 1.0 / 64)
    op = int(rng.integers(4))
    if op == 0:
        p[int(rng.integers(64))] = _extreme(rng, "f64")
    elif op == 1:
        p = p.astype(np.float32)
    elif op == 2:
        p = np.full(int(rng.integers(1, 128)), 1.0 / 64)
    else:
        p = rng.dirichlet(np.full(64, 0.1))
        p = np.maximum(p, 1e-300)
        p /= p.sum()
    return p


_JSON_EXTREMES = [0, -1, 1, 2, 1e-300, 1e300, 2**31, 2**63, 10**30, "9" * 5000, "1e999", "NaN", "Infinity",
                  "-Infinity", "true", "null", '"x"', "[]", "{}", "[" * 50_000, 0.5, 64, 4096, 2**22 + 1, 1e-10,
                  4e-9, 1e9]


def mutate_json(rng, data):
    """A model file with one value replaced by an extreme (or a key dropped), as valid text."""
    obj = json.loads(data)
    paths = [(section, key) for section in ("source", "nsq", "rec") for key in obj[section]]
    paths += [(None, "scheme"), (None, "source")]
    section, key = paths[int(rng.integers(len(paths)))]
    target = obj if section is None else obj[section]
    if rng.integers(6) == 0:
        target.pop(key)
        return json.dumps(obj).encode(), f"drop {section}.{key} (valid JSON)"
    value = _JSON_EXTREMES[int(rng.integers(len(_JSON_EXTREMES)))]
    marker = "__FUZZ__"
    target[key] = marker
    text = json.dumps(obj).replace(json.dumps(marker), value if isinstance(value, str) else json.dumps(value))
    return text.encode(), f"{section}.{key} = {str(value)[:20]} (valid JSON)"


# --------------------------------------------------------------------------- codec models, containers, records


def _with_crc(body):
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def mutate_codec_model(rng, data):
    """A codec model with one description value set to an extreme, or an array value changed;
    the description's length and the CRC32 recomputed."""
    (meta_len,) = struct.unpack("<I", data[5:9])
    meta = json.loads(data[9:9 + meta_len])
    arrays = bytearray(data[9 + meta_len:-4])
    what = int(rng.integers(4))
    if what == 0:  # a scalar of the description
        key = ("shape", "tables", "levels", "dinf_limit", "narrow_slack", "algorithm")[int(rng.integers(6))]
        value = _JSON_EXTREMES[int(rng.integers(len(_JSON_EXTREMES)))]
        marker = "__FUZZ__"
        meta[key] = marker
        text = json.dumps(meta).replace(json.dumps(marker), value if isinstance(value, str) else json.dumps(value))
        done = f"meta {key} = {str(value)[:20]}"
    elif what == 1:  # the shape
        meta["shape"] = [_SHAPE_EXTREMES[int(rng.integers(len(_SHAPE_EXTREMES)))]
                         for _ in range(int(rng.integers(0, 3)))]
        text, done = json.dumps(meta), f"shape {meta['shape']}"
    elif what == 2:  # one 8-byte value of the arrays: a float or an integer extreme
        at = 8 * int(rng.integers(len(arrays) // 8))
        if rng.integers(2):
            arrays[at:at + 8] = struct.pack("<d", _extreme(rng, "f64"))
        else:
            arrays[at:at + 8] = struct.pack("<q", _extreme(rng, "varint") % 2**63 * (1 - 2 * int(rng.integers(2))))
        text, done = json.dumps(meta), f"array word {at // 8}"
    else:  # the arrays cut or grown by whole values
        words = int(rng.integers(1, 80))
        arrays = arrays[:-8 * words] if rng.integers(2) else arrays + _bytes(rng, 8 * words)
        text, done = json.dumps(meta), f"arrays +-{words} words"
    meta_bytes = text.encode()
    body = data[:5] + struct.pack("<I", len(meta_bytes)) + meta_bytes + bytes(arrays)
    return _with_crc(body), f"{done} (CRC recomputed)"


def mutate_container(rng, data):
    """A batch container with its counts or chunk lengths set to extremes, CRC32 recomputed."""
    end = len(data) - 4
    count, pos = batch._read_varint(data, 18, end)
    chunk_items, pos = batch._read_varint(data, pos, end)
    narrowed, pos = batch._read_varint(data, pos, end)
    lengths = []
    for _ in range(-(-count // chunk_items)):
        length, pos = batch._read_varint(data, pos, end)
        lengths.append(length)
    fields = [count, chunk_items, narrowed]
    what = int(rng.integers(5))
    if what < 3:
        fields[what] = _extreme(rng, "varint", fields[what])
    elif what == 3 and lengths:
        i = int(rng.integers(len(lengths)))
        lengths[i] = _extreme(rng, "varint", lengths[i])
    else:
        data = data[:5] + bytes([int(rng.integers(256))]) + data[6:]  # flags
    head = data[:18] + b"".join(_varint(int(v) % 2**64) for v in fields + lengths)
    return _with_crc(head + data[pos:end]), f"container fields {fields} {lengths} (CRC recomputed)"


def mutate_record(rng, data):
    """A framed record with its payload edited and, mostly, its check byte recomputed."""
    payload, what = mutate_bytes(rng, data[2:])
    if rng.random() < 0.25:
        return data[:2] + payload, f"payload {what}"
    model = _CODEC_MODEL[0]
    check = batch._record_check(model.model_id, item_seed(SEED, 3), payload)
    return bytes([data[0], check]) + payload, f"payload {what} (check recomputed)"


# --------------------------------------------------------------------------- the cases


def case_input(kind, number):
    """The mutated input of case ``number`` of a kind, and what was done to it."""
    data, _ = corpus()[kind]
    rng = np.random.default_rng([FUZZ_SEED, KINDS.index(kind), number])
    if rng.random() >= FIELD_SHARE:
        return mutate_bytes(rng, data)
    if kind == "index-model":
        return mutate_npz(rng, data)
    if kind == "wz-model-json":
        return mutate_json(rng, data)
    if kind == "codec-model":
        return mutate_codec_model(rng, data) if rng.random() < 0.5 else mutate_body(rng, data)
    if kind in ("batch", "batch-item"):
        return mutate_container(rng, data) if rng.random() < 0.5 else mutate_body(rng, data)
    if kind == "record":
        return mutate_record(rng, data)
    if rng.random() < 0.15:
        return mutate_body(rng, data)
    return mutate_fields(rng, fields_of(data))


_STRUCTURED = ("(CRC recomputed)", "(check recomputed)", "(zip CRCs valid)", "(valid JSON)")


def structured(what):
    """Whether a case passes the file's own checksum (recomputed, or a valid zip or JSON)."""
    return any(marker in what for marker in _STRUCTURED)


def _sane(values, denormals=False):
    """Finite, below 1e300 and (unless ``denormals``) no denormal values: nothing uninitialised."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(values)
    return bool(np.all(np.isfinite(values)) and np.all(magnitude < 1e300)
                and (denormals or not np.any((magnitude > 0) & (magnitude < np.finfo(np.float64).tiny))))


def run_cases(kind, numbers):
    """Decode every case; return (problems, counts of outcomes, slowest seconds)."""
    _, decode = corpus()[kind]
    problems = []
    counts = {"decoded": 0, "refused": 0, "structured": 0}
    slowest = 0.0
    for number in numbers:
        data, what = case_input(kind, number)
        counts["structured"] += structured(what)
        started = time.perf_counter()
        try:
            out = decode(data)
        except RecCodecError:
            counts["refused"] += 1
            out = None
        except Exception as exc:  # noqa: BLE001 - every other error is what we look for
            problems.append(f"case {number} ({what}): {type(exc).__name__}: {str(exc)[:200]}")
            out = None
        else:
            counts["decoded"] += 1
            if not _sane(out, denormals=kind == "codec-model"):  # a model's means may be tiny
                problems.append(f"case {number} ({what}): decoded to non-finite or garbage values")
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        if seconds > TIME_LIMIT_S:
            problems.append(f"case {number} ({what}): took {seconds:.1f} s")
    return problems, counts, slowest


@pytest.mark.parametrize("kind", KINDS)
def test_valid_files_of_every_kind_decode(kind):
    data, decode = corpus()[kind]
    assert _sane(decode(data))


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_files_decode_or_raise_a_reccodec_error(kind):
    problems, counts, _ = run_cases(kind, range(DEFAULT_CASES))
    assert not problems, f"{len(problems)} of {DEFAULT_CASES} {kind} cases:\n" + "\n".join(problems[:20])
    assert counts["refused"] > 0


def test_most_cases_change_fields_and_recompute_the_checksum():
    counts = [structured(case_input(kind, number)[1]) for kind in KINDS for number in range(100)]
    assert sum(counts) >= len(counts) / 2


def test_a_version_2_file_rebuilt_from_its_fields_is_the_same_bytes():
    for kind in ("pfr", "sp-pfr-profile", "uq", "wz-rec"):
        data = corpus()[kind][0]
        assert raw_file(fields_of(data)) == data


def test_the_cli_gives_one_error_line_or_a_file_on_mutated_inputs(tmp_path):
    """A few cases through the installed CLI in a subprocess: exit 0 with an output, or one
    ``Error:`` line, a non-zero exit and no output; never a traceback."""
    corpus()
    np.save(tmp_path / "y.npy", wz.GaussianSource("y = x + n", 1.0, 0.5).sample(12, np.random.default_rng(3))[1])
    (tmp_path / "wz.json").write_text(json.dumps(_wz_models()["rec"].to_dict()))
    (tmp_path / "model.rcm").write_bytes(_CODEC_MODEL[0].to_bytes())
    commands = {
        "pfr": ["decode", "IN", "--seed", str(SEED)],
        "uq": None,  # needs a prior file: covered in-process
        "wz-rec": ["wz", "decode", "IN", "--side-info", str(tmp_path / "y.npy"), "--model", str(tmp_path / "wz.json"),
                   "--seed", str(SEED)],
        "batch": ["decode", "IN", "--model", str(tmp_path / "model.rcm"), "--seed", str(SEED)],
    }
    for kind, command in commands.items():
        if command is None:
            continue
        for number in range(3):
            data, what = case_input(kind, number)
            source, output = tmp_path / f"{kind}-{number}.bin", tmp_path / f"{kind}-{number}.npy"
            source.write_bytes(data)
            argv = [str(source) if a == "IN" else a for a in command] + ["-o", str(output)]
            done = subprocess.run([sys.executable, "-m", "reccodec_cli.main", *argv], capture_output=True, text=True,
                                  timeout=120)
            assert "Traceback" not in done.stderr, (kind, number, what, done.stderr)
            if done.returncode == 0:
                assert _sane(np.load(output)), (kind, number, what)
            else:
                assert done.stderr.startswith("Error: ") and len(done.stderr.splitlines()) == 1, done.stderr
                assert not output.exists()


@pytest.mark.long
def test_a_hundred_thousand_mutated_files_decode_or_raise_a_reccodec_error():
    per_kind = SLOW_CASES // len(KINDS) + 1
    problems = []
    for kind in KINDS:
        found, _, _ = run_cases(kind, range(DEFAULT_CASES, DEFAULT_CASES + per_kind))
        problems += [f"{kind} {p}" for p in found]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
