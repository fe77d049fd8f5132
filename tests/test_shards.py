"""Shards: one container per .npz shard, the same bytes on one process, a local pool or Dask."""

import hashlib
import json
import os
import signal

import numpy as np
import pytest

from rec_codec import digits_vae
from rec_codec.batch import container_source_hash, decode_batch, describe_container, encode_batch
from rec_codec.container import read_file
from rec_codec.errors import InputError
from rec_codec.shards import decode_shards, encode_shards, shard_name, shard_seed, summarize
from rec_codec.training import train_model
from test_cli import run_cli

SEED = 2026
SHARDS = 6
ITEMS_PER_SHARD = 10


@pytest.fixture(scope="module")
def vae():
    return digits_vae.load()


@pytest.fixture(scope="module")
def model(vae):
    return train_model(vae.train_mean[:150], vae.train_std[:150], seed=1, margin_bits=4.0)


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "digits.rcm"
    path.write_bytes(model.to_bytes())
    return path


def _write_shards(vae, folder, count=SHARDS):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rows = slice(i * ITEMS_PER_SHARD, (i + 1) * ITEMS_PER_SHARD)
        path = folder / f"part-{i:02d}.npz"
        np.savez(path, mean=vae.test_mean[rows], std=vae.test_std[rows])
        paths.append(str(path))
    return paths


def _contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def one_process(vae, model, tmp_path_factory):
    """The shards and their containers coded in this process: the reference bytes."""
    root = tmp_path_factory.mktemp("shards")
    paths = _write_shards(vae, root / "in")
    outcomes = encode_shards(paths, model, SEED, root / "one", workers=1)
    assert [o.status for o in outcomes] == ["encoded"] * SHARDS
    return paths, _contents(root / "one")


def test_shard_seed_is_the_documented_hash():
    digest = hashlib.sha256(b"reccodec/shard-seed/v1" + (7).to_bytes(8, "little") + "part-00".encode()).digest()
    assert shard_seed(7, "part-00") == int.from_bytes(digest[:8], "little")
    assert shard_seed(7, "part-00") != shard_seed(7, "part-01") != shard_seed(8, "part-01")
    assert shard_name("a/b/part-00.npz") == shard_name("c/part-00.recs") == "part-00"


def test_a_shard_is_a_batch_with_its_own_seed_and_input_hash(vae, model, one_process):
    paths, coded = one_process
    source = read_file(paths[2])
    expected = encode_batch(vae.test_mean[20:30], vae.test_std[20:30], model, shard_seed(SEED, "part-02"),
                            source_hash=hashlib.sha256(source).digest())
    assert coded["part-02.recs"] == expected.container
    assert container_source_hash(expected.container) == hashlib.sha256(source).digest()
    assert describe_container(expected.container)["source_sha256"] == hashlib.sha256(source).hexdigest()


def test_a_container_without_source_hash_keeps_its_format(vae, model):
    plain = encode_batch(vae.test_mean[:5], vae.test_std[:5], model, SEED)
    hashed = encode_batch(vae.test_mean[:5], vae.test_std[:5], model, SEED, source_hash=bytes(range(32)))
    assert container_source_hash(plain.container) is None
    assert plain.container[5] & 2 == 0 and hashed.container[5] & 2 == 2
    assert len(hashed.container) == len(plain.container) + 32
    assert np.array_equal(decode_batch(hashed.container, model, SEED), decode_batch(plain.container, model, SEED))
    with pytest.raises(InputError, match="32 bytes"):
        encode_batch(vae.test_mean[:5], vae.test_std[:5], model, SEED, source_hash=b"short")


def test_local_pool_gives_the_same_bytes_as_one_process(vae, model, one_process, tmp_path):
    paths, coded = one_process
    np.savez(tmp_path / "bad.npz", mean=vae.test_mean[:10, :20], std=vae.test_std[:10, :20])
    outcomes = encode_shards(paths + [str(tmp_path / "bad.npz")], model, SEED, tmp_path / "pool", workers=2)
    assert [o.status for o in outcomes] == ["encoded"] * SHARDS + ["failed"]
    assert _contents(tmp_path / "pool") == coded


