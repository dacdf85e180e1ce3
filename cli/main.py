"""The `psflow` command: root options, and every command joined onto one app."""

from pathlib import Path
from typing import Annotated

import typer

from cli import (
    accounts,
    audit,
    bench,
    codec_server,
    dev,
    dlq,
    exceptions,
    history,
    listing,
    people,
    reconcile,
    report,
    sandbox,
    schedules,
    workflows,
)
from cli import inbox as inbox_command
from cli import ingress as ingress_command
from cli import store as store_command
from cli import systems as systems_command
from cli.state import State

app = typer.Typer(
    name="psflow",
    help="Durable sagas that keep the CRM, PSA and ERP in step.\n\n"
    "Example: psflow start opportunity-to-project 006Hs0000000001IAA --as sam",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # help names settings as [section] key: text, not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="TOML settings file (default: $PSFLOW_CONFIG, then ./psflow.toml).",
            show_default=False,
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            help="Temporal frontend address (default: from settings, localhost:7233).",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(help="Temporal namespace (default: from settings).", show_default=False),
    ] = None,
) -> None:
    """Root options: which settings file and which Temporal every command uses."""
    ctx.obj = State(config_file=config, address=address, namespace=namespace)


for commands in (
    workflows.app,
    history.app,
    people.app,
    accounts.app,
    listing.app,
    bench.app,
    dev.app,
):
    app.add_typer(commands)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(exceptions.app, name="exceptions")
app.add_typer(dlq.app, name="dlq")
app.add_typer(audit.app)
app.add_typer(codec_server.app)
app.add_typer(reconcile.app)
app.add_typer(report.app)
app.add_typer(schedules.app, name="schedules")
app.add_typer(ingress_command.app)
app.add_typer(inbox_command.app)
app.add_typer(systems_command.app, name="systems")
app.add_typer(store_command.app, name="store")
