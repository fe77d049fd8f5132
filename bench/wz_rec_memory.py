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
  4 samples with 2^22, on 1% of the samples), best of ``--repeats``, with a digest of the
  file and of both estimates. ``--baseline DIR`` times another checkout's code in the same
  process, the two versions alternating, and gives this tree's time over the baseline's
  and whether the outputs are identical.

    python bench/wz_rec_memory.py --part hostile --threads 1,2
    python bench/wz_rec_memory.py --part speed --threads 2 --baseline ../other-checkout
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


def _versions(baseline):
    """[(name, wyner_ziv module)]: this tree's, and the one of the tree ``baseline`` (its
    ``rec_codec`` copied as ``rec_codec_baseline``; its absolute imports of rec_codec
    modules read this tree's, so only the relative ones, the kernels among them, differ)."""
    import shutil
    import tempfile

    from rec_codec import wyner_ziv

    versions = [("this", wyner_ziv)]
    if baseline:
        folder = tempfile.mkdtemp()
        shutil.copytree(os.path.join(baseline, "rec_codec"), os.path.join(folder, "rec_codec_baseline"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        sys.path.insert(0, folder)
        import importlib

        versions.append(("baseline", importlib.import_module("rec_codec_baseline.wyner_ziv")))
    return versions


def speed_child(samples, baseline, repeats):
    """Time encode and both decoders of fixed models (best of ``repeats``, the versions
    alternating); print JSON lines."""
    import numpy as np

    versions = _versions(baseline)
    for name in ("d1 N=default", "d5 N=2^17", "d4 N=2^22"):
        runs = {}
        for version, wz in versions:
            source = wz.GaussianSource("y = x + n", 1.0, 0.5)
            if name == "d1 N=default":
                sv2 = wz.source_sv2(source, 1.5)
                params = wz.RECParams(sv2, 2.0, wz.default_candidates(source, sv2), 1, "soft", 64, 4)
            else:
                d, log_n = (5, 17) if name == "d5 N=2^17" else (4, 22)
                params = wz.RECParams(wz.source_sv2(source, 1.0), float(d), 2**log_n, d, "soft",
                                      wz.JOINT_SOFT_DRAWS, wz.JOINT_COMPONENTS)
            model = wz.WZModel(source, "rec", rec=params)
            count = samples if params.candidates < 2**20 else max(params.dims, samples // 100)
            x, y = source.sample(count - count % params.dims, np.random.default_rng(5))
            data = wz.encode(x, model, SEED).data
            calls = {"encode": lambda wz=wz, model=model, x=x: wz.encode(x, model, SEED).data,
                     "soft": lambda wz=wz, model=model, y=y, data=data: wz.decode(data, y, model, SEED, "soft"),
                     "hard": lambda wz=wz, model=model, y=y, data=data: wz.decode(data, y, model, SEED, "hard")}
            for call in calls.values():
                call()  # compile or load the kernels
            runs[version] = (x, calls, {what: [] for what in calls}, {})
        for _ in range(repeats):
            for version, _ in versions:
                _, calls, seconds, digests = runs[version]
                for what, call in calls.items():
                    started = time.perf_counter()
                    result = call()
                    seconds[what].append(time.perf_counter() - started)
                    digests[what] = _digest(result)
        for version, _ in versions:
            x, _, seconds, digests = runs[version]
            row = {"threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")), "version": version, "model": name,
                   "samples": x.size}
            for what in ("encode", "soft", "hard"):
                row[f"{what}_s"] = round(min(seconds[what]), 3)
                if version != "this":
                    row[f"{what}_ratio"] = round(min(runs["this"][2][what]) / min(seconds[what]), 2)
                    row[f"{what}_same"] = digests[what] == runs["this"][3][what]
                else:
                    row[f"{what}_digest"] = digests[what]
            print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("hostile", "speed"), default="hostile")
    parser.add_argument("--phase", choices=("decode", "encode"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="1,2", help="comma-separated NUMBA_NUM_THREADS values")
    parser.add_argument("--samples", type=int, default=4000, help="speed: samples per model (1%% for 2^22)")
    parser.add_argument("--repeats", type=int, default=3, help="speed: best of this many runs")
    parser.add_argument("--baseline", help="speed: another checkout whose rec_codec to time alongside")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, ROOT)
        if args.part == "speed":
            speed_child(args.samples, args.baseline, args.repeats)
        else:
            hostile_child(args.phase)
        return 0
    for threads in args.threads.split(","):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        for phase in ("decode", "encode") if args.part == "hostile" else ("decode",):
            command = [sys.executable, __file__, "--child", "--part", args.part, "--phase", phase, "--samples",
                       str(args.samples), "--repeats", str(args.repeats)]
            if args.baseline:
                command += ["--baseline", os.path.abspath(args.baseline)]
            done = subprocess.run(command, cwd=ROOT, env=env)
            if done.returncode != 0:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
