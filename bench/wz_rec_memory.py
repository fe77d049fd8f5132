"""Memory of a hostile wz rec file and the speed of normal wz rec coding.

Two measurements, each in child processes of its own:

- ``hostile``: a 12-sample wz rec file whose header asks for the most candidates a file
  may hold (``wz_candidates`` = ``wyner_ziv.MAX_CANDIDATES``, 2^22), the CRC32 recomputed
  and the file written in format version 1 (whose tag does not cover the header), decoded
  (soft, then hard) under NUMBA_NUM_THREADS = 1, 2, ...; and, in a child of its own, 12
  samples eight standard deviations out encoded with that many candidates (each block's
  search scans all of them). Each row gives the child's peak resident memory after an
  ordinary decode of the unedited file and an ordinary encode (which compile or load
  every kernel), the peak after the hostile decodes or the encode, the growth, seconds
  and digests of the outputs.
- ``speed``: encode, soft decode and hard decode of fixed models (one sample per block
  with the default candidate count; joint blocks of 5 samples with 2^17 candidates and of
  4 samples with 2^22, on 1% of the samples), best of three, with a digest of the file and of both estimates so
  that two versions of the code can be compared for identical output.

    python bench/wz_rec_memory.py --part hostile --threads 1,2
    python bench/wz_rec_memory.py --part speed --threads 2
"""

import argparse
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 11


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _version_1_with(data, **params):
    """``data`` rewritten in format version 1 with header params replaced, CRC32 recomputed."""
    from rec_codec import container

    header, words = container.unpack(data)
    header = container.Header(header.algorithm, tuple(header.shape), header.tag, dict(header.params, **params),
                              header.approximate)
    out = bytearray(container.pack(header, words)[:-4])
    out[4] = 1
    out[7:11] = struct.pack("<I", header.tag)
    return bytes(out) + struct.pack("<I", zlib.crc32(bytes(out)))


def hostile_child(phase):
    """After an ordinary decode and encode, decode the hostile file (phase "decode") or
    encode far-out samples with as many candidates (phase "encode"); print one JSON line."""
    import numpy as np

    from rec_codec import wyner_ziv as wz
    from rec_codec.errors import RecCodecError

    source = wz.GaussianSource("y = x + n", 1.0, 0.5)
    x, y = source.sample(12, np.random.default_rng(3))
    sv2 = source.cond_var / 3.0
    model = wz.WZModel(source, "rec", rec=wz.RECParams(sv2, 2.0, wz.default_candidates(source, sv2, 2), 2, "soft"))
    data = wz.encode(x, model, SEED).data
    hostile = _version_1_with(data, wz_candidates=wz.MAX_CANDIDATES)
    big = wz.WZModel(source, "rec", rec=replace(model.rec, candidates=wz.MAX_CANDIDATES))
    row = {"threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")), "phase": phase}
    for decoder in ("soft", "hard"):
        wz.decode(data, y, model, SEED, decoder)
    wz.encode(np.zeros(2), big, SEED)
    row["baseline_mb"] = round(_peak_mb(), 1)
    if phase == "decode":
        row["file_bytes"] = len(hostile)
        for decoder in ("soft", "hard"):
            started = time.perf_counter()
            try:
                out = wz.decode(hostile, y, model, SEED, decoder)
                row[decoder] = "decoded" if np.isfinite(out).all() else "not finite"
                row[f"{decoder}_digest"] = _digest(out)
            except RecCodecError as error:
                row[decoder] = f"refused: {error}"
            row[f"{decoder}_s"] = round(time.perf_counter() - started, 2)
    else:
        started = time.perf_counter()
        coded = wz.encode(np.full(12, 8.0), big, SEED)
        row["encode_s"] = round(time.perf_counter() - started, 2)
        row["encode_digest"] = _digest(coded.data)
    row["peak_mb"] = round(_peak_mb(), 1)
    row["growth_mb"] = round(row["peak_mb"] - row["baseline_mb"], 1)
    print(json.dumps(row), flush=True)


def _digest(array_or_bytes):
    import numpy as np

    if isinstance(array_or_bytes, bytes):
        return hashlib.sha256(array_or_bytes).hexdigest()[:16]
    return hashlib.sha256(np.ascontiguousarray(array_or_bytes, dtype=np.float64).tobytes()).hexdigest()[:16]


def speed_child(samples):
    """Time encode and both decoders of fixed models (best of three); print JSON lines."""
    import numpy as np

    from rec_codec import wyner_ziv as wz

    source = wz.GaussianSource("y = x + n", 1.0, 0.5)
    models = {}
    sv2 = wz.source_sv2(source, 1.5)
    models["d1 N=default"] = wz.RECParams(sv2, 2.0, wz.default_candidates(source, sv2), 1, "soft", 64, 4)
    sv2 = wz.source_sv2(source, 1.0)
    models["d5 N=2^17"] = wz.RECParams(sv2, 5.0, 2**17, 5, "soft", wz.JOINT_SOFT_DRAWS, wz.JOINT_COMPONENTS)
    models["d4 N=2^22"] = wz.RECParams(sv2, 4.0, 2**22, 4, "soft", wz.JOINT_SOFT_DRAWS, wz.JOINT_COMPONENTS)
    for name, params in models.items():
        model = wz.WZModel(source, "rec", rec=params)
        count = samples if params.candidates < 2**20 else max(params.dims, samples // 100)
        x, y = source.sample(count - count % params.dims, np.random.default_rng(5))
        row = {"threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")), "model": name, "samples": x.size,
               "candidates": params.candidates}
        for what, call in (("encode", lambda: wz.encode(x, model, SEED).data),
                           ("soft", lambda: wz.decode(data, y, model, SEED, "soft")),
                           ("hard", lambda: wz.decode(data, y, model, SEED, "hard"))):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                result = call()
                best = min(best, time.perf_counter() - started)
            if what == "encode":
                data = result
            row[f"{what}_s"] = round(best, 3)
            row[f"{what}_digest"] = _digest(result)
        row["soft_mse"] = round(float(np.mean((wz.decode(data, y, model, SEED, "soft") - x) ** 2)), 5)
        row["peak_mb"] = round(_peak_mb(), 1)
        print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("hostile", "speed"), default="hostile")
    parser.add_argument("--phase", choices=("decode", "encode"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="1,2", help="comma-separated NUMBA_NUM_THREADS values")
    parser.add_argument("--samples", type=int, default=4000, help="speed: samples per model (1%% for 2^22)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, ROOT)
        if args.part == "speed":
            speed_child(args.samples)
        else:
            hostile_child(args.phase)
        return 0
    for threads in args.threads.split(","):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        for phase in ("decode", "encode") if args.part == "hostile" else ("decode",):
            done = subprocess.run([sys.executable, __file__, "--child", "--part", args.part, "--phase", phase,
                                   "--samples", str(args.samples)], cwd=ROOT, env=env)
            if done.returncode != 0:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
