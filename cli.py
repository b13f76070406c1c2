"""The `dalink` command line: thin click shells over library calls (see pipeline.py)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dalink")
def main() -> None:
    """Link GP, A&E, mental-health and police extracts; flag safeguarding risk.

    \b
    Example:
      dalink demo
    """


if __name__ == "__main__":
    main()
