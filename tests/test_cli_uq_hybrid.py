"""The command line of uq and hybrid: round trips, info, and one-line errors without output."""

import json

import numpy as np
import pytest

from test_cli import run_cli

SEED = "9"


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(4)
    mean, std = rng.normal(size=(20, 3)), rng.uniform(0.5, 2.0, (20, 3))
    np.savez(tmp_path / "values.npz", y=mean + std * rng.normal(size=mean.shape), mean=mean, std=std)
    np.savez(tmp_path / "laplace.npz", y=mean + std * rng.laplace(size=mean.shape), loc=mean, scale=std)
    np.savez(tmp_path / "noprior.npz", y=mean)
    np.savez(tmp_path / "target.npz", mean=0.1 * mean, std=0.05 * std)
    return tmp_path


def _ok(*argv):
    result = run_cli(*argv)
    assert result.code == 0, result.err
    return result


def _error(*argv, output=None, code=1):
    result = run_cli(*argv)
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.err
    if output is not None:
        assert not output.exists()
    return lines[0]


@pytest.mark.parametrize("values,alpha", [("values.npz", []), ("values.npz", ["--alpha", "3"]), ("laplace.npz", [])])
def test_uq_cli_round_trip_is_bit_for_bit(files, values, alpha):
    rec, out, chosen = files / "y.rec", files / "y.npy", files / "chosen.npy"
    summary = json.loads(_ok("encode", "--algorithm", "uq", files / values, "-o", rec, "--seed", SEED,
                             "--sample-out", chosen, "--json", *alpha).out)
    assert summary["algorithm"] == "uq" and summary["elements"] == 60
    _ok("decode", rec, "-o", out, "--seed", SEED, "--prior", files / values)
    assert np.array_equal(np.load(out), np.load(chosen))
    info = json.loads(_ok("info", rec, "--json").out)
    assert info["algorithm"] == "uq" and ("uq_alpha" in info["params"]) == bool(alpha)


def test_hybrid_cli_round_trip_and_info_says_eps(files):
    rec, out, chosen = files / "h.rec", files / "h.npy", files / "chosen.npy"
    _ok("encode", "--algorithm", "hybrid", files / "target.npz", "-o", rec, "--seed", SEED, "--eps", "0.01",
        "--hybrid-search", "orc", "--sample-out", chosen, "-q")
    _ok("decode", rec, "-o", out, "--seed", SEED)
    assert np.array_equal(np.load(out), np.load(chosen))
    text = _ok("info", rec).out.decode()
    assert "eps-approximate" in text and "eps = 0.01" in text


@pytest.mark.parametrize("argv,message,code", [
    (["--algorithm", "uq", "values.npz", "--alpha", "0"], "'--alpha': 0.0 is not in the range x>0", 2),
    (["--algorithm", "uq", "values.npz", "--alpha", "-1"], "'--alpha': -1.0 is not in the range x>0", 2),
    (["--algorithm", "uq", "noprior.npz"], "missing the prior of y", 1),
    (["--algorithm", "hybrid", "target.npz", "--eps", "0"], "'--eps': 0.0 is not in the range 0<x<1", 2),
    (["--algorithm", "hybrid", "target.npz", "--eps", "1.5"], "'--eps': 1.5 is not in the range 0<x<1", 2),
    (["--algorithm", "pfr", "target.npz", "--alpha", "1"], "--alpha applies to --algorithm uq only", 2),
    (["--algorithm", "uq", "values.npz", "--eps", "0.1"], "--eps applies to --algorithm hybrid only", 2),
])
def test_bad_inputs_give_one_line_and_no_file(files, argv, message, code):
    argv = [str(files / a) if a.endswith(".npz") else a for a in argv]
    line = _error("encode", *argv, "-o", files / "bad.rec", "--seed", SEED, output=files / "bad.rec", code=code)
    assert message in line


def test_uq_decode_needs_the_prior(files):
    rec = files / "y.rec"
    _ok("encode", "--algorithm", "uq", files / "values.npz", "-o", rec, "--seed", SEED, "-q")
    assert "needs the prior" in _error("decode", rec, "-o", files / "y.npy", "--seed", SEED, output=files / "y.npy")
    line = _error("decode", rec, "-o", files / "y.npy", "--seed", SEED, "--prior", files / "laplace.npz")
    assert "gaussian prior" in line
