"""`reccodec wz ...` and `reccodec bench wz`: Wyner-Ziv coding on the shell; no algorithm.

Library and file errors become click exceptions, which the entry point prints as one
``Error: ...`` line on stderr with exit status 1.
"""

import functools
import io
import json
import sys
import time

import click
import numpy as np

from rec_codec import container
from rec_codec.errors import RecCodecError
from rec_codec.io import npy_bytes
from reccodec_cli.conventions import (SEED, check_report_outputs, default_output, echo_json, json_rows_option,
                                      json_rows_targets, naming, report_rows, report_summary, threads_option,
                                      write_plot)
from reccodec_cli.outputs import check_output, write_output
from reccodec_cli import wz_learned as learned


def _wz_lib():
    from rec_codec import wyner_ziv  # numba kernels: loaded by the wz commands only, not at start-up

    return wyner_ziv


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
    """Wyner-Ziv coding: the decoder holds side information y (nsq or rec binning).

    \b
    Examples:
      reccodec wz design --model model.json --rate 2
      reccodec wz encode x.npy --model model.json --seed 7                  # writes x.rec
      reccodec wz decode x.rec --side-info y.npy --model model.json --seed 7 -o xhat.npy
    """


@wz.command("encode")
@click.argument("samples", metavar="X.npy")
@click.option("--model", "model_path", required=True, metavar="MODEL.json", help="Source, scheme and parameters.")
@click.option("-o", "--output", metavar="OUT.rec", help="Output file, - for stdout [default: X with .rec].")
@click.option("--seed", type=SEED, help="Shared seed in [0, 2^64); not stored in the file (not with a learned model).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures on stdout.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@threads_option
@_errors
def wz_encode(samples, model_path, output, seed, as_json, force, quiet):
    """Encode X.npy for a decoder that holds correlated side information.

    \b
    Examples:
      reccodec wz encode x.npy --model model.json --seed 7                  # writes x.rec
      reccodec wz encode x.npy --model model.json --seed 7 -o x.rec --json
    """
    output = default_output(output, samples, ".rec")
    if as_json and output == "-":
        raise click.UsageError("--json prints to stdout, which -o - already fills with the bitstream; "
                                   "write the bitstream to a file or drop --json")
    check_output(output, force, (samples, model_path))
    if learned.is_learned(model_path):
        return learned.encode_learned(_load_npy(samples, "the samples x"), model_path, output, force, as_json, quiet)
    _require_seed(seed)
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    model.params()
    x = _load_npy(samples, "the samples x")
    result = wz_lib.encode(x, model, seed)
    write_output(output, result.data, force)
    report_summary(output, {"scheme": model.scheme, **result.summary()}, as_json, quiet,
                   lambda s: f"{s['bits']} bits ({s['header_bits']} header + {s['payload_bits']} payload), "
                             f"{s['bits_per_sample']} payload bits per sample, {s['scheme']}")


@wz.command("decode")
@click.argument("source", metavar="IN.rec")
@click.option("--side-info", "side_info", required=True, metavar="Y.npy", help="Side information, X's shape.")
@click.option("--model", "model_path", required=True, metavar="MODEL.json", help="The encoder's model file.")
@click.option("-o", "--output", metavar="XHAT.npy",
              help="Output .npy, - for stdout [default: IN with .npy; stdout for stdin].")
@click.option("--seed", type=SEED, help="The encoder's seed (not with a learned model).")
@click.option("--decoder", type=click.Choice(("soft", "hard")), help="Override the model's decoder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was decoded.")
@click.option("--max-dims", type=click.IntRange(1, 2**63 - 1), default=container.MAX_DIMS, show_default=True,
              help="Refuse a file that declares more samples than this (a corrupt header allocates nothing).")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@threads_option
@_errors
def wz_decode(source, side_info, model_path, output, seed, decoder, as_json, max_dims, force, quiet):
    """Decode IN.rec with side information into an estimate of x (float64).

    \b
    Examples:
      reccodec wz decode x.rec --side-info y.npy --model model.json --seed 7 -o xhat.npy
      reccodec wz decode x.rec --side-info y.npy --model model.json --seed 7 --decoder hard -o xhat.npy
    """
    started = time.perf_counter()
    output = default_output(output, source, ".npy")
    if as_json and output == "-":
        raise click.UsageError("--json prints to stdout, which -o - already fills with the estimate; write it "
                               "to a file or drop --json")
    check_output(output, force, (source, side_info, model_path))
    if learned.is_learned(model_path):
        return learned.decode_learned(_read(source), _load_npy(side_info, "the side information y"), model_path,
                                      output, force, max_dims)
    _require_seed(seed)
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    data = _read(source)
    y = _load_npy(side_info, "the side information y")
    with naming(source):
        xhat = wz_lib.decode(data, y, model, seed, decoder, max_dims)
    write_output(output, npy_bytes(xhat), force)
    summary = {"scheme": model.scheme, "input": "stdin" if source == "-" else source, "output": output,
               "bits": 8 * len(data), "shape": list(xhat.shape), "elements": int(xhat.size),
               "seconds": round(time.perf_counter() - started, 6)}
    report_summary(output, summary, as_json, quiet,
                   lambda s: f"{s['elements']} samples from {s['bits']} bits ({s['scheme']}), {s['seconds']:.3f} s")


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
@click.option("--json", "as_json", is_flag=True, help="Print the training figures as one JSON object on stdout.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing -o file.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@threads_option
@_errors
def wz_design(model_path, rate, output, train_samples, train_seed, dims, budget_bits, as_json, force, quiet):
    """Pick the scheme's parameters for a target rate on training draws; write MODEL.json.

    Without -o, MODEL.json itself is rewritten with the parameters filled in (its purpose);
    an -o file that exists is replaced only with -f.

    \b
    Examples:
      reccodec wz design --model model.json --rate 2
      reccodec wz design --model model.json --rate 1 -o designed.json --json
    """
    if output == "-":
        raise click.UsageError("-o needs a file name, not -; --json prints the figures to stdout")
    if output is None:
        check_output(model_path, True)  # rewritten in place: a regular file (or a link to one)
    else:
        check_output(output, force, (model_path,))
    wz_lib = _wz_lib()
    model = wz_lib.load_model(model_path)
    designed, report = wz_lib.design(model, rate, train_samples, train_seed, dims, budget_bits)
    target = output or model_path
    write_output(target, (json.dumps(designed.to_dict(), indent=2) + "\n").encode(), output is None or force)
    params = designed.params()
    report = {"scheme": designed.scheme, "rate": rate, **report, "params": vars(params)}
    if as_json:
        echo_json(report)
    elif not quiet:
        click.echo(f"{designed.scheme}: {vars(params)}; training MSE {report['train_mse']:.4g} "
                   f"at {report['train_bits']:.3f} bits per sample", err=True)


def _require_seed(seed):
    if seed is None:
        raise click.UsageError("Missing option '--seed' (needed by nsq and rec models).")


learned.register(wz, _errors)


def _list(text, cast, param):
    try:
        values = [cast(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a comma-separated list, got {text!r}", param_hint=param) from None
    if not values:
        raise click.BadParameter("expected at least one value", param_hint=param)
    return values


@click.command("wz")
@click.option("--sources", default="x=y+n,y=x+n,y=x+n:0.5", show_default=True,
              help="Sources: x=y+n (N(0,0.1)), y=x+n (N(0,0.01)), y=x+n:0.5 (N(0,0.5)); non-Gaussian: "
                   "signed-laplace, y=x+n:laplace, y=x+n:mix.")
@click.option("--schemes", default="nsq,nsq-uniform,rec", show_default=True,
              help="Schemes, comma-separated: nsq, nsq-uniform, rec, learned, learned-published.")
@click.option("--rates", default="1,2,3,4,5,6", show_default=True, help="Bits per sample.")
@click.option("--samples", type=click.IntRange(min=100), default=10000, show_default=True,
              help="Samples coded per row.")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Shared seed of the codec.")
@json_rows_option
@click.option("--json-out", metavar="F", help="Also write the rows to F as JSON.")
@click.option("--csv", "csv_path", metavar="F", help="Also write the rows to F as CSV.")
@click.option("--plot", "plot_path", metavar="F.png", help="Plot MSE against rate (needs matplotlib).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--rec-budget-bits", type=click.IntRange(2, 22),
              help="rec: at most 2^BITS candidates per joint block (wz design --budget-bits; default 14).")
@threads_option
@_errors
def bench_wz(sources, schemes, rates, samples, seed, as_json, json_out, csv_path, plot_path, force, rec_budget_bits):
    """MSE against rate with side information: nsq and rec binning against D_WZ(R) and D(R).

    \b
    Examples:
      reccodec bench wz --json-out wz.json --plot wz.png
      reccodec bench wz --sources y=x+n:0.5 --schemes nsq --rates 1,2 --samples 1000 --json
    """
    as_json, json_out = json_rows_targets(as_json, json_out)
    source_list, scheme_list = _list(sources, str, "--sources"), _list(schemes, str, "--schemes")
    rate_list = _list(rates, float, "--rates")
    if any(not 0 < r <= 16 for r in rate_list):
        raise click.BadParameter("rates must be in (0, 16] bits per sample", param_hint="'--rates'")
    check_report_outputs(json_out, csv_path, plot_path, force)
    from rec_codec import bench as bench_lib
    from rec_codec import bench_wz as lib

    rows = lib.wz(source_list, scheme_list, rate_list, samples=samples, seed=seed,
                  progress=lambda row: click.echo(lib.progress_line(row), err=True), rec_budget_bits=rec_budget_bits)
    report_rows(rows, bench_lib.format_table(rows, lib.WZ_COLUMNS),
                lambda: bench_lib.format_csv(rows, lib.WZ_COLUMNS), as_json, json_out, csv_path, force)
    if plot_path:
        write_plot(plot_path, force, lambda path: lib.plot(rows, path))
