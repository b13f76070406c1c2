"""The `dalink` command line: thin click shells over library calls (pipeline.py, adapters).

Library errors become clean messages: input, configuration and usage errors exit 2, other
failures exit 1.  Nothing identifying is printed except by `review show`, to the reviewer.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
import pandas as pd

import pipeline
from adapters.errors import DalinkError, UsageError
from adapters.store import DEFAULT_STORE_URL

STORE_OPTION = click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE_URL,
    show_default=True,
    envvar="DALINK_STORE",
    help="SQLAlchemy URL of the store (env DALINK_STORE), e.g. postgresql+psycopg://u@h/db.",
)


class _UsageFailure(click.ClickException):
    """Input, configuration or usage error: exit code 2."""

    exit_code = 2


class _Group(click.Group):
    """A group whose commands turn library errors into exit codes 2 (usage) and 1 (failure)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _UsageFailure(str(exc)) from exc
        except DalinkError as exc:
            raise click.ClickException(str(exc)) from exc


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dalink")
def main() -> None:
    """Link GP, A&E, mental-health and police extracts; flag safeguarding risk.

    dalink links people and households across the four sources, applies the safeguarding
    rules and writes each agency only the flags and letter-delay warnings it needs about
    people it already holds.

    \b
    Examples:
      dalink demo
      dalink run --input extracts/ --out outputs/ --store sqlite:///dalink.db
      dalink review list
    """