def test_local_cluster_gives_the_same_bytes_as_one_process(model, model_file, one_process, tmp_path):
    distributed = pytest.importorskip("distributed")
    paths, coded = one_process
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        outcomes = encode_shards(paths, model, SEED, tmp_path / "dask", client=client)
        assert [o.status for o in outcomes] == ["encoded"] * SHARDS
        assert _contents(tmp_path / "dask") == coded
        decoded = decode_shards(sorted(str(tmp_path / "dask" / n) for n in coded), model, SEED,
                                tmp_path / "samples", client=client)
        on_the_shell = run_cli("encode-shards", os.path.join(os.path.dirname(paths[0]), "*.npz"), "--model",
                               model_file, "--seed", SEED, "--out-dir", tmp_path / "cli", "--scheduler",
                               cluster.scheduler_address, "-q")
        assert on_the_shell.code == 0 and on_the_shell.err == "", on_the_shell.err
        assert _contents(tmp_path / "cli") == coded
    assert [o.status for o in decoded] == ["decoded"] * SHARDS
    for name, data in coded.items():
        samples = np.load(tmp_path / "samples" / name.replace(".recs", ".npy"))
        assert np.array_equal(samples, decode_batch(data, model, shard_seed(SEED, name[:-5])))


@pytest.mark.slow
def test_a_killed_worker_still_gives_every_shard_byte_identical(model, one_process, tmp_path):
    distributed = pytest.importorskip("distributed")
    paths, coded = one_process
    killed = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker(outcome, done, total, seconds):
            if killed:
                return
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)  # its nanny starts a new worker; the task is rescheduled
                killed.append(busy[0])

        outcomes = encode_shards(paths, model, SEED, tmp_path / "dask", client=client, progress=kill_a_busy_worker)
    assert killed
    # a worker killed just after its shard's atomic write leaves that shard done: the
    # rescheduled task finds it and skips it
    statuses = [o.status for o in outcomes]
    assert len(statuses) == SHARDS and set(statuses) <= {"encoded", "skipped"} and statuses.count("skipped") <= 1
    # a worker killed inside an atomic write leaves its hidden temporary file (no process is
    # left to remove it), never a partial output
    written = _contents(tmp_path / "dask")
    temporary = [n for n in written if n.startswith(".") and n.endswith(".tmp")]
    assert len(temporary) <= 1
    assert {n: d for n, d in written.items() if n not in temporary} == coded


def test_a_rerun_skips_finished_shards_and_redoes_a_changed_one(vae, model, one_process, tmp_path):
    paths, coded = one_process
    out = tmp_path / "out"
    encode_shards(paths[:4], model, SEED, out, workers=1)  # an interrupted run: 4 of 6 done
    changed = _write_shards(vae, tmp_path / "changed", count=1)[0]
    with open(changed, "rb") as f, open(paths[1], "rb") as g:
        assert f.read() != g.read()
    os.replace(changed, tmp_path / "part-01.npz")
    rerun = paths[:1] + [str(tmp_path / "part-01.npz")] + paths[2:]
    outcomes = encode_shards(rerun, model, SEED, out, workers=1)
    assert [o.status for o in outcomes] == ["skipped", "encoded", "skipped", "skipped", "encoded", "encoded"]
    assert summarize(outcomes)["items"] == SHARDS * ITEMS_PER_SHARD
    now = _contents(out)
    assert {n: d for n, d in now.items() if n != "part-01.recs"} == {n: d for n, d in coded.items()
                                                                     if n != "part-01.recs"}
    assert now["part-01.recs"] != coded["part-01.recs"]
    assert container_source_hash(now["part-01.recs"]) == hashlib.sha256(read_file(rerun[1])).digest()
    other_seed = encode_shards(paths[:1], model, SEED + 1, out, workers=1)
    assert other_seed[0].status == "encoded"  # another seed is not a match


def _bad_shards(vae, folder):
    mean, std = vae.test_mean[:10].copy(), vae.test_std[:10].copy()
    mean[3, 5] = np.nan
    np.savez(folder / "bad-nan.npz", mean=mean, std=std)
    np.savez(folder / "bad-rank.npz", mean=vae.test_mean[:10, :, None, None], std=vae.test_std[:10, :, None, None])
    np.savez(folder / "bad-shape.npz", mean=vae.test_mean[:10, :20], std=vae.test_std[:10, :20])
    return {"bad-nan": "NaN", "bad-rank": "shape", "bad-shape": "shape"}


def test_a_bad_shard_fails_alone_with_its_name(vae, model, one_process, tmp_path):
    paths, coded = one_process
    reasons = _bad_shards(vae, tmp_path)
    outcomes = encode_shards(paths + [str(tmp_path / f"{n}.npz") for n in reasons], model, SEED, tmp_path / "out",
                             workers=1)
    by_name = {o.name: o for o in outcomes}
    for name, reason in reasons.items():
        assert by_name[name].failed
        assert f"{name}.npz" in by_name[name].error and reason in by_name[name].error
        assert "\n" not in by_name[name].error
    assert summarize(outcomes)["failed"] == 3
    assert _contents(tmp_path / "out") == coded  # the others complete; nothing of the bad ones


