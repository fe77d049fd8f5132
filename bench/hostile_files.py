"""Hostile files: the mutation fuzzer of tests/test_fuzz.py over every file kind, with figures.

Runs the cases of each kind (the same deterministic cases as the ``slow`` test: numbers
from the default run's end onwards) in a child process of its own, and prints one row per
kind: inputs, how many passed the file's own checksum (recomputed, or a valid zip or
JSON), how many decoded and how many were refused with a reccodec error, problems (any
other exception, or a decode that returned non-finite, huge or denormal values), hangs
(a case over 10 s), the slowest case and the child's peak resident memory (which bounds
every case's). Exits 1 when any kind has a problem or a hang.

    python bench/hostile_files.py --cases 100000
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(kind, start, count):
    """Run the cases of one kind; print one JSON line of figures."""
    import pathlib
    import tempfile

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_fuzz

    with tempfile.TemporaryDirectory() as folder:
        test_fuzz._SCRATCH["folder"] = pathlib.Path(folder)
        test_fuzz.corpus()
        started = time.perf_counter()
        problems, counts, slowest = test_fuzz.run_cases(kind, range(start, start + count))
        seconds = time.perf_counter() - started
    hangs = [p for p in problems if p.endswith(" s") and ": took " in p]
    print(json.dumps({"kind": kind, "inputs": count, **counts, "problems": len(problems) - len(hangs),
                      "hangs": len(hangs), "slowest_s": round(slowest, 3), "seconds": round(seconds, 1),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      "examples": problems[:5]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="inputs in all, shared among the kinds")
    parser.add_argument("--kinds", help="comma-separated kinds (default: all)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "START", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_fuzz

    kinds = args.kinds.split(",") if args.kinds else test_fuzz.KINDS
    per_kind = -(-args.cases // len(kinds))
    rows = []
    print(f"{'kind':16} {'inputs':>7} {'checksum ok':>11} {'decoded':>7} {'refused':>7} {'problems':>8} "
          f"{'hangs':>5} {'slowest s':>9} {'peak MB':>7}", flush=True)
    for kind in kinds:
        done = subprocess.run([sys.executable, __file__, "--child", kind, str(test_fuzz.DEFAULT_CASES), str(per_kind)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            row = {"kind": kind, "inputs": per_kind, "structured": 0, "decoded": 0, "refused": 0, "problems": 1,
                   "hangs": 0, "slowest_s": 0.0, "peak_rss_mb": 0, "examples": [done.stderr[-500:]]}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{kind:16} {row['inputs']:7d} {row['structured']:11d} {row['decoded']:7d} {row['refused']:7d} "
              f"{row['problems']:8d} {row['hangs']:5d} {row['slowest_s']:9.3f} {row['peak_rss_mb']:7d}", flush=True)
        for example in row["examples"]:
            print("    " + example, flush=True)
    total = {key: sum(r[key] for r in rows) for key in ("inputs", "structured", "decoded", "refused", "problems",
                                                           "hangs")}
    print(f"{'all':16} {total['inputs']:7d} {total['structured']:11d} {total['decoded']:7d} {total['refused']:7d} "
          f"{total['problems']:8d} {total['hangs']:5d} {max(r['slowest_s'] for r in rows):9.3f} "
          f"{max(r['peak_rss_mb'] for r in rows):7d}")
    return 1 if total["problems"] or total["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
