"""Codec models on the shell: ``reccodec train``, and encode/decode/info with ``--model``.

Every function here parses, reads and writes, and calls into ``rec_codec`` for the work.
"""

import click

from rec_codec import batch, container
from rec_codec.errors import InputError
from rec_codec.io import load_gaussian, npy_bytes
from rec_codec.model import MAX_COMPONENTS, load_model
from rec_codec.training import (DEFAULT_MODEL_BLOCK_BITS, DEFAULT_MODEL_DINF_LIMIT, DEFAULT_MODEL_MARGIN_BITS,
                                MAX_MARGIN_BITS, train_model)
from reccodec_cli.conventions import (SEED, default_output, echo_json, finite_range_or, report_summary,
                                      threads_option)
from reccodec_cli.failures import friendly_errors
from reccodec_cli.outputs import check_output, remove_output, write_output

# encode/decode options that a model fixes, with their defaults
MODEL_FIXES = {"algorithm": "pfr", "prior_path": None, "block_bits": None, "block_dims": None,
               "orc_candidates": None, "index_model": None, "mi_profile_path": None, "alpha": None, "eps": None,
               "hybrid_search": None, "sp_dinf_limit": None}


def read_model(path):
    """The codec model in a file, with errors that name it."""
    return load_model(container.read_file(path), path)


def refuse_fixed_options(ctx, command):
    """One error line for an option that --model fixes."""
    for name in MODEL_FIXES:
        if name in ctx.params and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            option = next(p for p in ctx.command.params if p.name == name).opts[-1]
            raise click.UsageError(f"{option} does not apply with --model: the model fixes it ({command})")


def encode_with_model(target, output, seed, model_path, strict, chunk_items, max_steps, sample_out, as_json, force,
                      quiet, read_target):
    """``reccodec encode --model``: a container for [items, ...], a framed record for one item."""
    model = read_model(model_path)
    items = read_target(target)
    one_item = tuple(items.shape) == model.shape
    result = batch.encode_batch(items.mean, items.std, model, seed, strict=strict, chunk_items=chunk_items,
                                max_steps=max_steps)
    data = batch.record_file(result.records[0], model, seed) if one_item else result.container
    write_output(output, data, force)
    try:
        if sample_out is not None:
            samples = result.samples[0] if one_item else result.samples
            write_output(sample_out, npy_bytes(samples), force)
    except BaseException:
        remove_output(output)
        raise
    summary = {"kind": "record" if one_item else "batch container", "bits": 8 * len(data),
               "model_id": f"{model.model_id:016x}", **result.summary()}
    note = _approximate_note(result)
    if one_item:
        line = (lambda s: f"{s['bits']} bits (16 framing + {s['bits'] - 16} record) for KL {s['kl_bits_mean']:.1f} "
                          f"bits{note}")
    else:
        line = (lambda s: f"{s['bits']} bits for {s['items']} items: {s['container_bits_per_item']:.1f} bits per "
                          f"item for KL {s['kl_bits_mean']:.1f} ({s['container_bits_over_kl']:.3f}x){note}")
    report_summary(output, summary, as_json, quiet, line)


def _approximate_note(result):
    if not result.approximate:
        return ""
    return (f"; approximate: {result.summary()['narrowed_dims']} dimensions narrowed, total variation "
            f"<= {result.tv_bound.max():.2g}")


def decode_with_model(data, model, seed, item, max_dims=container.MAX_DIMS):
    """``reccodec decode --model``: the sample(s) of a container or a framed record.

    Args:
        data (bytes): the file.
        model (CodecModel): the encoder's codec model (``read_model``).
        seed (int): the encoder's seed.
        item (int or None): one item of a container, or None for all.
        max_dims (int): refuse a container that declares more elements than this.
    Returns:
        numpy.ndarray: [N, ...] for a container, one item's shape otherwise.
    Raises:
        RecCodecError: a file that is not a container or record, or does not decode.
    """
    if batch.is_container(data):
        if item is None:
            return batch.decode_batch(data, model, seed, max_dims=max_dims)
        return batch.decode_batch(data, model, seed, items=[item], max_dims=max_dims)[0]
    if batch.is_record(data):
        return batch.decode_record(data, model, seed, 0 if item is None else item)
    if data[:4] == container.MAGIC:
        raise InputError("this file was coded without a codec model; drop --model")
    raise InputError("not a reccodec container or record")


