"""The codec on the shell: ``reccodec encode``, ``decode``, ``info`` and ``fit-index-model``.

Each command parses, reads and writes, and calls into ``rec_codec`` for the work; with
``--model`` they hand over to ``model_commands``.
"""

import os
import sys
import time

import click

from rec_codec import block_rec, codec, container, uq
from rec_codec.batch import CHUNK_BITS, DEFAULT_CHUNK_ITEMS
from rec_codec.entropy import EmpiricalIndexModel
from rec_codec.io import load_gaussian, load_gaussian_bytes, npy_bytes
from rec_codec.training import fit_index_model
from reccodec_cli import model_commands
from reccodec_cli.conventions import (SEED, default_output, echo_json, finite_range, naming, report_summary,
                                      threads_option)
from reccodec_cli.failures import CliError, friendly_errors
from reccodec_cli.outputs import check_output, remove_output, write_output

__all__ = ["encode", "decode", "info", "fit_index_model_command"]

MAX_BLOCK_BITS = 4096  # KL budget per block: far past what any search can reach
MAX_STEPS = 2**62  # candidates per block
MAX_ORC_CANDIDATES = 2**40


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


@click.command()
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
@click.option("--chunk-items", type=click.IntRange(min=1), default=None,
              help=f"--model: items per chunk of a container (random access reads one chunk). [default: "
                   f"{DEFAULT_CHUNK_ITEMS}, or fewer where a chunk would pass {CHUNK_BITS} bits]")
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
                                         as_json, force, quiet, lambda path: _load_target(path, None))
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
    except BaseException:
        remove_output(output)  # all or nothing: no bitstream without the sample asked for
        raise
    report_summary(output, result.summary(), as_json, quiet, _encode_line if algorithm != "uq" else _uq_line)


def _encode_line(summary):
    return (f"{summary['bits']} bits ({summary['header_bits']} header + {summary['payload_bits']} payload) "
            f"for KL {summary['kl_bits']:.1f} bits in {summary['blocks']} blocks, {summary['seconds']:.3f} s")


def _uq_line(summary):
    return (f"{summary['bits']} bits ({summary['header_bits']} header + {summary['payload_bits']} payload) "
            f"for {summary['elements']} elements, -log2 P(k|u) = {summary['information_bits']:.1f} bits, "
            f"{summary['seconds']:.3f} s")


def _refuse_wyner_ziv(source, described):
    """``reccodec decode`` of a Wyner-Ziv file: point at ``reccodec wz decode``; else its algorithm."""
    algorithm = described["algorithm"]
    if str(algorithm).startswith("wz-"):
        name = "stdin" if source == "-" else source
        raise CliError(f"{name} is a Wyner-Ziv file ({algorithm}); decode it with reccodec wz decode "
                       f"{source} --side-info Y.npy --model MODEL.json --seed SEED")
    return algorithm


@click.command()
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


@click.command()
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
        echo_json(described)
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


@click.command("fit-index-model")
@click.argument("train", metavar="TRAIN.npz")
@click.option("-o", "--output", metavar="MODEL.npz", help="The index model to write [default: TRAIN with .index.npz].")
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
      reccodec fit-index-model train.npz --seed 1          # writes train.index.npz
      reccodec encode target.npz --prior prior.npz --seed 7 --index-model model.npz
    """
    output = default_output(output, train, ".index.npz")
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
