"""SIGINT (or SIGTERM) during a 100,000-dimension encode: how long until the process exits.

Each try starts ``reccodec encode`` on the same 100,000-dimension target (about four
minutes of search uninterrupted), waits until it has used --after CPU seconds (past its
imports, into the search), sends the signal and measures the wall time to exit. Prints one
row per try and a summary; a try passes when the exit status is 130, stderr is the single
line "Error: interrupted", and the folder holds only the input afterwards.

    python bench/interrupt_latency.py --tries 20
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_try(folder, signum, after):
    before = sorted(os.listdir(folder))
    proc = subprocess.Popen([sys.executable, "-m", "reccodec_cli.main", "encode", "big.npz", "--seed", "1",
                             "-o", "big.rec"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while cpu_seconds(proc.pid) < after:
        if proc.poll() is not None:
            raise SystemExit(f"encode ended before the signal: {proc.communicate()[1].decode()}")
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate()
    seconds = time.monotonic() - sent
    ok = proc.returncode == 130 and err == b"Error: interrupted\n" and sorted(os.listdir(folder)) == before
    return seconds, proc.returncode, ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--dims", type=int, default=100_000)
    parser.add_argument("--after", type=float, default=3.0, help="CPU seconds of the encoder before the signal")
    parser.add_argument("--signal", choices=["INT", "TERM"], default="INT")
    args = parser.parse_args()
    signum = getattr(signal, "SIG" + args.signal)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        np.savez(os.path.join(folder, "big.npz"), mean=rng.normal(0.0, 0.3, args.dims), std=np.full(args.dims, 0.8))
        times, passed = [], 0
        print("| try | exit | seconds to exit | clean |\n|---:|---:|---:|---|")
        for i in range(args.tries):
            seconds, code, ok = one_try(folder, signum, args.after)
            times.append(seconds)
            passed += ok
            print(f"| {i + 1} | {code} | {seconds:.3f} | {'yes' if ok else 'NO'} |")
    print(f"\nSIG{args.signal} after {args.after} CPU s, {args.dims} dims: {passed} of {args.tries} clean; "
          f"seconds to exit: median {np.median(times):.3f}, max {max(times):.3f}")


if __name__ == "__main__":
    main()