def test_cli_encodes_decodes_and_exits_1_when_a_shard_fails(vae, model, model_file, one_process, tmp_path):
    paths, coded = one_process
    folder = os.path.dirname(paths[0])
    _bad_shards(vae, tmp_path)
    result = run_cli("encode-shards", os.path.join(folder, "*.npz"), str(tmp_path / "bad-nan.npz"),
                     "--model", model_file, "--seed", SEED, "--out-dir", tmp_path / "out", "--workers", 1)
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.err.splitlines()
    assert lines[0].startswith("Error: ") and "bad-nan.npz" in lines[0] and "NaN" in lines[0]
    assert lines[-1] == f"Error: 1 of {SHARDS + 1} shards failed"
    assert _contents(tmp_path / "out") == coded
    again = run_cli("encode-shards", os.path.join(folder, "*.npz"), "--model", model_file, "--seed", SEED,
                    "--out-dir", tmp_path / "out", "--json", "--workers", 1)
    assert again.code == 0, again.err
    report = json.loads(again.out)
    assert report["total"]["skipped"] == SHARDS and report["total"]["failed"] == 0
    assert {s["name"] for s in report["shards"]} == {n[:-5] for n in coded}
    decoded = run_cli("decode-shards", str(tmp_path / "out" / "*.recs"), "--model", model_file, "--seed", SEED,
                      "--out-dir", tmp_path / "samples", "-q", "--workers", 1)
    assert decoded.code == 0 and decoded.err == ""
    for name, data in coded.items():
        samples = np.load(tmp_path / "samples" / name.replace(".recs", ".npy"))
        assert np.array_equal(samples, decode_batch(data, model, shard_seed(SEED, name[:-5])))
    wrong = run_cli("decode-shards", str(tmp_path / "out" / "part-00.recs"), "--model", model_file, "--seed",
                    SEED + 1, "--out-dir", tmp_path / "wrong", "--workers", 1)
    assert wrong.code == 1 and "part-00.recs" in wrong.err and "seed" in wrong.err
    assert not os.listdir(tmp_path / "wrong")


def test_cli_refuses_bad_arguments_in_one_line(model_file, tmp_path, monkeypatch):
    none = run_cli("encode-shards", str(tmp_path / "*.npz"), "--model", model_file, "--seed", 1, "--out-dir",
                   tmp_path / "out")
    assert none.code != 0 and none.err.splitlines() == [f"Error: no file matches {tmp_path / '*.npz'}"]
    np.savez(tmp_path / "a.npz", mean=np.zeros((1, 24)), std=np.ones((1, 24)))
    os.mkdir(tmp_path / "b")
    np.savez(tmp_path / "b" / "a.npz", mean=np.zeros((1, 24)), std=np.ones((1, 24)))
    twice = run_cli("encode-shards", tmp_path / "a.npz", tmp_path / "b" / "a.npz", "--model", model_file, "--seed",
                    1, "--out-dir", tmp_path / "out")
    assert twice.code == 1 and len(twice.err.splitlines()) == 1 and "shard names must differ" in twice.err
    both = run_cli("encode-shards", tmp_path / "a.npz", "--model", model_file, "--seed", 1, "--out-dir",
                   tmp_path / "out", "--workers", 2, "--scheduler", "tcp://127.0.0.1:1")
    assert both.code != 0 and len(both.err.splitlines()) == 1 and "exclude each other" in both.err
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if dask were not installed
    missing = run_cli("encode-shards", tmp_path / "a.npz", "--model", model_file, "--seed", 1, "--out-dir",
                      tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert missing.code == 1 and len(missing.err.splitlines()) == 1
    assert "pip install 'reccodec[dask]'" in missing.err
    assert not os.path.exists(tmp_path / "out") or not os.listdir(tmp_path / "out")


def test_progress_shows_shards_items_rate_and_time_left_only_when_enabled(capsys):
    from reccodec_cli.shard_commands import _Progress
    from rec_codec.shards import ShardOutcome

    shown = _Progress(enabled=True)
    shown(ShardOutcome("a", "a.npz", "a.recs", "encoded", items=10), 1, 4, 1.0)
    line = capsys.readouterr().err
    assert line.startswith("\rshards 1/4, items 10, ") and "items/s" in line and line.endswith(" left")
    hidden = _Progress(enabled=False)
    hidden(ShardOutcome("a", "a.npz", "a.recs", "encoded", items=10), 1, 4, 1.0)
    hidden(ShardOutcome("b", "b.npz", "b.recs", "failed", error="b.npz: bad"), 2, 4, 1.0)
    assert capsys.readouterr().err == "Error: b.npz: bad\n"
