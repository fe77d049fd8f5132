"""One set of conventions across every ``reccodec`` command, each with its test.

Help text on every option and examples in every ``--help``; ``--json`` as one object on
stdout; ``decode -q/--json``; ``-f`` honoured by the benches and ``wz design``; exit status
2 for bad option values; errors that name the file; ``decode`` of a Wyner-Ziv file points
at ``wz decode``; ``--threads`` leaves the bytes alone; default output names; ``--plot``
checked before any work; shell completion.
"""

import json
import os
import subprocess
import sys

import click
import numpy as np
import pytest

from reccodec_cli.main import COMMANDS, cli
from test_cli import SEED, assert_one_error_line, fails, ok, random_gaussian, run_cli, write_gaussian

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _commands(command=cli, path=("reccodec",)):
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _commands(command.get_command(ctx, name), path + (name,))


ALL_COMMANDS = [path[1:] for path, _ in _commands()]


@pytest.fixture
def target(tmp_path):
    return write_gaussian(tmp_path / "x.npz", *random_gaussian(6))


@pytest.fixture(scope="module")
def wz_designed(tmp_path_factory):
    """x.npy, y.npy (y = x + n) and a designed nsq model.json, made once."""
    folder = tmp_path_factory.mktemp("wz")
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 500)
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", x + rng.normal(0.0, 0.5 ** 0.5, 500))
    (folder / "model.json").write_text(json.dumps(
        {"scheme": "nsq", "source": {"relation": "y = x + n", "var_x": 1.0, "var_n": 0.5}}))
    ok("wz", "design", "--model", folder / "model.json", "--rate", "2", "--train-samples", "500", "-q")
    return folder


@pytest.fixture
def wz_files(tmp_path, wz_designed):
    """A copy of ``wz_designed`` in the test's own folder."""
    for name in ("x.npy", "y.npy", "model.json"):
        (tmp_path / name).write_bytes((wz_designed / name).read_bytes())
    return tmp_path


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_neither_numpy_nor_the_algorithms(flag):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "reccodec_cli.main", flag], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "reccodec_cli.failures" in imported  # -X importtime took effect
    assert not {"numpy", "numba", "scipy", "rec_codec.codec", "rec_codec.container"} & imported


def test_every_command_of_the_table_loads_under_its_name():
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name, (_, _, line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
        assert line.endswith(".") and len(line) <= 70, name
    assert cli.get_command(ctx, "encoder") is None
    result = run_cli("encoder")
    assert_one_error_line(result, "encoder", code=2)


# --------------------------------------------------------------------------- help


def test_every_command_has_examples_and_every_option_has_help():
    assert len(ALL_COMMANDS) >= 15
    for path, command in _commands():
        text = command.get_help(click.Context(command, info_name=" ".join(path)))
        assert "Examples:" in text, path
        assert "reccodec " + " ".join(path[1:]) in text.split("Examples:")[1], path
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.opts)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "reccodec")
def test_help_prints_and_exits_zero(path):
    result = run_cli(*path, "--help")
    assert result.code == 0 and result.err == ""
    assert b"Examples:" in result.out


# --------------------------------------------------------------------------- outputs


