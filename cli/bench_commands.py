"""``reccodec bench``: steps, bits and time against KL, as tables, JSON, CSV and plots.

The measurements live in ``rec_codec.bench`` and its siblings (which load scipy); this
module parses the options and reports the rows.
"""

import math

import click

from rec_codec import codec
from reccodec_cli.conventions import (SEED, check_report_outputs, finite_range, json_rows_option, json_rows_targets,
                                      report_rows, threads_option, write_plot)
from reccodec_cli.failures import friendly_errors
from reccodec_cli.wz import bench_wz

__all__ = ["bench"]


@click.group()
def bench():
    """Measure steps, bits and time against KL.

    Each bench prints a table on stdout, or one JSON object {"rows": [...]} with --json;
    --json-out F and --csv F write the rows to files (-f to overwrite them).

    \b
    Examples:
      reccodec bench throughput
      reccodec bench steps --algorithm pfr,orc --dims 1 --json-out steps.json --plot steps.png
    """


def _list(text, cast, param, allowed=None, positive=False, empty=False):
    """A comma-separated option value as a list; a bad one is a usage error (exit status 2).

    Args:
        text (str): the option's value.
        cast (callable): int, float or str.
        param (str): the option, for the message.
        allowed (tuple or None): the values allowed.
        positive (bool): values must be finite and > 0.
        empty (bool): an empty list is allowed.
    Returns:
        list.
    Raises:
        click.BadParameter: a value that is not allowed.
    """
    try:
        values = [cast(x.strip()) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a comma-separated list, got {text!r}", param_hint=param) from None
    if not values and not empty:
        raise click.BadParameter("expected at least one value", param_hint=param)
    for value in values:
        if allowed is not None and value not in allowed:
            raise click.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=param)
        if positive and not (math.isfinite(value) and value > 0):
            raise click.BadParameter(f"{value!r} is not a finite number > 0", param_hint=param)
    return values


def _bench_lib():
    from rec_codec import bench as bench_lib  # scipy.stats and optimize: loaded for benches only

    return bench_lib


def _report(rows, columns, as_json, json_out, csv_path, force):
    bench_lib = _bench_lib()
    report_rows(rows, bench_lib.format_table(rows, columns), lambda: bench_lib.format_csv(rows, columns), as_json,
                json_out, csv_path, force)


def report_options(plot=False):
    """The options every bench shares: --json, --json-out, --csv, -f (and --plot)."""

    def decorate(command):
        options = [
            json_rows_option,
            click.option("--json-out", metavar="F", help="Also write the rows to F as JSON."),
            click.option("--csv", "csv_path", metavar="F", help="Also write the rows to F as CSV."),
            click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
        ]
        if plot:
            options.insert(3, click.option("--plot", "plot_path", metavar="F.png",
                                           help="Also plot the rows to F.png (needs matplotlib)."))
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@bench.command("throughput")
@click.option("--dims", default="1,5", show_default=True, help="Dimensions of the targets, comma-separated.")
@click.option("--dinf", type=finite_range(1, 40), default=20.0, show_default=True,
              help="D_inf of the targets in bits.")
@click.option("--blocks", type=click.IntRange(min=1), default=6, show_default=True, help="Blocks per measurement.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads of the numba row (the measurement itself).")
@report_options()
@friendly_errors
def bench_throughput(dims, dinf, blocks, threads, as_json, json_out, csv_path, force):
    """Candidates per second of every kernel beside the raw Philox rate and numpy, in one run.

    \b
    Examples:
      reccodec bench throughput
      reccodec bench throughput --dims 1 --threads 2 --json
    """
    as_json, json_out = json_rows_targets(as_json, json_out)
    dims = _list(dims, int, "--dims", positive=True)
    check_report_outputs(json_out, csv_path, None, force)
    bench_lib = _bench_lib()
    rows = bench_lib.throughput(dims, dinf_bits=dinf, blocks=blocks, threads=threads)
    _report(rows, bench_lib.THROUGHPUT_COLUMNS, as_json, json_out, csv_path, force)


@bench.command("startup")
@click.option("--algorithm", "algorithms", default="pfr,orc,sp-pfr,sp-orc,hybrid", show_default=True,
              help="Algorithms, comma-separated.")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="Warm runs; the fastest counts.")
@report_options()
@friendly_errors
def bench_startup(algorithms, repeat, as_json, json_out, csv_path, force):
    """Wall time of a small encode and decode per algorithm in fresh processes, cold and warm.

    \b
    Examples:
      reccodec bench startup
      reccodec bench startup --algorithm pfr --repeat 5 --json
    """
    as_json, json_out = json_rows_targets(as_json, json_out)
    names = _list(algorithms, str, "--algorithm", allowed=codec.ALGORITHMS)
    check_report_outputs(json_out, csv_path, None, force)
    bench_lib = _bench_lib()
    rows = bench_lib.startup(names, repeat=repeat)
    _report(rows, bench_lib.STARTUP_COLUMNS, as_json, json_out, csv_path, force)