def kind(data):
    """What a file coded with a codec model is: ``batch container`` or ``record``."""
    return "batch container" if batch.is_container(data) else "record"


def describe(data):
    """``reccodec info`` for a model, a container or a record; None for other files."""
    if data[:4] == b"\x89RCM":
        return load_model(data).describe()
    if batch.is_container(data):
        return batch.describe_container(data)
    if batch.is_record(data) and data[:4] != container.MAGIC:
        return {"kind": "record", "bytes": len(data), "framing_bits": 16, "payload_bits": 8 * (len(data) - 2),
                "note": "decode with the encoder's --model, --seed and --item"}
    return None


@click.command("train")
@click.argument("train", metavar="TRAIN.npz")
@click.option("-o", "--output", metavar="MODEL.rcm", help="The codec model to write [default: TRAIN with .rcm].")
@click.option("--algorithm", type=click.Choice(("sp-pfr", "pfr")), default="sp-pfr", show_default=True,
              help="sp-pfr searches bins of the model and stays fast on large blocks; pfr has no bins.")
@click.option("--prior", "prior_path", metavar="PRIOR.npz", help="The prior of the latents (default N(0,1)).")
@click.option("--block-bits", type=click.FloatRange(0.5, 4096), default=DEFAULT_MODEL_BLOCK_BITS,
              show_default=True, help="Mean KL per block: contiguous dimensions grouped by their mean KL.")
@click.option("--dinf-limit", type=click.FloatRange(1, 30), default=DEFAULT_MODEL_DINF_LIMIT, show_default=True,
              help="Halve an item's block whose D_inf(Q||P') passes this many bits (about 2^BITS steps).")
@click.option("--margin-bits", type=finite_range_or("auto", 0, MAX_MARGIN_BITS), default=DEFAULT_MODEL_MARGIN_BITS,
              show_default=True, metavar="BITS|auto",
              help="sp-pfr: bits between a block's MI and log2 of its bins; auto tries 0-8 bits on 256 training "
                   "items (slower).")
@click.option("--fit-prior/--no-fit-prior", default=True, show_default=True,
              help="Draw candidates from Gaussians fitted to the training posteriors (wider than each), "
                   "not from the prior.")
@click.option("--components", type=click.IntRange(1, MAX_COMPONENTS), metavar="K",
              help="Coding Gaussians fitted to clusters of the training posteriors; each item is coded "
                   "against its cheapest [default: chosen on the data].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the training searches.")
@click.option("--json", "as_json", is_flag=True, help="Print the model's description as one JSON object.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary.")
@threads_option
@friendly_errors
def train_command(train, output, algorithm, prior_path, block_bits, dinf_limit, margin_bits, fit_prior, components,
                  seed, as_json, force, quiet):
    """Make a codec model from training posteriors (mean, std of shape [items, ...]).

    \b
    Examples:
      reccodec train train.npz                                  # writes train.rcm
      reccodec train train.npz -o digits.rcm
      reccodec encode test.npz --model digits.rcm --seed 7 -o test.recs
      reccodec decode test.recs --model digits.rcm --seed 7 -o z.npy
    """
    output = default_output(output, train, ".rcm")
    check_output(output, force, (train, prior_path))
    items = load_gaussian(train)
    prior = load_gaussian(prior_path) if prior_path else None
    progress = None if quiet or as_json else (lambda stage: click.echo(f"training: {stage}", err=True))
    model = train_model(items.mean, items.std, seed=seed, prior=prior, algorithm=algorithm,
                        block_bits=block_bits, dinf_limit=dinf_limit, margin_bits=margin_bits,
                        fit_coding_prior=fit_prior, components=components, progress=progress)
    write_output(output, model.to_bytes(), force)
    described = model.describe()
    if as_json:
        echo_json(described)
    elif not quiet:
        click.echo(f"model {described['id']}: {described['components']} coding components, "
                   f"{described['blocks']} blocks over {described['dims']} dimensions, "
                   f"training KL {described['training_kl_bits_mean']:.1f} bits per item, records "
                   f"{described['training_record_bits_mean']:.1f} bits", err=True)
