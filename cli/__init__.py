"""Command-line front end of reccodec (installed as the package reccodec_cli)."""
