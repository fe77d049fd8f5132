"""`reccodec wz ...` and `reccodec bench wz`: Wyner-Ziv coding on the shell; no algorithm.

Library and file errors become click exceptions, which the entry point prints as one
``Error: ...`` line on stderr with exit status 1.
"""

import functools
import io
import json
import os
import sys

import click
import numpy as np

from rec_codec import container
from rec_codec.errors import RecCodecError
from rec_codec.io import npy_bytes
from reccodec_cli.outputs import check_output, write_output


def _wz_lib():
    from rec_codec import wyner_ziv  # numba kernels: loaded by the wz commands only, not at start-up

    return wyner_ziv

SEED = click.IntRange(0, 2**64 - 1)


def _errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RecCodecError as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise click.ClickException(f"cannot access{where}: {e.strerror or e}") from None
        except MemoryError:
            raise click.ClickException("out of memory") from None

    return wrapper


def _read(path):
    if path != "-":
        return container.read_file(path)
    if sys.stdin.isatty():
        raise click.ClickException("refusing to read binary data from a terminal; pipe a file in or name it instead of -")
    return sys.stdin.buffer.read()


def _load_npy(path, what):
    data = _read(path)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise click.ClickException(f"{path}: not a readable .npy file ({type(e).__name__})") from None
    if not isinstance(array, np.ndarray):
        raise click.ClickException(f"{path}: expected one .npy array ({what}), got an .npz archive")
    return array


@click.group()
def wz():
    """Wyner-Ziv coding: the decoder holds side information y (nsq or rec binning)."""


@wz.command("encode")
@click.argument("samples", metavar="X.npy")
@click.option("--model", "model_path", required=True, metavar="MODEL.json", help="Source, scheme and parameters.")
@click.option("-o", "--output", required=True, metavar="OUT.rec", help="Output file, - for stdout.")
@click.option("--seed", type=SEED, required=True, help="Shared seed in [0, 2^64); not stored in the file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@_errors
def wz_encode(samples, model_path, output, seed, as_json, force, quiet):
    """Encode X.npy for a decoder that holds correlated side information."""
    if as_json and output == "-":
        raise click.ClickException("--json prints to stdout, which -o - already fills with the bitstream; "
                                   "write the bitstream to a file or drop --json")
    check_output(output, force, (samples, model_path))
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    model.params()
    x = _load_npy(samples, "the samples x")
    result = wz_lib.encode(x, model, seed)
    write_output(output, result.data, force)
    summary = {"scheme": model.scheme, **result.summary()}
    if as_json:
        click.echo(json.dumps(summary))
    elif not quiet:
        click.echo(f"{summary['bits']} bits ({summary['header_bits']} header + {summary['payload_bits']} payload), "
                   f"{summary['bits_per_sample']} payload bits per sample, {model.scheme}", err=True)


@wz.command("decode")
@click.argument("source", metavar="IN.rec")
@click.option("--side-info", "side_info", required=True, metavar="Y.npy", help="Side information, X's shape.")
@click.option("--model", "model_path", required=True, metavar="MODEL.json", help="The encoder's model file.")
@click.option("-o", "--output", required=True, metavar="XHAT.npy", help="Output .npy, - for stdout.")
@click.option("--seed", type=SEED, required=True, help="The encoder's seed.")
@click.option("--decoder", type=click.Choice(("soft", "hard")), help="Override the model's decoder.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@_errors
def wz_decode(source, side_info, model_path, output, seed, decoder, force):
    """Decode IN.rec with side information into an estimate of x (float64)."""
    check_output(output, force, (source, side_info, model_path))
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    data = _read(source)
    y = _load_npy(side_info, "the side information y")
    xhat = wz_lib.decode(data, y, model, seed, decoder)
    write_output(output, npy_bytes(xhat), force)


@wz.command("design")
@click.option("--model", "model_path", required=True, metavar="MODEL.json", help="Source and scheme; rewritten.")
@click.option("--rate", type=click.FloatRange(0, 16, min_open=True), required=True, help="Bits per sample.")
@click.option("-o", "--output", metavar="OUT.json", help="Write here instead of over MODEL.json.")
@click.option("--train-samples", type=click.IntRange(min=100), help="Training draws (nsq 20000, rec 3000).")
@click.option("--train-seed", type=SEED, default=2**40 + 17, show_default=True, help="Seed of the training draws.")
@click.option("--dims", type=click.IntRange(1, 64), help="rec: samples per block (default: the design chooses).")
@click.option("--budget-bits", type=click.IntRange(2, 22),
              help="rec: at most 2^BITS candidates per joint block (default 14); more can lower the MSE, "
                   "decoding slows in step.")
@click.option("--json", "as_json", is_flag=True, help="Print the training figures as JSON.")
@_errors
def wz_design(model_path, rate, output, train_samples, train_seed, dims, budget_bits, as_json):
    """Pick the scheme's parameters for a target rate on training draws; write MODEL.json."""
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    designed, report = wz_lib.design(model, rate, train_samples, train_seed, dims, budget_bits)
    container.atomic_write(output or model_path, (json.dumps(designed.to_dict(), indent=2) + "\n").encode())
    params = designed.params()
    report = {"scheme": designed.scheme, "rate": rate, **report, "params": vars(params)}
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{designed.scheme}: {vars(params)}; training MSE {report['train_mse']:.4g} "
                   f"at {report['train_bits']:.3f} bits per sample", err=True)


def _list(text, cast):
    try:
        return [cast(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a comma-separated list, got {text!r}") from None


@click.command("wz")
@click.option("--sources", default="x=y+n,y=x+n,y=x+n:0.5", show_default=True,
              help="Sources: x=y+n (N(0,0.1)), y=x+n (N(0,0.01)), y=x+n:0.5 (N(0,0.5)).")
@click.option("--schemes", default="nsq,nsq-uniform,rec", show_default=True)
@click.option("--rates", default="1,2,3,4,5,6", show_default=True, help="Bits per sample.")
@click.option("--samples", type=click.IntRange(min=100), default=10000, show_default=True)
@click.option("--seed", type=SEED, default=1, show_default=True, help="Shared seed of the codec.")
@click.option("--json", "json_path", metavar="F", help="Write the rows as JSON.")
@click.option("--csv", "csv_path", metavar="F", help="Write the rows as CSV.")
@click.option("--plot", "plot_path", metavar="F.png", help="Plot MSE against rate (needs matplotlib).")
@click.option("--rec-budget-bits", type=click.IntRange(2, 22),
              help="rec: at most 2^BITS candidates per joint block (wz design --budget-bits; default 14).")
@_errors
def bench_wz(sources, schemes, rates, samples, seed, json_path, csv_path, plot_path, rec_budget_bits):
    """MSE against rate with side information: nsq and rec binning against D_WZ(R) and D(R)."""
    from rec_codec import bench as bench_lib
    from rec_codec import bench_wz as lib

    rows = lib.wz(_list(sources, str), _list(schemes, str), _list(rates, float), samples=samples, seed=seed,
                  progress=lambda row: click.echo(lib.progress_line(row), err=True), rec_budget_bits=rec_budget_bits)
    click.echo(bench_lib.format_table(rows, lib.WZ_COLUMNS))
    if json_path:
        container.atomic_write(json_path, (json.dumps(rows, indent=1) + "\n").encode())
    if csv_path:
        container.atomic_write(csv_path, bench_lib.format_csv(rows, lib.WZ_COLUMNS).encode())
    if plot_path:
        lib.plot(rows, plot_path)