def test_default_output_names_follow_the_input_and_refuse_to_overwrite(tmp_path, target, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok("encode", "x.npz", "--seed", SEED, "-q")
    assert (tmp_path / "x.rec").read_bytes()[:4] == b"\x89REC"
    ok("decode", "x.rec", "--seed", SEED, "-q")
    sample = np.load(tmp_path / "x.npy")
    assert sample.shape == (6,)
    before = (tmp_path / "x.rec").read_bytes()
    fails(tmp_path, "encode", "x.npz", "--seed", "8", fragments=("x.rec", "-f"))
    fails(tmp_path, "decode", "x.rec", "--seed", SEED, fragments=("x.npy", "-f"))
    ok("encode", "x.npz", "--seed", "8", "-q", "-f")
    assert (tmp_path / "x.rec").read_bytes() != before


def test_default_outputs_of_mi_profile_and_fit_index_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_gaussian(tmp_path / "train.npz", *random_gaussian((4, 6), seed=2))
    ok("mi-profile", "train.npz", "-q")
    assert np.load("train.profile.npy").shape == (6,)
    fails(tmp_path, "mi-profile", "train.npz", fragments=("train.profile.npy", "-f"))
    ok("fit-index-model", "train.npz", "--seed", SEED, "-q")
    with np.load("train.index.npz") as model:
        assert len(model.files) > 0
    fails(tmp_path, "fit-index-model", "train.npz", "--seed", SEED, fragments=("train.index.npz", "-f"))
    ok("encode", "train.npz", "--seed", SEED, "-o", "t.rec", "--index-model", "train.index.npz", "-q")


def test_default_output_of_a_container_is_npy(tmp_path, monkeypatch):
    from rec_codec import digits_vae

    monkeypatch.chdir(tmp_path)
    vae = digits_vae.load()
    np.savez("train.npz", mean=vae.train_mean[:100], std=vae.train_std[:100])
    np.savez("items.npz", mean=vae.test_mean[:4], std=vae.test_std[:4])
    ok("train", "train.npz", "-q", "--margin-bits", "4")  # writes train.rcm
    ok("encode", "items.npz", "--model", "train.rcm", "--seed", SEED, "-o", "items.recs", "-q")
    fails(tmp_path, "decode", "items.recs", "--seed", SEED, fragments=("items.recs", "--model"))
    ok("decode", "items.recs", "--model", "train.rcm", "--seed", SEED, "-q")
    assert np.load("items.npy").shape == (4, 24)


def test_stdin_without_output_goes_to_stdout(tmp_path, target):
    rec = tmp_path / "x.rec"
    ok("encode", target, "--seed", SEED, "-o", rec, "-q")
    result = ok("decode", "-", "--seed", SEED, "-q", stdin=rec.read_bytes())
    assert result.out.startswith(b"\x93NUMPY")


def test_wz_commands_name_their_outputs_too(wz_files, monkeypatch):
    monkeypatch.chdir(wz_files)
    ok("wz", "encode", "x.npy", "--model", "model.json", "--seed", SEED, "-q")
    assert (wz_files / "x.rec").exists()
    fails(wz_files, "wz", "decode", "x.rec", "--side-info", "y.npy", "--model", "model.json", "--seed", SEED,
          fragments=("x.npy", "-f"))  # x.npy is the default output, and it exists


def test_wz_design_refuses_an_existing_output_without_force(wz_files):
    out = wz_files / "designed.json"
    out.write_text("keep")
    fails(wz_files, "wz", "design", "--model", wz_files / "model.json", "--rate", "1", "-o", out,
          fragments=("designed.json", "-f"))
    ok("wz", "design", "--model", wz_files / "model.json", "--rate", "1", "-o", out, "-f", "-q",
       "--train-samples", "500")
    assert json.loads(out.read_text())["scheme"] == "nsq"


def test_bench_refuses_existing_outputs_without_force_before_running(tmp_path):
    out = tmp_path / "rows.json"
    out.write_text("keep")
    for option in ("--json-out", "--csv"):
        fails(tmp_path, "bench", "steps", "--algorithm", "pfr", "--kl", "2", "--blocks", "5", option, out,
              fragments=("rows.json", "-f"))
    fails(tmp_path, "bench", "wz", "--schemes", "nsq", "--rates", "1", "--samples", "200", "--json-out", out,
          fragments=("rows.json", "-f"))


# --------------------------------------------------------------------------- JSON


def test_bench_json_prints_one_object_and_json_out_writes_the_rows(tmp_path):
    out, csv = tmp_path / "rows.json", tmp_path / "rows.csv"
    result = ok("bench", "steps", "--algorithm", "pfr", "--kl", "2,3", "--blocks", "5", "--json",
                "--json-out", out, "--csv", csv)
    printed = json.loads(result.out)
    assert list(printed) == ["rows"] and len(printed["rows"]) == 2
    assert json.loads(out.read_text()) == printed["rows"]
    assert csv.read_text().count("\n") == 3
    table = ok("bench", "steps", "--algorithm", "pfr", "--kl", "2", "--blocks", "5", "--json-out", out, "-f")
    with pytest.raises(ValueError):
        json.loads(table.out)  # without --json: the table
    assert len(json.loads(out.read_text())) == 1


def test_bench_json_with_a_file_name_still_writes_that_file(tmp_path):
    out = tmp_path / "old.json"
    result = ok("bench", "steps", "--algorithm", "pfr", "--kl", "2", "--blocks", "5", "--json", out)
    assert len(json.loads(out.read_text())) == 1 and b"mean_steps" in result.out  # the table, as before
    fails(tmp_path, "bench", "steps", "--algorithm", "pfr", "--kl", "2", "--blocks", "5", "--json", out,
          fragments=("old.json", "-f"))
    fails(tmp_path, "bench", "steps", "--json", out, "--json-out", tmp_path / "new.json", fragments=("once",),
          code=2)


def test_bench_wz_json_is_one_object_on_stdout(tmp_path):
    result = ok("bench", "wz", "--sources", "y=x+n:0.5", "--schemes", "nsq", "--rates", "1", "--samples", "200",
                "--json")
    assert [row["scheme"] for row in json.loads(result.out)["rows"]] == ["nsq"]


def test_decode_json_describes_what_was_decoded_and_quiet_silences_it(tmp_path, target):
    rec, out = tmp_path / "x.rec", tmp_path / "out.npy"
    ok("encode", target, "--seed", SEED, "-o", rec, "-q")
    loud = ok("decode", rec, "--seed", SEED, "-o", out)
    assert loud.out == b"" and len(loud.err.splitlines()) == 1 and "6 elements" in loud.err
    quiet = ok("decode", rec, "--seed", SEED, "-o", out, "-f", "-q")
    assert quiet.out == b"" and quiet.err == ""
    result = ok("decode", rec, "--seed", SEED, "-o", out, "-f", "--json")
    summary = json.loads(result.out)
    assert result.err == "" and result.out.count(b"\n") == 1
    assert summary["shape"] == [6] and summary["elements"] == 6 and summary["algorithm"] == "pfr"
    assert summary["bits"] == 8 * rec.stat().st_size and summary["approximate"] is False
    fails(tmp_path, "decode", rec, "--seed", SEED, "-o", "-", "--json", fragments=("--json",), code=2)


def test_every_json_option_prints_one_object_on_one_line(tmp_path, target):
    train = write_gaussian(tmp_path / "train.npz", *random_gaussian((4, 6), seed=2))
    rec = tmp_path / "x.rec"
    outputs = [
        ok("encode", target, "--seed", SEED, "-o", rec, "--json"),
        ok("decode", rec, "--seed", SEED, "-o", tmp_path / "x.npy", "--json"),
        ok("info", rec, "--json"),
        ok("mi-profile", train, "-o", tmp_path / "p.npy", "--json"),
        ok("fit-index-model", train, "--seed", SEED, "-o", tmp_path / "m.npz", "--json"),
    ]
    for result in outputs:
        assert result.out.count(b"\n") == 1 and isinstance(json.loads(result.out), dict), result.out
        assert result.err == ""
    assert json.loads(outputs[3].out)["dims"] == 6 and json.loads(outputs[4].out)["targets"] == 4


def test_wz_decode_max_dims_refuses_a_larger_file_with_one_line(wz_files):
    t = wz_files
    ok("wz", "encode", t / "x.npy", "--model", t / "model.json", "--seed", SEED, "-o", t / "x.rec", "-q")
    fails(t, "wz", "decode", t / "x.rec", "--side-info", t / "y.npy", "--model", t / "model.json", "--seed", SEED,
          "--max-dims", "499", "-o", t / "xhat.npy", fragments=("x.rec", "--max-dims"))
    ok("wz", "decode", t / "x.rec", "--side-info", t / "y.npy", "--model", t / "model.json", "--seed", SEED,
       "--max-dims", "500", "-o", t / "xhat.npy", "-q")
    assert np.load(t / "xhat.npy").shape == (500,)


def test_wz_decode_json_and_quiet(wz_files):
    t = wz_files
    ok("wz", "encode", t / "x.npy", "--model", t / "model.json", "--seed", SEED, "-o", t / "x.rec", "-q")
    result = ok("wz", "decode", t / "x.rec", "--side-info", t / "y.npy", "--model", t / "model.json", "--seed", SEED,
                "-o", t / "xhat.npy", "--json")
    assert json.loads(result.out)["elements"] == 500 and result.err == ""


# --------------------------------------------------------------------------- exit status 2


@pytest.mark.parametrize("options", [
    ("--block-bits", "0"), ("--block-bits", "nan"), ("--eps", "0.1"), ("--eps", "1.5", "--algorithm", "hybrid"),
    ("--alpha", "-1", "--algorithm", "uq"), ("--alpha", "inf", "--algorithm", "uq"), ("--seed", str(2**64)),
    ("--max-steps", str(2**64)), ("--orc-candidates", str(2**41), "--algorithm", "orc"),
    ("--sp-dinf-limit", "1", "--algorithm", "pfr"), ("--mi-profile", "p.npy"), ("--chunk-items", "3"),
    ("--strict", "--algorithm", "orc"), ("--sample-out", "-"), ("--threads", "0"), ("--threads", "100000"),
], ids=lambda o: " ".join(o))
def test_bad_option_values_are_usage_errors(tmp_path, target, options):
    argv = ["encode", target, "-o", tmp_path / "out.rec", "--seed", SEED, *options]
    if "--seed" in options:
        argv[4:6] = []
    fails(tmp_path, *argv, fragments=(options[0],), code=2)


@pytest.mark.parametrize("argv", [
    ("bench", "steps", "--kl", "2,zero"), ("bench", "steps", "--kl", "-1"), ("bench", "steps", "--algorithm", "zip"),
    ("bench", "throughput", "--dims", "0"), ("bench", "wz", "--rates", "0"), ("bench", "steps", "--blocks", "0"),
    ("wz", "design", "--model", "m.json", "--rate", "0"), ("train", "t.npz", "--block-bits", "0"),
], ids=lambda a: " ".join(a))
def test_bad_option_values_of_other_commands_are_usage_errors(tmp_path, argv):
    fails(tmp_path, *argv, code=2)


def test_json_with_stdout_output_is_a_usage_error(tmp_path, target):
    fails(tmp_path, "encode", target, "--seed", SEED, "-o", "-", "--json", fragments=("--json",), code=2)


# --------------------------------------------------------------------------- errors name the file


def test_errors_name_the_file(tmp_path, target):
    big = tmp_path / "big.rec"
    big.write_bytes(b"not a reccodec file at all")
    line = fails(tmp_path, "decode", big, "--seed", SEED, "-o", tmp_path / "o.npy")
    assert line.startswith(f"Error: {big}: ") and "not a reccodec file" in line
    fails(tmp_path, "info", big, fragments=(f"{big}: ",))
    rec = tmp_path / "x.rec"
    ok("encode", target, "--seed", SEED, "-o", rec, "-q")
    data = bytearray(rec.read_bytes())
    data[-8] ^= 0x40
    rec.write_bytes(bytes(data))
    fails(tmp_path, "decode", rec, "--seed", SEED, "-o", tmp_path / "o.npy", fragments=(f"{rec}: ", "checksum"))
    fails(tmp_path, "decode", "-", "--seed", SEED, "-o", tmp_path / "o.npy", stdin=bytes(data),
          fragments=("stdin: ", "checksum"))


def test_decode_of_a_wyner_ziv_file_points_at_wz_decode(wz_files):
    t = wz_files
    ok("wz", "encode", t / "x.npy", "--model", t / "model.json", "--seed", SEED, "-o", t / "x.rec", "-q")
    fails(t, "decode", t / "x.rec", "--seed", SEED, "-o", t / "o.npy",
          fragments=(f"{t / 'x.rec'}", "wyner-ziv", "reccodec wz decode"))


# --------------------------------------------------------------------------- threads


def test_threads_leave_the_bytes_alone(tmp_path):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here")
    target = write_gaussian(tmp_path / "t.npz", *random_gaussian(48, seed=5))
    outputs = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}.rec"
        ok("encode", target, "--seed", SEED, "-o", out, "-q", "--block-bits", "6", "--threads", threads)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored after the command


