"""`reccodec` on the shell: parsing, files, messages and exit codes; no algorithm.

Every command is a thin call into ``rec_codec``. Errors print one line, ``Error: ...``, on
stderr and exit 1 (2 for a usage error); results for scripts go to stdout as JSON with
``--json``; a progress line goes to stderr only when stderr is a terminal.
"""

import functools
import math
import os
import sys
import time

import click

from rec_codec import block_rec, codec, container, uq
from rec_codec.batch import DEFAULT_CHUNK_ITEMS
from rec_codec.entropy import EmpiricalIndexModel
from rec_codec.errors import RecCodecError
from rec_codec.interrupts import Interrupted
from rec_codec.io import load_gaussian, load_gaussian_bytes, npy_bytes
from rec_codec.training import fit_index_model
from reccodec_cli import model_commands
from reccodec_cli.conventions import (check_report_outputs, default_output, echo_json, finite_range, naming,
                                      json_rows_option, json_rows_targets, report_rows, report_summary,
                                      threads_option, write_plot)
from reccodec_cli.outputs import check_output, remove_output, write_output

SEED = click.IntRange(0, 2**64 - 1)
MAX_BLOCK_BITS = 4096  # KL budget per block: far past what any search can reach
MAX_STEPS = 2**62  # candidates per block
MAX_ORC_CANDIDATES = 2**40


class CliError(Exception):
    """A user error found by the CLI itself (a file that exists, a terminal as output)."""


def _fail(message, code=1):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _closed_stdout():
    """The reader of stdout went away (``reccodec info F | head``): stop quietly, as cat does."""
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass
    os._exit(141)  # 128 + SIGPIPE, without flushing into the closed pipe


