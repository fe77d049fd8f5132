"""Commands of space-partitioned REC: ``reccodec mi-profile``."""

import click

from rec_codec.io import load_gaussian, npy_bytes
from reccodec_cli.conventions import default_output, report_summary
from reccodec_cli.failures import friendly_errors
from reccodec_cli.outputs import check_output, write_output


@click.command("mi-profile")
@click.argument("train", metavar="TRAIN.npz")
@click.option("-o", "--output", metavar="PROFILE.npy",
              help="Output .npy, - for stdout [default: TRAIN with .profile.npy].")
@click.option("--prior", "prior_path", metavar="PRIOR.npz", help="Prior mean and std (default N(0,1)).")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@friendly_errors
def mi_profile_command(train, output, prior_path, force, as_json, quiet):
    """Per-dimension MI in bits (mean KL over TRAIN.npz, with a leading batch axis).

    \b
    Examples:
      reccodec mi-profile train.npz --prior prior.npz -o profile.npy
      reccodec mi-profile train.npz                 # writes train.profile.npy
      reccodec encode target.npz --prior prior.npz --seed 7 --algorithm sp-pfr --mi-profile profile.npy
    """
    from rec_codec.partition import mi_profile_from_batch

    output = default_output(output, train, ".profile.npy")
    if as_json and output == "-":
        raise click.UsageError("--json prints to stdout, which -o - already fills with the profile; write "
                               "the profile to a file or drop --json")
    check_output(output, force, (train, prior_path))
    batch = load_gaussian(train)
    prior = load_gaussian(prior_path) if prior_path else None
    profile = mi_profile_from_batch(batch, prior)
    write_output(output, npy_bytes(profile), force)
    summary = {"targets": int(batch.shape[0]), "dims": int(profile.size), "mi_bits": float(profile.sum())}
    report_summary(output, summary, as_json, quiet,
                   lambda s: f"MI profile of {s['targets']} targets: {s['mi_bits']:.1f} bits over {s['dims']} "
                             "dimensions")