def test_threads_set_the_number_of_search_threads(monkeypatch):
    import threading
    import time

    import numba

    from rec_codec.interrupts import run_search

    names = set()
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        run_search(20, lambda lo, hi, stop, done: (names.add(threading.current_thread().name), time.sleep(0.005)))
    finally:
        numba.set_num_threads(before)
    assert len(names) == 1


# --------------------------------------------------------------------------- --plot


def test_plot_without_matplotlib_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    for argv in (("bench", "steps", "--plot", tmp_path / "s.png"),
                 ("bench", "wz", "--plot", tmp_path / "w.png")):
        result = run_cli(*argv)
        assert_one_error_line(result, "--plot", "matplotlib")
    assert not any(tmp_path.iterdir())


def test_plot_refuses_an_existing_file_before_running(tmp_path):
    pytest.importorskip("matplotlib")  # without it, --plot is refused for that first
    png = tmp_path / "s.png"
    png.write_bytes(b"keep")
    fails(tmp_path, "bench", "steps", "--plot", png, fragments=("s.png", "-f"))


# --------------------------------------------------------------------------- completion


def test_shell_completion_is_documented_and_works():
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert "_RECCODEC_COMPLETE=bash_source reccodec" in readme
    done = subprocess.run([sys.executable, "-m", "reccodec_cli.main"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "_RECCODEC_COMPLETE": "bash_source"})
    assert done.returncode == 0 and "complete " in done.stdout and "_RECCODEC_COMPLETE" in done.stdout
    words = subprocess.run([sys.executable, "-m", "reccodec_cli.main"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "_RECCODEC_COMPLETE": "bash_complete", "COMP_WORDS": "reccodec de",
                                "COMP_CWORD": "1"})
    assert "plain,decode" in words.stdout
