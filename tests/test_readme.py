"""README's commands and examples stay true: they run here as tests."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md")).read()


def test_readme_starts_with_the_example_and_the_test_command():
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1).splitlines()
    assert block[0].startswith("python3 -m pip install -e '.[dev,dask]' && make -C examples/vae")
    assert block[1].startswith("python3 -m pytest -q")
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert "python3 -m pytest -q\n" in ci


def _make(target, tmp_path, example="latent", *variables):
    cli = f"{sys.executable} -m reccodec_cli.main"
    return subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "examples", example), target,
                           f"OUT={tmp_path}", f"RECCODEC={cli}", f"PYTHON={sys.executable}", *variables],
                          capture_output=True, text=True, timeout=600)


def test_vae_example_codes_real_latents_near_their_kl(tmp_path):
    done = _make("report", tmp_path, "vae", "TRAIN_OPTIONS=--margin-bits 4")
    assert done.returncode == 0, done.stderr
    assert "round trip         bit for bit" in done.stdout
    ratio = float(done.stdout.split("container")[1].split("(")[1].split(" x KL")[0])
    assert ratio < 1.25


def test_example_makefile_round_trips_bit_for_bit(tmp_path):
    done = _make("report", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "round trip    bit for bit" in done.stdout
    assert "algorithm: pfr" in done.stdout


@pytest.mark.slow
def test_example_makefile_with_an_empirical_index_model(tmp_path):
    done = _make("empirical", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "round trip    bit for bit" in done.stdout


def test_uq_example_makefile_quantizes_within_half_a_step(tmp_path):
    done = _make("report", tmp_path, "uq")
    assert done.returncode == 0, done.stderr
    assert "within 1/2     yes" in done.stdout


def test_wyner_ziv_example_makefile_beats_the_side_information_alone(tmp_path):
    done = _make("report", tmp_path, "wz")
    assert done.returncode == 0, done.stderr
    assert "binning pays      yes" in done.stdout


def test_readme_python_example_runs():
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["sample"].tobytes() == namespace["result"].sample.tobytes()
    assert isinstance(namespace["sample"], np.ndarray)
