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
    done = _make("report", tmp_path, "vae")  # the defaults, as README's first command runs it
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


# commands of a minute or more, left to the slow test: the benches and fitting an index model
HEAVY = ("reccodec bench ", "reccodec fit-index-model ", "--index-model model.npz")


def _readme_script(blocks, with_heavy):
    """README's shell blocks after the first (install and tests), in order, as one bash script."""
    found = re.findall(r"```sh\n(.*?)```", README, re.S)[1:]
    lines = [line for block in found[:blocks] for line in block.splitlines()
             if with_heavy or not any(part in line for part in HEAVY)]
    return "\n".join(["set -euo pipefail", "trap 'echo \"README command failed: $BASH_COMMAND\" >&2' ERR", *lines])


def _run_readme(tmp_path, blocks=None, with_heavy=True):
    """Run the README's commands in a fresh folder that has only ``examples/`` beside it."""
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "-c", _readme_script(blocks, with_heavy)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / "scratch"


def test_readme_command_line_block_runs_in_a_fresh_folder(tmp_path):
    """The first block of commands (the heavy ones left out), as a new user runs it."""
    scratch = _run_readme(tmp_path, blocks=1, with_heavy=False)
    for name in ("latent.rec", "sample.npy", "target.rec", "target.npy"):
        assert (scratch / name).stat().st_size > 0, name
    assert np.load(scratch / "target.npy").shape == np.load(scratch / "sample.npy").shape == (256,)


@pytest.mark.long
def test_readme_commands_run_in_order_in_a_fresh_folder(tmp_path):
    """Every command of every README block, the benches too, in order."""
    scratch = _run_readme(tmp_path)
    for name in ("latent.rec", "sample.npy", "target.rec", "target.npy", "latent-fitted.rec", "digits.rcm",
                 "test.recs", "z17.npy", "one.rec", "y_hat.npy", "hybrid.npy", "sample-sp.npy", "x.rec", "xhat.npy",
                 "steps.png", "steps-partition.png", "wz.json", "wz.png", "coded/part-0.recs",
                 "samples/part-2.npy"):
        assert (scratch / name).stat().st_size > 0, name
    assert np.load(scratch / "hybrid.npy").shape == (256,) and np.load(scratch / "z17.npy").shape == (24,)


def test_readme_documents_every_command_and_shell_completion():
    from reccodec_cli.main import COMMANDS

    for name in COMMANDS:
        assert f"reccodec {name}" in README, name
    assert '_RECCODEC_COMPLETE=bash_source reccodec' in README
