"""Entry point of the ``weir`` command: global options, sub-command groups, error handling."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from weir import __version__
from weir.cli import deployments as deployments_cli
from weir.cli import edge as edge_cli
from weir.cli import features as features_cli
from weir.cli import k8s as k8s_cli
from weir.cli import models as models_cli
from weir.cli import monitor as monitor_cli
from weir.cli import rollouts as rollouts_cli
from weir.cli import training as training_cli
from weir.cli.context import CliState, base_url, console, err_console, print_json, state
from weir.errors import WeirError

if TYPE_CHECKING:
    from weir.app import Workspace

app = typer.Typer(
    name="weir",
    help="weir keeps machine-learning models healthy in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_cli.app, name="models")
app.add_typer(monitor_cli.app, name="monitor")
app.add_typer(features_cli.app, name="features")
app.add_typer(deployments_cli.app, name="deployments")
app.add_typer(deployments_cli.tokens_app, name="tokens")
app.command("deploy")(deployments_cli.deploy)
app.command("serve")(deployments_cli.serve)
app.command("ui")(deployments_cli.ui)
app.command("train")(training_cli.train)
app.add_typer(training_cli.triggers_app, name="triggers")
app.add_typer(rollouts_cli.app, name="rollouts")
app.add_typer(edge_cli.app, name="edge")
app.add_typer(edge_cli.keys_app, name="keys")
app.add_typer(k8s_cli.app, name="k8s")
app.command("agent")(rollouts_cli.agent)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"weir {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="Workspace folder (WEIR_HOME).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Metadata database URL (WEIR_DATABASE_URL).")] = None,
    artifact_root: Annotated[Path | None, typer.Option(help="Artifact store folder (WEIR_ARTIFACT_ROOT).")] = None,
    user: Annotated[str | None, typer.Option(help="Actor recorded in the audit log (WEIR_USER).")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR (WEIR_LOG_LEVEL).")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    cli = state(ctx)
    cli.overrides.update(
        {
            "home": home,
            "database_url": database_url,
            "artifact_root": artifact_root,
            "user": user,
            "log_level": log_level,
        }
    )
    logging.basicConfig(
        level=cli.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    ctx.call_on_close(cli.close)


@app.command("settings")
def show_settings(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings (database password hidden)."""
    settings = state(ctx).settings
    values = {
        name: (
            settings.redacted_database_url()
            if name == "database_url"
            else ("***" if name == "audit_key" and value else value)
        )
        for name, value in vars(settings).items()
    }
    if as_json:
        print_json(values)
        return
    for name, value in values.items():
        console.print(f"[bold]{name}[/bold] = {value}")


@app.command("demo")
def demo(
    ctx: typer.Context,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep serving afterwards until interrupted.")
    ] = True,
) -> None:
    """The whole loop on a simulated year of loans: features, training, serving, drift, retraining, rollout."""
    from weir.cli.demo import run_demo

    ws = state(ctx).workspace()
    run_demo(ws)
    if serve:
        url = base_url(ws.settings)
        console.print(f"Dashboard: {url}/ui/")
        console.print(f"Serving at {url} until interrupted (Ctrl-C); try "
                      f"`curl -X POST {url}/v1/endpoints/loans/predict "
                      "-d '{\"entities\": [{\"application_id\": \"a014000\"}]}'`")  # fmt: skip
        ws.serve()


def run(connect: Callable[..., Workspace], argv: list[str] | None = None) -> None:
    """Run the CLI; weir errors become one red line and exit status 1. ``app.py`` passes ``connect``."""
    try:
        app(args=argv, obj=CliState(connect=connect))  # exits by itself, with click's usage errors as 2
    except WeirError as exc:
        err_console.print(f"[bold red]error[/bold red] ({exc.code}): {exc.message}", highlight=False)
        sys.exit(1)