@bench.command("steps")
@click.option("--algorithm", "algorithms", default="pfr,orc", show_default=True,
              help="Algorithms, comma-separated: pfr, orc, hybrid, sp-pfr, sp-orc.")
@click.option("--dims", type=click.IntRange(min=1), default=1, show_default=True, help="Dimensions per block.")
@click.option("--kl", "kls", default="2,4,6,8,10,12", show_default=True, help="Target KL values in bits.")
@click.option("--blocks", type=click.IntRange(min=1), default=200, show_default=True, help="Targets per KL.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of every coder.")
@click.option("--study", type=click.Choice(["core", "partition"]), default="core", show_default=True,
              help="partition: the 5-D PFR vs SP-PFR/ORC vs SP-ORC study (options below).")
@click.option("--mi", "mis", default="2,4,6,8,10,12,14,16", show_default=True, help="partition: MI values in bits.")
@click.option("--mmd-mi", "mmd_mis", default="4,8,12", show_default=True, help="partition: MI values of the MMD part.")
@click.option("--mmd-blocks", type=click.IntRange(min=10), default=1000, show_default=True,
              help="partition: samples per MMD measurement.")
@report_options(plot=True)
@threads_option
@friendly_errors
def bench_steps(algorithms, dims, kls, blocks, seed, study, mis, mmd_mis, mmd_blocks, as_json, json_out, csv_path,
                plot_path, force):
    """Steps, bits and time against KL and D_inf for each algorithm.

    \b
    Examples:
      reccodec bench steps --algorithm pfr,orc --dims 1 --plot steps.png
      reccodec bench steps --algorithm pfr,hybrid --dims 5 --kl 4,8 --blocks 50 --json
      reccodec bench steps --study partition --json-out study.json --csv study.csv
    """
    as_json, json_out = json_rows_targets(as_json, json_out)
    if study == "partition":
        mi_values, mmd_values = _list(mis, float, "--mi", positive=True), _list(mmd_mis, float, "--mmd-mi",
                                                                                positive=True, empty=True)
        check_report_outputs(json_out, csv_path, plot_path, force)
        from rec_codec import bench_partition

        rows = bench_partition.partition_study(mi_values, blocks=blocks, seed=seed, mmd_mi_values=mmd_values,
                                               mmd_blocks=mmd_blocks)
        _report(rows, bench_partition.STUDY_COLUMNS, as_json, json_out, csv_path, force)
        if plot_path:
            write_plot(plot_path, force, lambda path: bench_partition.plot_partition_study(rows, path))
        return
    names = _list(algorithms, str, "--algorithm", allowed=codec.ALGORITHMS)
    kl_values = _list(kls, float, "--kl", positive=True)
    check_report_outputs(json_out, csv_path, plot_path, force)
    bench_lib = _bench_lib()
    rows = bench_lib.steps(names, dims=dims, kl_values=kl_values, blocks=blocks, seed=seed)
    _report(rows, bench_lib.STEPS_COLUMNS, as_json, json_out, csv_path, force)
    if plot_path:
        write_plot(plot_path, force, lambda path: bench_lib.plot_steps(rows, path))


@bench.command("rate")
@click.option("--schemes", default="model sp-pfr,model pfr,file pfr,file sp-pfr,file hybrid,uq,fixed16",
              show_default=True, help="Rows: model ALG, file ALG, uq (at the first model row's PSNR), fixed16.")
@click.option("--items", type=click.IntRange(min=1), help="Use only the first N test items.")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Seed of every coder.")
@click.option("--block-bits", type=finite_range(0.5, 4096), help="Model rows: mean KL per block.")
@click.option("--dinf-limit", type=finite_range(1, 30), help="Model rows: halve blocks past this D_inf.")
@click.option("--no-per-item-files", is_flag=True, help="File rows: skip coding each item as its own file.")
@click.option("--detection", is_flag=True, help="Instead: how often framed records with a wrong seed, a wrong "
              "model or a flipped bit are refused.")
@report_options()
@threads_option
@friendly_errors
def bench_rate(schemes, items, seed, block_bits, dinf_limit, no_per_item_files, detection, as_json, json_out,
               csv_path, force):
    """Bits per image against KL on the digits VAE: codec models, files and baselines.

    \b
    Examples:
      reccodec bench rate --schemes "model sp-pfr,uq,fixed16"
      reccodec bench rate --detection --json-out detection.json
    """
    from rec_codec import bench_rate as lib

    as_json, json_out = json_rows_targets(as_json, json_out)
    check_report_outputs(json_out, csv_path, None, force)
    if detection:
        _report(lib.record_detection(seed=seed), lib.DETECTION_COLUMNS, as_json, json_out, csv_path, force)
        return
    options = {k: v for k, v in (("block_bits", block_bits), ("dinf_limit", dinf_limit)) if v is not None}
    rows = lib.rate([s.strip() for s in schemes.split(",") if s.strip()], seed=seed, items=items,
                    per_item_files=not no_per_item_files, progress=lambda row: click.echo(f"  {row['scheme']} done",
                                                                                         err=True), **options)
    _report(rows, lib.RATE_COLUMNS, as_json, json_out, csv_path, force)


bench.add_command(bench_wz)