@main.command()
@click.option("--input", "input_dir", required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", help="The night to run for (YYYY-MM-DD). Default: today.")
@STORE_OPTION
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config TOML.")
@click.option("--write-db", "write_db", help="Also write flags and warnings to this database URL.")
@click.option("--fhir", is_flag=True, help="Also write a FHIR R4 Bundle of Flags per recipient.")
@click.option(
    "--retrain",
    is_flag=True,
    help="Train the linkage model afresh tonight instead of reusing last night's.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress display (for cron); errors only.")
def run(
    input_dir: Path,
    out_dir: Path,
    as_of: str | None,
    store_url: str,
    config_path: Path | None,
    write_db: str | None,
    fhir: bool,
    retrain: bool,
    quiet: bool,
) -> None:
    """Run the night: ingest, link, households, rules, lifecycle, write.

    A night after the first reuses the last night's linkage model and compares only the
    record pairs that touch a new or changed record; the model is retrained after
    [linkage] retrain_after_nights nights (7), when over retrain_changed_fraction (5%) of
    records changed, when the linkage settings change, or with --retrain.

    \b
    Example:
      dalink run --input /data/tonight --out /data/outputs --as-of 2026-11-20 \\
                 --store sqlite:///dalink.db --config dalink.toml
    """
    options = pipeline.RunOptions(
        input_dir=input_dir,
        out_dir=out_dir,
        as_of=_as_of(as_of),
        store_url=store_url,
        config_path=config_path,
        write_db=write_db,
        fhir=fhir,
        retrain=retrain,
    )
    summary = pipeline.run_night(options, progress=None if quiet else _progress)
    if not quiet:
        click.echo(pipeline.format_summary(summary))


def _progress(stage: str, event: str, detail: str) -> None:
    """One line per stage; on a terminal the line shows the stage running, then its result."""
    on_terminal = sys.stderr.isatty()
    if event == "start":
        if on_terminal:
            click.echo(f"  {stage:<11} …", err=True, nl=False)
    else:
        click.echo(f"{chr(13) if on_terminal else ''}  {stage:<11} {detail}", err=True)


@main.command()
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="Default: a new temp folder."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def demo(out_dir: Path | None, quiet: bool) -> None:
    """Run the whole night on the bundled synthetic sample and print where the outputs are.

    \b
    Example:
      dalink demo
    """
    summary = pipeline.run_demo(out_dir, progress=None if quiet else _progress)
    click.echo(pipeline.format_summary(summary))


@main.command()
@click.option("--input", "input_dir", required=True, type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config TOML.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def validate(input_dir: Path, config_path: Path | None, fmt: str) -> None:
    """Check a folder of extracts: rows loaded and quarantined per file, with reasons.

    Exits 2 when a file cannot be used at all (e.g. missing required columns).

    \b
    Example:
      dalink validate --input /data/tonight --config dalink.toml
    """
    report = pipeline.validate_input(input_dir, config_path)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
        return
    _print_table(pd.DataFrame(report["files"]), title="Extracts")
    if report["quarantine_reasons"]:
        _print_table(pd.DataFrame(report["quarantine_reasons"]), title="Quarantine reasons")
    click.echo(
        f"{report['rows_read']} rows read: {report['rows_loaded']} loaded, "
        f"{report['rows_quarantined']} quarantined"
    )


@main.command()
@click.option("--persons", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", help="Reference night of the data (YYYY-MM-DD). Default: today.")
def generate(persons: int, seed: int, out_dir: Path, as_of: str | None) -> None:
    """Write synthetic extracts (all eight standard files) with ground truth beside them.

    \b
    Example:
      dalink generate --persons 100000 --seed 1 --out /tmp/synthetic
    """
    summary = pipeline.generate_data(
        persons=persons, seed=seed, out_dir=out_dir, as_of=_as_of(as_of)
    )
    click.echo(summary)


@main.group(cls=_Group)
def links() -> None:
    """Linked identities: which source record belongs to which person and household."""


@links.command("export")
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path))
@STORE_OPTION
def links_export(out_file: Path, store_url: str) -> None:
    """Write one row per source record: source, org_code, record_id, person_ref, household_ref.

    \b
    Example:
      dalink links export --out links.csv --store sqlite:///dalink.db
    """
    count = pipeline.export_links(store_url, out_file)
    click.echo(f"{count} records written to {out_file}")


@main.command()
@click.option("--run", "run_id", help="The run (see `dalink runs`). Default: the latest.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
@STORE_OPTION
def report(run_id: str | None, out_file: Path, store_url: str) -> None:
    """Write a run's HTML report for the data team (every run also writes OUT/report.html).

    \b
    Example:
      dalink report --run 20261120-231500-a1b2c3 --out report.html
    """
    click.echo(f"report written to {pipeline.write_report(store_url, run_id, out_file)}")


@main.command("runs")
@STORE_OPTION
def runs_command(store_url: str) -> None:
    """List the runs recorded in the store.

    \b
    Example:
      dalink runs --store sqlite:///dalink.db
    """
    _print_table(pipeline.list_runs(store_url), title="Runs")


# -- review -----------------------------------------------------------------------------


@main.group(cls=_Group)
def review() -> None:
    """Review uncertain matches and the flags held behind them (decisions persist).

    \b
    Examples:
      dalink review list
      dalink review show 3fa2c1
      dalink review accept 3fa2c1 --reason "same DOB, NHS number and address"
    """


@review.command("list")
@STORE_OPTION
@click.option("--status", type=click.Choice(["pending", "accepted", "rejected"]), default="pending")
@click.option("--rule", help="Only items holding a flag of this rule, e.g. DA-SH.")
@click.option("--org", help="Only items with a record from this organisation code.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many items.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
def review_list(
    store_url: str, status: str, rule: str | None, org: str | None, limit: int | None, fmt: str
) -> None:
    """The review queue, most consequential first (held HIGH flags before the rest).

    \b
    Example:
      dalink review list --rule DA-SH --limit 20
    """
    queue = pipeline.review_queue(store_url, status=status, rule=rule, org=org, limit=limit)
    _emit(queue, fmt, title=f"Review queue ({status})")


@review.command("show")
@click.argument("item")
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def review_show(item: str, store_url: str, fmt: str) -> None:
    """Both records side by side with each comparison's level and weight (the waterfall).

    \b
    Example:
      dalink review show 3fa2c1
    """
    detail = pipeline.review_detail(store_url, item)
    if fmt == "json":
        click.echo(json.dumps(pipeline.detail_as_dict(detail), indent=2, default=str))
        return
    click.echo(pipeline.format_detail(detail))


def _decide(action: str, item: str, reason: str, reviewer: str | None, store_url: str) -> None:
    status = pipeline.decide(
        store_url, item, action=action, reviewer=reviewer or getpass.getuser(), reason=reason
    )
    click.echo(f"{item}: {status}")


@review.command("accept")
@click.argument("item")
@click.option("--reason", required=True, help="Why: recorded in the audit.")
@click.option("--reviewer", help="Who decides. Default: the OS user.")
@STORE_OPTION
def review_accept(item: str, reason: str, reviewer: str | None, store_url: str) -> None:
    """Accept a link: it counts as a link every night; its held flags go out as NEW.

    \b
    Example:
      dalink review accept 3fa2c1 --reason "same person: GP confirms DOB and address"
    """
    _decide("accept", item, reason, reviewer, store_url)


@review.command("reject")
@click.argument("item")
@click.option("--reason", required=True, help="Why: recorded in the audit.")
@click.option("--reviewer", help="Who decides. Default: the OS user.")
@STORE_OPTION
def review_reject(item: str, reason: str, reviewer: str | None, store_url: str) -> None:
    """Reject a link: it never links again, whatever the model scores later.

    \b
    Example:
      dalink review reject 3fa2c1 --reason "twins: different given names"
    """
    _decide("reject", item, reason, reviewer, store_url)


@review.command("undo")
@click.argument("item")
@click.option("--reason", default="", help="Why: recorded in the audit.")
@click.option("--reviewer", help="Who decides. Default: the OS user.")
@STORE_OPTION
def review_undo(item: str, reason: str, reviewer: str | None, store_url: str) -> None:
    """Return a decided link to the queue.

    \b
    Example:
      dalink review undo 3fa2c1 --reason "accepted by mistake"
    """
    _decide("undo", item, reason, reviewer, store_url)


@review.command("history")
@STORE_OPTION
@click.option("--item", help="Only this item's decisions.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
def review_history(store_url: str, item: str | None, fmt: str) -> None:
    """The audit of every decision: who, when, what, why.

    \b
    Example:
      dalink review history --format csv > audit.csv
    """
    _emit(pipeline.review_history(store_url, item), fmt, title="Review decisions")


@review.command("next")
@STORE_OPTION
@click.option("--reviewer", help="Who decides. Default: the OS user.")
def review_next(store_url: str, reviewer: str | None) -> None:
    """Walk the queue one item at a time: [a]ccept, [r]eject, [s]kip, [q]uit.

    Without a terminal (a script, a closed stdin) it lists nothing and stops at once.

    \b
    Example:
      dalink review next --reviewer j.smith
    """
    who = reviewer or getpass.getuser()
    queue = pipeline.review_queue(store_url, status="pending")
    if not len(queue):
        click.echo("The review queue is empty.")
        return
    for position, item in enumerate(queue["item"], start=1):
        click.echo(f"\n[{position}/{len(queue)}]")
        click.echo(pipeline.format_detail(pipeline.review_detail(store_url, item)))
        key = _read_key("[a]ccept  [r]eject  [s]kip  [q]uit: ")
        if key in (None, "q"):
            click.echo("Stopped." if key == "q" else "No input: stopped.")
            return
        if key == "s":
            continue
        action = "accept" if key == "a" else "reject"
        reason = _read_line("Reason: ")
        if not reason:
            click.echo("No reason given: skipped (decisions need one).")
            continue
        _decide(action, item, reason, who, store_url)
    click.echo("End of the queue.")


def _read_key(prompt: str) -> str | None:
    """One key press on a terminal, or one line from a pipe; None at end of input."""
    stdin = sys.stdin
    if stdin.isatty():
        click.echo(prompt, nl=False)
        while True:
            key = click.getchar().lower()
            if key in ("a", "r", "s", "q"):
                click.echo(key)
                return key
            if key in ("\x03", "\x04"):
                return None
    line = stdin.readline()
    if not line:
        return None
    key = line.strip().lower()[:1]
    return key if key in ("a", "r", "s", "q") else "s"


def _read_line(prompt: str) -> str:
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    click.echo("")
    return line.strip()


# -- output helpers -----------------------------------------------------------------------


def _emit(frame: pd.DataFrame, fmt: str, *, title: str) -> None:
    if fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        _print_table(frame, title=title)


def _print_table(frame: pd.DataFrame, *, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not len(frame):
        click.echo(f"{title}: none")
        return
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else str(v) for v in row])
    # rich colours only on a real terminal; CliRunner and pipes get plain text.
    Console(file=sys.stdout, width=max(100, len(frame.columns) * 14)).print(table)


if __name__ == "__main__":
    main()
