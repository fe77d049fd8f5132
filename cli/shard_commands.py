"""Shards on the shell: ``reccodec encode-shards`` and ``reccodec decode-shards``.

The commands parse, expand the patterns, connect to a Dask
scheduler when asked, and call ``rec_codec.shards`` for the work.
"""

import glob
import sys
import time

import click

from rec_codec import shards
from reccodec_cli.conventions import SEED, echo_json
from reccodec_cli.failures import friendly_errors
from reccodec_cli.model_commands import read_model

__all__ = ["encode_shards_command", "decode_shards_command", "expand_patterns", "connect"]

INSTALL_DASK = "pip install 'reccodec[dask]'"


def expand_patterns(patterns):
    """The files that the patterns name, in sorted order per pattern.

    A pattern with ``*``, ``?`` or ``[`` is expanded (quoted, so that a shell with
    thousands of shards does not pass them all as arguments); other names are kept.

    Raises:
        click.UsageError: no pattern given, or a pattern matches no file.
    """
    if not patterns:
        raise click.UsageError("name the shards: a file, or a quoted pattern such as 'shards/*.npz'")
    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise click.UsageError(f"no file matches {pattern}")
            paths.extend(matched)
        else:
            paths.append(pattern)
    return paths


def connect(address):
    """A ``distributed.Client`` of the scheduler at ``address``.

    Raises:
        click.ClickException: dask is not installed (with how to install it), or the
            scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError:
        raise click.ClickException(f"--scheduler needs dask.distributed, which is not installed: {INSTALL_DASK}") \
            from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as e:
        raise click.ClickException(f"cannot reach the Dask scheduler at {address}: {e}") from None


class _Progress:
    """One line on stderr, rewritten as shards finish: shards and items done, items/s, time left."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.started = time.perf_counter()
        self.items = 0
        self.width = 0

    def __call__(self, outcome, done, total, seconds):
        if outcome.failed:
            self.clear()
            click.echo(f"Error: {outcome.error}", err=True)
        self.items += outcome.items or 0
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        left = elapsed / done * (total - done)
        line = (f"shards {done}/{total}, items {self.items}, {self.items / elapsed:.0f} items/s, "
                f"{int(left) // 60:02d}:{int(left) % 60:02d} left")
        click.echo("\r" + line.ljust(self.width), err=True, nl=False)
        self.width = len(line)

    def clear(self):
        if self.enabled and self.width:
            click.echo("\r" + " " * self.width + "\r", err=True, nl=False)
            self.width = 0


def _run(work, patterns, model_path, seed, out_dir, scheduler, workers, as_json, quiet):
    if scheduler is not None and workers is not None:
        raise click.UsageError("--scheduler and --workers exclude each other: the cluster has its own workers")
    paths = expand_patterns(patterns)
    model = read_model(model_path)
    client = connect(scheduler) if scheduler is not None else None
    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    started = time.perf_counter()
    try:
        outcomes = work(paths, model, seed, out_dir, client=client, workers=workers, progress=progress)
    finally:
        progress.clear()
        if client is not None:
            client.close()
    total = {**shards.summarize(outcomes), "seconds": round(time.perf_counter() - started, 4)}
    if as_json:
        echo_json({"shards": [o.to_dict() for o in outcomes], "total": total})
    elif not quiet:
        counts = ", ".join(f"{total[k]} {k}" for k in ("encoded", "skipped", "decoded", "failed") if total[k])
        line = f"{total['shards']} shards ({counts}): {total['items']} items, {total['bits']} bits"
        if total["items"]:
            line += f", {total['bits'] / total['items']:.1f} bits per item"
        if total["kl_bits"]:
            line += f" for KL {total['kl_bits']:.0f} bits ({total['bits'] / total['kl_bits']:.3f}x of the coded ones)"
        click.echo(f"{line}; {total['seconds']:.1f} s", err=True)
    if total["failed"]:
        raise click.ClickException(f"{total['failed']} of {total['shards']} shards failed")


def _shard_options(command):
    for option in reversed((
        click.argument("patterns", nargs=-1, metavar="PATTERN..."),
        click.option("--model", "model_path", required=True, metavar="MODEL.rcm", help="The codec model."),
        click.option("--seed", type=SEED, required=True, help="The data set's seed; each shard's is derived "
                                                                "from it and the shard's name."),
        click.option("--out-dir", required=True, metavar="DIR", help="Where to write (made if missing)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Run each shard as a task on this Dask scheduler (tcp://host:8786); the workers "
                          "must see the same paths. Needs " + INSTALL_DASK + "."),
        click.option("--workers", type=click.IntRange(1, 4096),
                     help="Without --scheduler: processes of the local pool [default: the core count]."),
        click.option("--json", "as_json", is_flag=True, help="Print per-shard and total figures as one JSON "
                                                              "object."),
        click.option("-q", "--quiet", is_flag=True, help="No progress or summary (errors still)."),
    )):
        command = option(command)
    return command

@click.command("encode-shards")
@_shard_options
@friendly_errors
def encode_shards_command(patterns, model_path, seed, out_dir, scheduler, workers, as_json, quiet):
    """Code each .npz shard into OUT/NAME.recs with one codec model and seed.

    A shard whose output already records the same model, seed and input is skipped, so
    an interrupted run resumes; a shard that fails says why on one line and the others
    go on; the exit status is 1 when any failed.

    \b
    Examples:
      reccodec encode-shards 'shards/*.npz' --model digits.rcm --seed 7 --out-dir coded
      reccodec decode-shards 'coded/*.recs' --model digits.rcm --seed 7 --out-dir samples
    """
    _run(shards.encode_shards, patterns, model_path, seed, out_dir, scheduler, workers, as_json, quiet)

@click.command("decode-shards")
@_shard_options
@friendly_errors
def decode_shards_command(patterns, model_path, seed, out_dir, scheduler, workers, as_json, quiet):
    """Decode each container NAME.recs of encode-shards into DIR/NAME.npy (the samples).

    The shard's seed is derived from the seed and NAME, so a renamed container does not
    decode.

    \b
    Examples:
      reccodec decode-shards 'coded/*.recs' --model digits.rcm --seed 7 --out-dir samples
      reccodec decode-shards coded/part-0003.recs --model digits.rcm --seed 7 --out-dir samples
    """
    _run(shards.decode_shards, patterns, model_path, seed, out_dir, scheduler, workers, as_json, quiet)
