"""Outputs that are not new plain files: devices, FIFOs, symlinks, inputs, races.

Device nodes are made with ``mknod`` in a temporary folder (a null device, 1:3), never
/dev/null itself: a bug that replaced the node must break nothing outside the test.
"""

import json
import os
import stat
import threading

import numpy as np
import pytest

from rec_codec import container
from test_cli import assert_one_error_line, fails, ok, run_cli, write_gaussian

SEED = "7"


@pytest.fixture
def target(tmp_path):
    rng = np.random.default_rng(0)
    return write_gaussian(tmp_path / "target.npz", rng.normal(0, 0.5, 6), rng.uniform(0.2, 0.6, 6))


@pytest.fixture
def null_device(tmp_path):
    path = tmp_path / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def _is_null_device(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


@pytest.mark.parametrize("force", [(), ("-f",)])
def test_encode_to_a_character_device_writes_into_it_and_keeps_the_node(tmp_path, target, null_device, force):
    ok("encode", target, "-o", null_device, "--seed", SEED, "-q", *force)
    assert _is_null_device(null_device)
    assert sorted(os.listdir(tmp_path)) == ["null", "target.npz"]  # no temporary file left


def test_decode_and_fit_index_model_to_a_character_device_keep_the_node(tmp_path, target, null_device):
    rec = tmp_path / "a.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "-q")
    ok("decode", rec, "-o", null_device, "--seed", SEED, "-f")
    batch = write_gaussian(tmp_path / "batch.npz", np.zeros((4, 6)), np.full((4, 6), 0.5))
    ok("fit-index-model", batch, "-o", null_device, "--seed", "1", "-f", "-q")
    assert _is_null_device(null_device)


def test_library_atomic_write_keeps_a_device_node(null_device):
    container.atomic_write(null_device, b"data")
    assert _is_null_device(null_device)


def test_encode_writes_into_a_fifo(tmp_path, target):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))
    reader.start()
    ok("encode", target, "-o", fifo, "--seed", SEED, "-q")
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0][:4] == container.MAGIC


@pytest.mark.parametrize("which", ["target", "prior"])
def test_encode_with_force_refuses_an_output_that_is_an_input(tmp_path, target, which):
    prior = write_gaussian(tmp_path / "prior.npz", np.zeros(6), np.ones(6))
    output = target if which == "target" else prior
    fails(tmp_path, "encode", target, "--prior", prior, "-o", output, "--seed", SEED, "-f",
          fragments=("is the input",))


def test_encode_refuses_an_output_that_is_a_hard_link_of_the_input(tmp_path, target):
    os.link(target, tmp_path / "same.npz")
    fails(tmp_path, "encode", target, "-o", tmp_path / "same.npz", "--seed", SEED, "-f", fragments=("is the input",))


def test_decode_with_force_refuses_to_overwrite_its_input(tmp_path, target):
    rec = tmp_path / "a.rec"
    ok("encode", target, "-o", rec, "--seed", SEED, "-q")
    fails(tmp_path, "decode", rec, "-o", rec, "--seed", SEED, "-f", fragments=("is the input",))


def test_force_through_a_symlink_replaces_its_file_and_keeps_the_link(tmp_path, target):
    real = tmp_path / "real.rec"
    real.write_bytes(b"old")
    link = tmp_path / "link.rec"
    os.symlink(real, link)
    ok("encode", target, "-o", link, "--seed", SEED, "-q", "-f")
    assert os.path.islink(link)
    assert real.read_bytes()[:4] == container.MAGIC


def test_a_symlink_output_without_force_is_refused(tmp_path, target):
    real = tmp_path / "real.rec"
    real.write_bytes(b"old")
    os.symlink(real, tmp_path / "link.rec")
    fails(tmp_path, "encode", target, "-o", tmp_path / "link.rec", "--seed", SEED, fragments=("already exists",))


def test_a_directory_output_is_refused(tmp_path, target):
    (tmp_path / "folder").mkdir()
    assert_one_error_line(run_cli("encode", target, "-o", tmp_path / "folder", "--seed", SEED, "-f"), "directory")
    assert os.listdir(tmp_path / "folder") == []


def test_exclusive_write_refuses_a_file_that_appeared_meanwhile(tmp_path):
    """The race: the output did not exist at the check, and appears before the write."""
    path = tmp_path / "out.rec"
    path.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        container.atomic_write(path, b"mine", overwrite=False)
    assert path.read_bytes() == b"theirs"
    assert os.listdir(tmp_path) == ["out.rec"]


def test_json_with_the_bitstream_on_stdout_is_refused(tmp_path, target):
    fails(tmp_path, "encode", target, "-o", "-", "--seed", SEED, "--json", fragments=("--json",), code=2)


def test_a_failed_json_print_removes_the_written_file(tmp_path, target, monkeypatch):
    from reccodec_cli import conventions

    def broken(obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(conventions, "echo_json", broken)
    result = run_cli("encode", target, "-o", tmp_path / "a.rec", "--seed", SEED, "--json")
    assert result.code == 1 and "No space left" in result.err
    assert not (tmp_path / "a.rec").exists()


def test_json_summary_still_works_on_a_file_output(tmp_path, target):
    result = ok("encode", target, "-o", tmp_path / "a.rec", "--seed", SEED, "--json")
    assert json.loads(result.out)["bits"] == 8 * os.path.getsize(tmp_path / "a.rec")