def friendly_errors(command):
    """Turn library and file errors into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (RecCodecError, CliError) as e:
            _fail(str(e))
        except BrokenPipeError:
            _closed_stdout()
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            _fail(f"cannot access{where}: {e.strerror or e}")
        except MemoryError:
            _fail("out of memory")

    return wrapper


def _read_stdin():
    if sys.stdin.isatty():
        raise CliError("refusing to read binary data from a terminal; pipe a file in or name it instead of -")
    return sys.stdin.buffer.read()


def _read_input(path):
    if path == "-":
        return _read_stdin()
    return container.read_file(path)


def _load_target(path, name):
    if path == "-":
        return load_gaussian_bytes(_read_stdin(), "stdin")
    return load_gaussian(path, name or path)


def _load_index_model(value):
    if value is None or value == "zipf":
        return None
    with naming(value):
        return EmpiricalIndexModel.load(value)


def _load_mi_profile(path):
    if path is None:
        return None
    from rec_codec.partition import load_mi_profile

    with naming(path):
        return load_mi_profile(path)


def _progress(quiet, label):
    if quiet or not sys.stderr.isatty():
        return None

    def report(done, total):
        click.echo(f"\r{label}: {done}/{total} blocks", err=True, nl=done == total)

    return report


_OPTION_OWNER = {"--alpha": "uq", "--eps": "hybrid", "--hybrid-search": "hybrid", "--sp-dinf-limit": "sp-pfr"}


def _algorithm_options(algorithm, alpha, eps, hybrid_search, prior_path, sp_dinf_limit=None):
    """The options that belong to one algorithm; refuse the ones that do not apply (usage errors)."""
    given = {"--alpha": alpha, "--eps": eps, "--hybrid-search": hybrid_search, "--sp-dinf-limit": sp_dinf_limit}
    for name, value in given.items():
        if value is not None and _OPTION_OWNER[name] != algorithm:
            raise click.UsageError(f"{name} applies to --algorithm {_OPTION_OWNER[name]} only")
    if algorithm == "uq":
        if prior_path:
            raise click.UsageError("--algorithm uq reads the prior of y from VALUES.npz itself; drop --prior")
        return {"alpha": alpha}
    if algorithm == "hybrid":
        return {k: v for k, v in (("eps", eps), ("search", hybrid_search)) if v is not None}
    if algorithm == "sp-pfr" and sp_dinf_limit is not None:
        return {"dinf_limit": sp_dinf_limit}
    return {}


_echo_json = echo_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reccodec")
def cli():
    """Relative entropy coding: send a sample of a Gaussian target with about KL bits.

    \b
    Examples:
      reccodec encode target.npz --seed 7            # writes target.rec
      reccodec decode target.rec --seed 7            # writes target.npy
      reccodec info target.rec
      reccodec COMMAND --help
    """


@cli.command()
@click.argument("target", metavar="TARGET.npz")
@click.option("-o", "--output", metavar="OUT.rec", help="Output file, - for stdout [default: TARGET with .rec].")
@click.option("--seed", type=SEED, required=True, help="Shared seed in [0, 2^64); not stored in the file.")
@click.option("--algorithm", type=click.Choice(codec.ALGORITHMS + ("uq",)), default="pfr",
              show_default=True, help="pfr is exact; orc uses a fixed number of candidates and is approximate; "
              "hybrid searches a window of width 1 (eps-approximate); uq quantizes VALUES.npz (y and its prior).")
@click.option("--prior", "prior_path", metavar="PRIOR.npz", help="Prior mean and std (default N(0,1)).")
@click.option("--alpha", type=finite_range(0, min_open=True),
              help="uq: soft rounding sharpness (> 0); decode returns the MSE reconstruction.")
@click.option("--eps", type=finite_range(0, 1, min_open=True, max_open=True),
              help="hybrid: tail mass cut from each block's target, in (0, 1) [default: 0.001].")
@click.option("--hybrid-search", type=click.Choice(("pfr", "orc")), help="hybrid: selection rule [default: pfr].")
@click.option("--block-bits", type=finite_range(0, MAX_BLOCK_BITS, min_open=True), default=codec.DEFAULT_BLOCK_BITS,
              show_default=True, help="KL budget per block; contiguous dimensions are grouped by KL.")
@click.option("--block-dims", type=click.IntRange(min=1), help="Fixed dimensions per block instead.")
@click.option("--orc-candidates", type=click.IntRange(1, MAX_ORC_CANDIDATES), help="ORC's N (default 2^(budget+2)).")
@click.option("--index-model", metavar="zipf|MODEL.npz", help="Index code: zipf (default) or a fitted model.")
@click.option("--max-steps", type=click.IntRange(1, MAX_STEPS), default=codec.DEFAULT_MAX_STEPS, show_default=True,
              help="PFR's cap on candidates per block.")
@click.option("--mi-profile", "mi_profile_path", metavar="PROFILE.npy",
              help="sp-pfr/sp-orc: per-dimension MI in bits, held by both sides.")
@click.option("--sp-dinf-limit", type=finite_range(0, min_open=True), metavar="BITS",
              help="sp-pfr: halve blocks whose D_inf(Q||P') passes BITS (SP-PFR takes about 2^D_inf "
              "steps) [default: 20].")
@click.option("--model", "model_path", metavar="MODEL.rcm",
              help="A codec model (reccodec train): items [N, ...] become one container, one item a compact record.")
@click.option("--strict", is_flag=True, help="pfr, sp-pfr and --model: refuse a dimension too wide to code "
              "exactly instead of narrowing it (then approximate).")
@click.option("--chunk-items", type=click.IntRange(min=1), default=DEFAULT_CHUNK_ITEMS, show_default=True,
              help="--model: items per chunk of a container (random access reads one chunk).")
@click.option("--sample-out", metavar="CHOSEN.npy", help="Also write the encoder's sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures on stdout.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary line.")
@threads_option
@click.pass_context
@friendly_errors
def encode(ctx, target, output, seed, algorithm, prior_path, alpha, eps, hybrid_search, block_bits, block_dims,
           orc_candidates, index_model, max_steps, mi_profile_path, sp_dinf_limit, model_path, strict, chunk_items,
           sample_out, as_json, force, quiet):
    """Encode one sample of the Gaussian target in TARGET.npz (arrays mean, std).

    With --algorithm uq, TARGET.npz holds y and its prior (mean/std or loc/scale) instead.
    With --model, TARGET.npz holds items [N, ...] (or one item) coded with the codec model.

    \b
    Examples:
      reccodec encode target.npz --seed 7                  # writes target.rec
      reccodec encode target.npz --seed 7 -o latent.rec --json
      reccodec encode test.npz --model digits.rcm --seed 7 -o test.recs
    """
    output = default_output(output, target, ".rec")
    if as_json and output == "-":
        raise click.UsageError("--json prints to stdout, which -o - already fills with the bitstream; write the "
                               "bitstream to a file or drop --json")
    inputs = (target, prior_path, None if index_model == "zipf" else index_model, mi_profile_path, model_path)
    if model_path is None and ctx.get_parameter_source("chunk_items") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--chunk-items applies with --model only")
    if strict and model_path is None and algorithm not in codec.NARROWED_ALGORITHMS:
        raise click.UsageError(f"--strict applies to {' and '.join(codec.NARROWED_ALGORITHMS)} and --model only")
    if mi_profile_path is not None and model_path is None and algorithm not in codec.SP_ALGORITHMS:
        raise click.UsageError("--mi-profile applies to --algorithm sp-pfr and sp-orc only")
    if model_path is not None:
        model_commands.refuse_fixed_options(ctx, "encode")
    options = _algorithm_options(algorithm, alpha, eps, hybrid_search, prior_path, sp_dinf_limit)
    if sample_out is not None:
        if sample_out == "-":
            raise click.UsageError("--sample-out needs a file name, not -")
        if os.path.abspath(sample_out) == os.path.abspath(output):
            raise click.UsageError("--sample-out and -o name the same file")
    check_output(output, force, inputs)
    if sample_out is not None:
        check_output(sample_out, force, inputs)
    if model_path is not None:
        model_commands.encode_with_model(target, output, seed, model_path, strict, chunk_items, max_steps, sample_out,
                                         as_json, force, quiet, lambda path: _load_target(path, None), _echo_json)
        return
    if algorithm == "uq":
        y, uq_prior = (uq.load_uq_values_bytes(_read_stdin(), "stdin") if target == "-"
                       else uq.load_uq_values(target))
        result = uq.encode_uq(y, uq_prior, seed, **options)
    else:
        q = _load_target(target, None)
        prior = load_gaussian(prior_path) if prior_path else None
        model = _load_index_model(index_model)
        result = codec.encode(q, seed, prior=prior, algorithm=algorithm, block_bits=block_bits,
                              block_dims=block_dims, orc_candidates=orc_candidates, index_model=model,
                              max_steps=max_steps, progress=_progress(quiet, "encoding"),
                              mi_profile=_load_mi_profile(mi_profile_path), strict=strict, **options)
    write_output(output, result.data, force)
    try:
        if sample_out is not None:
            write_output(sample_out, npy_bytes(result.sample), force)
        summary = result.summary()
        if as_json:
            _echo_json(summary)
    except BaseException:
        remove_output(output)  # all or nothing: no bitstream without the sample or figures asked for
        raise
    if as_json or quiet:
        return
    if algorithm == "uq":
        click.echo(f"{summary['bits']} bits ({summary['header_bits']} header + {summary['payload_bits']} payload) "
                   f"for {summary['elements']} elements, -log2 P(k|u) = {summary['information_bits']:.1f} bits, "
                   f"{summary['seconds']:.3f} s", err=True)
    else:
        click.echo(f"{summary['bits']} bits ({summary['header_bits']} header + {summary['payload_bits']} payload) "
                   f"for KL {summary['kl_bits']:.1f} bits in {summary['blocks']} blocks, "
                   f"{summary['seconds']:.3f} s", err=True)


def _refuse_wyner_ziv(source, described):
    """``reccodec decode`` of a Wyner-Ziv file: point at ``reccodec wz decode``; else its algorithm."""
    algorithm = described["algorithm"]
    if str(algorithm).startswith("wz-"):
        name = "stdin" if source == "-" else source
        raise CliError(f"{name} is a Wyner-Ziv file ({algorithm}); decode it with reccodec wz decode "
                       f"{source} --side-info Y.npy --model MODEL.json --seed SEED")
    return algorithm


@cli.command()
@click.argument("source", metavar="IN.rec")
@click.option("-o", "--output", metavar="SAMPLE.npy",
              help="Output .npy, - for stdout [default: IN with .npy; stdout for stdin].")
@click.option("--seed", type=SEED, required=True, help="The encoder's seed.")
@click.option("--prior", "prior_path", metavar="PRIOR.npz", help="The encoder's prior (default N(0,1)).")
@click.option("--index-model", metavar="zipf|MODEL.npz", help="The encoder's index model, if not Zipf.")
@click.option("--mi-profile", "mi_profile_path", metavar="PROFILE.npy", help="The encoder's MI profile, if any.")
@click.option("--model", "model_path", metavar="MODEL.rcm", help="The encoder's codec model, if any.")
@click.option("--item", type=click.IntRange(min=0), help="--model: decode this item alone (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was decoded.")
@click.option("--max-dims", type=click.IntRange(1, 2**63 - 1), default=container.MAX_DIMS, show_default=True,
              help="Refuse a file that declares more elements than this (a corrupt header allocates nothing).")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@click.pass_context
@friendly_errors
def decode(ctx, source, output, seed, prior_path, index_model, mi_profile_path, model_path, item, as_json, max_dims,
           force, quiet):
    """Decode IN.rec into the encoder's sample (float64, the target's shape).

    With --model, a container decodes to [N, ...] (or one item with --item) and a record to
    its item.

    \b
    Examples:
      reccodec decode latent.rec --seed 7                  # writes latent.npy
      reccodec decode latent.rec --seed 7 -o sample.npy --json
      reccodec decode test.recs --model digits.rcm --seed 7 --item 17 -o z17.npy
    """
    started = time.perf_counter()
    output = default_output(output, source, ".npy")
    if as_json and output == "-":
        raise click.UsageError("--json prints to stdout, which -o - already fills with the sample; write the "
                               "sample to a file or drop --json")
    if model_path is not None:
        model_commands.refuse_fixed_options(ctx, "decode")
    elif item is not None:
        raise click.UsageError("--item applies with --model only")
    check_output(output, force, (source, prior_path, None if index_model == "zipf" else index_model,
                                 mi_profile_path, model_path))
    model = model_commands.read_model(model_path) if model_path is not None else None
    index = _load_index_model(index_model)
    profile = _load_mi_profile(mi_profile_path)
    data = _read_input(source)
    if model is not None:
        with naming(source):
            sample = model_commands.decode_with_model(data, model, seed, item, max_dims)
        summary = {"kind": model_commands.kind(data)}
    else:
        if model_commands.kind(data) == "batch container":
            raise CliError(f"{'stdin' if source == '-' else source} is a batch container of a codec model; "
                           f"decode it with --model MODEL.rcm")
        with naming(source):
            described = container.describe(data)
        algorithm = _refuse_wyner_ziv(source, described)
        if algorithm == "uq":
            prior = uq.load_uq_prior(prior_path) if prior_path else None
            with naming(source):
                sample = uq.decode_uq(data, seed, prior, max_dims)
        else:
            prior = load_gaussian(prior_path) if prior_path else None
            with naming(source):
                sample = codec.decode(data, seed, prior=prior, index_model=index, mi_profile=profile,
                                      max_dims=max_dims)
        summary = {"algorithm": algorithm, "approximate": bool(described.get("approximate"))}
    write_output(output, npy_bytes(sample), force)
    summary = {**summary, "input": "stdin" if source == "-" else source, "output": output, "bits": 8 * len(data),
               "shape": list(sample.shape), "elements": int(sample.size), "dtype": str(sample.dtype),
               "seconds": round(time.perf_counter() - started, 6)}
    report_summary(output, summary, as_json, quiet,
                   lambda s: f"{s['elements']} elements {tuple(s['shape'])} from {s['bits']} bits "
                             f"({s.get('algorithm', s.get('kind'))}), {s['seconds']:.3f} s")


@cli.command()
@click.argument("source", metavar="IN.rec")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@friendly_errors
def info(source, as_json):
    """Print the header of IN.rec, with header and payload bits apart (also of a codec model,
    a batch container or a record).

    \b
    Examples:
      reccodec info latent.rec
      reccodec info latent.rec --json
      reccodec info digits.rcm
    """
    data = _read_input(source)
    with naming(source):
        described = model_commands.describe(data)
        if described is None:
            described = container.describe(data)
            note = True
        else:
            note = False
    if as_json:
        _echo_json(described)
        return
    if not note:
        for key, value in described.items():
            click.echo(f"{key}: {value}")
        return
    for key, value in described.items():
        if key == "params":
            for name, param in value.items():
                click.echo(f"  {name}: {param}")
        else:
            click.echo(f"{key}: {value}")
    if "hybrid_eps" in described["params"]:
        click.echo(f"note: the sample is eps-approximate: it follows the target truncated to tail mass "
                   f"eps = {described['params']['hybrid_eps']:g} per block, within eps in total variation")
    elif described.get("approximate"):
        click.echo("note: the sample is approximate (its law is close to, not equal to, the target)")


@cli.command("fit-index-model")
@click.argument("train", metavar="TRAIN.npz")
@click.option("-o", "--output", required=True, metavar="MODEL.npz", help="The index model to write.")
@click.option("--seed", type=SEED, required=True, help="Seed for the training searches.")
@click.option("--algorithm", type=click.Choice(block_rec.ALGORITHMS), default="pfr", show_default=True,
              help="The algorithm the model will code (as encode's --algorithm).")
@click.option("--prior", "prior_path", metavar="PRIOR.npz", help="Prior mean and std (default N(0,1)).")
@click.option("--block-bits", type=finite_range(0, MAX_BLOCK_BITS, min_open=True), default=codec.DEFAULT_BLOCK_BITS,
              show_default=True, help="KL budget per block, as encode's.")
@click.option("--block-dims", type=click.IntRange(min=1), help="Fixed dimensions per block instead, as encode's.")
@click.option("--orc-candidates", type=click.IntRange(1, MAX_ORC_CANDIDATES), help="ORC's N, as encode's.")
@click.option("--max-steps", type=click.IntRange(1, MAX_STEPS), default=codec.DEFAULT_MAX_STEPS, show_default=True,
              help="PFR's cap on candidates per block, as encode's.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary line.")
@threads_option
@friendly_errors
def fit_index_model_command(train, output, seed, algorithm, prior_path, block_bits, block_dims, orc_candidates,
                            max_steps, as_json, force, quiet):
    """Fit an index model on TRAIN.npz (mean, std with a leading batch axis).

    \b
    Examples:
      reccodec fit-index-model train.npz --prior prior.npz --seed 1 -o model.npz
      reccodec encode target.npz --prior prior.npz --seed 7 --index-model model.npz
    """
    check_output(output, force, (train, prior_path))
    batch = load_gaussian(train)
    prior = load_gaussian(prior_path) if prior_path else None
    model = fit_index_model(batch, seed, prior=prior, algorithm=algorithm, block_bits=block_bits,
                            block_dims=block_dims, orc_candidates=orc_candidates, max_steps=max_steps,
                            progress=_progress(quiet, "fitting"))
    write_output(output, model.to_bytes(), force)
    summary = {"training_indices": int(model.training_indices), "targets": int(batch.shape[0]),
               "bytes": len(model.to_bytes())}
    report_summary(output, summary, as_json, quiet,
                   lambda s: f"fitted on {s['training_indices']} block indices from {s['targets']} targets")


@cli.group()
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


from reccodec_cli.partition_commands import register as _register_partition  # noqa: E402

_register_partition(cli, bench, friendly_errors, check_output, write_output)

from reccodec_cli.wz import bench_wz, wz  # noqa: E402  (Wyner-Ziv commands)

cli.add_command(wz)
model_commands.register(cli, friendly_errors, _echo_json)

from reccodec_cli import shard_commands  # noqa: E402  (encode-shards, decode-shards)

shard_commands.register(cli, friendly_errors, _echo_json)
bench.add_command(bench_wz)


def main(argv=None):
    """Console entry point: one line on stderr for every error, never a traceback."""
    try:
        cli.main(args=argv, prog_name="reccodec", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.exceptions.Abort:
        _fail("aborted")
    except click.ClickException as e:
        _fail(e.format_message(), e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, Interrupted):
        _fail("interrupted", 130)
    sys.exit(0)


if __name__ == "__main__":
    main()
