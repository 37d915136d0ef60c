"""``weir deploy``, ``weir deployments …``, ``weir tokens …``, ``weir serve``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from weir.cli.context import base_url, console, print_json, state
from weir.registry import Deployment, Scaling
from weir.registry.scaling import REPLICA_KEYS

app = typer.Typer(help="Inspect and change deployments (endpoint → primary, canary, shadows).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens with scopes (predict, read, deploy, admin).", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; kept in the history and the audit log.")]


def show(d: Deployment, as_json: bool) -> None:
    if as_json:
        print_json(d.to_dict())
        return
    table = Table("route", "ref", "traffic", title=f"{d.endpoint} (revision {d.revision}, by {d.updated_by})")
    table.add_row("primary", d.primary, f"{100 - d.canary_weight:g} %")
    if d.canary:
        table.add_row("canary", d.canary, f"{d.canary_weight:g} %")
    for s in d.shadows:
        table.add_row("shadow", s.ref, f"{s.percent:g} % mirrored")
    console.print(table)
    other = {k: v for k, v in d.options.items() if k not in REPLICA_KEYS}
    if d.route_key or other:
        console.print(f"route key: {d.route_key or '-'}   options: {other or '-'}")
    console.print(f"on Ray: {Scaling.from_options(d.options, endpoint=d.endpoint).describe()}")


def deploy(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="Endpoint name, e.g. churn.")],
    primary: Annotated[str, typer.Argument(help="What it serves: churn@champion, churn/3 or churn.")],
    canary: Annotated[str | None, typer.Option(help="A canary version, e.g. churn/4.")] = None,
    weight: Annotated[float, typer.Option(help="Percent of traffic to the canary.")] = 0.0,
    shadow: Annotated[list[str] | None, typer.Option(help="REF or REF:PERCENT mirrored off the response path.")] = None,
    route_key: Annotated[str | None, typer.Option(help="Request field that picks the canary stickily.")] = None,
    log_sample: Annotated[float | None, typer.Option(help="Share of requests logged, [0, 1].")] = None,
    max_batch_size: Annotated[int | None, typer.Option(help="Micro-batch concurrent requests up to N rows.")] = None,
    max_batch_wait_ms: Annotated[float | None, typer.Option(help="Longest a request waits for a batch.")] = None,
    feature_service: Annotated[
        str | None, typer.Option(help="Feature service read online for requests that send entity keys.")
    ] = None,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Create an endpoint's deployment, or replace its whole configuration."""
    shadows = []
    for item in shadow or []:
        ref, _, percent = item.partition(":")
        shadows.append((ref, float(percent) if percent else 100.0))
    given = {
        "log_sample": log_sample,
        "max_batch_size": max_batch_size,
        "max_batch_wait_ms": max_batch_wait_ms,
        "feature_service": feature_service,
    }
    options = {k: v for k, v in given.items() if v is not None}
    d = (
        state(ctx)
        .workspace()
        .deployments.deploy(
            endpoint,
            primary,
            canary=canary,
            canary_weight=weight,
            shadows=shadows,
            route_key=route_key,
            options=options,
            reason=reason,
        )
    )
    show(d, as_json)


@app.command("list")
def list_deployments(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every deployment and its routes."""
    found = state(ctx).workspace().deployments.list_deployments()
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    table = Table("endpoint", "primary", "canary", "shadows", "revision", "updated by", title="Deployments")
    for d in found:
        canary = f"{d.canary} ({d.canary_weight:g} %)" if d.canary else ""
        shadows = ", ".join(f"{s.ref} ({s.percent:g} %)" for s in d.shadows)
        table.add_row(d.endpoint, d.primary, canary, shadows, str(d.revision), d.updated_by)
    console.print(table)


@app.command("scale")
def scale(
    ctx: typer.Context,
    endpoint: str,
    min_replicas: Annotated[
        int | None, typer.Option("--min", help="Fewest replicas (0 lets Ray scale to zero).")
    ] = None,
    max_replicas: Annotated[int | None, typer.Option("--max", help="Most replicas.")] = None,
    target: Annotated[
        float | None, typer.Option(help="Requests in flight per replica that Ray aims at (target_ongoing_requests).")
    ] = None,
    upscale_delay: Annotated[float | None, typer.Option(help="Seconds of sustained load before adding one.")] = None,
    downscale_delay: Annotated[float | None, typer.Option(help="Seconds of quiet before removing one.")] = None,
    cpus: Annotated[float | None, typer.Option(help="CPUs reserved for each replica.")] = None,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Set how many replicas serve an endpoint on Ray (`weir serve --engine ray`); a new revision."""
    given = {
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_ongoing_requests": target,
        "upscale_delay_s": upscale_delay,
        "downscale_delay_s": downscale_delay,
        "replica_cpus": cpus,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise typer.BadParameter(
            "Give at least one of --min, --max, --target, --upscale-delay, --downscale-delay, --cpus."
        )
    show(state(ctx).workspace().deployments.set_options(endpoint, changes, reason=reason), as_json)


@app.command("show")
def show_deployment(ctx: typer.Context, endpoint: str, as_json: JsonOption = False) -> None:
    """One deployment's routes."""
    show(state(ctx).workspace().deployments.get(endpoint), as_json)


@app.command("history")
def history(ctx: typer.Context, endpoint: str, as_json: JsonOption = False) -> None:
    """Every change of a deployment, oldest first."""
    changes = state(ctx).workspace().deployments.history(endpoint)
    if as_json:
        print_json([c.to_dict() for c in changes])
        return
    table = Table("revision", "action", "primary", "canary", "when", "by", "reason", title=f"History of {endpoint}")
    for c in changes:
        config = c.config or {}
        canary = f"{config.get('canary')} ({config.get('canary_weight', 0):g} %)" if config.get("canary") else ""
        table.add_row(
            str(c.revision),
            c.action,
            config.get("primary", "-"),
            canary,
            f"{c.changed_at:%Y-%m-%d %H:%M:%S}",
            c.changed_by,
            c.reason,
        )
    console.print(table)


@app.command("set-canary")
def set_canary(
    ctx: typer.Context,
    endpoint: str,
    ref: Annotated[str, typer.Argument(help="The canary version, or 'none' to remove it.")],
    weight: Annotated[float, typer.Option(help="Percent of traffic.")] = 10.0,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Send a share of an endpoint's traffic to a canary version."""
    deps = state(ctx).workspace().deployments
    show(deps.set_canary(endpoint, None if ref == "none" else ref, weight, reason=reason), as_json)


@app.command("set-shadow")
def set_shadow(
    ctx: typer.Context,
    endpoint: str,
    ref: str,
    percent: Annotated[float, typer.Option(help="Percent of requests mirrored; 0 removes the shadow.")] = 100.0,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Mirror requests to a shadow version (its answers are logged, never returned)."""
    show(state(ctx).workspace().deployments.set_shadow(endpoint, ref, percent, reason=reason), as_json)


@app.command("promote")
def promote(ctx: typer.Context, endpoint: str, reason: ReasonOption = "", as_json: JsonOption = False) -> None:
    """Make the canary the primary (moving the primary's alias when it follows one)."""
    show(state(ctx).workspace().deployments.promote(endpoint, reason=reason), as_json)


@app.command("rollback")
def rollback(ctx: typer.Context, endpoint: str, reason: ReasonOption = "", as_json: JsonOption = False) -> None:
    """Drop the canary; without one, restore the previous revision (and move back a promoted alias)."""
    show(state(ctx).workspace().deployments.rollback(endpoint, reason=reason), as_json)


@app.command("delete")
def delete(ctx: typer.Context, endpoint: str, reason: ReasonOption = "") -> None:
    """Stop serving an endpoint (its history stays)."""
    state(ctx).workspace().deployments.delete(endpoint, reason=reason)
    console.print(f"deleted deployment {endpoint}")


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="predict, read, deploy or admin; repeat for more.")],
    expires_in_days: Annotated[float | None, typer.Option(help="Lifetime in days; none by default.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token; its secret is printed once and never stored."""
    expires = timedelta(days=expires_in_days) if expires_in_days else None
    token, secret = state(ctx).workspace().tokens.create(name, scope, expires_in=expires)
    if as_json:
        print_json({**token.to_dict(), "token": secret})
        return
    console.print(f"token {name} ({', '.join(token.scopes)}); keep it now, it is not shown again:")
    typer.echo(secret)


@tokens_app.command("list")
def list_tokens(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every token (never the secret)."""
    found = state(ctx).workspace().tokens.list_tokens()
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    table = Table("name", "scopes", "created", "by", "expires", "active", title="API tokens")
    for t in found:
        expires = f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never"
        table.add_row(
            t.name,
            ", ".join(t.scopes),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            t.created_by,
            expires,
            "yes" if t.active() else "no",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(ctx: typer.Context, name: str) -> None:
    """Revoke a token; servers refuse it within a second."""
    state(ctx).workspace().tokens.revoke(name)
    console.print(f"revoked token {name}")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (WEIR_HOST); loopback by default.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WEIR_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).")] = 1,
    allow_unauthenticated: Annotated[
        bool, typer.Option(help="Listen beyond loopback without tokens (only behind an authenticating proxy).")
    ] = False,
    engine: Annotated[
        str, typer.Option(help="embedded (this process) or ray (one Ray Serve application per endpoint).")
    ] = "embedded",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray (e.g. 127.0.0.1:6379); local if unset.")
    ] = None,
) -> None:
    """Run the server: every deployment (V2, MLflow, JSON), the control plane, the dashboard (/ui), /metrics.

    With --engine ray, each endpoint runs on Ray Serve at /{endpoint}/… on Ray's HTTP proxy (host and port
    as for the embedded server), with replicas scaled by the deployment's options (weir deployments scale)."""
    cli = state(ctx)
    cli.overrides.update({"host": host, "port": port})
    cli._settings = None
    if engine != "ray" and address is not None:
        raise typer.BadParameter("--address is for --engine ray.", param_hint="--address")
    if engine == "ray" and workers != 1:
        raise typer.BadParameter(
            "Ray scales replicas itself: set them with `weir deployments scale`.", param_hint="--workers"
        )
    cli.workspace().serve(workers=workers, allow_unauthenticated=allow_unauthenticated, engine=engine, address=address)


def ui(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (WEIR_HOST); loopback by default.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WEIR_PORT).")] = None,
) -> None:
    """Run the server and print the dashboard's address (the same server as `weir serve`)."""
    cli = state(ctx)
    cli.overrides.update({"host": host, "port": port})
    cli._settings = None
    settings = cli.settings
    console.print(f"dashboard: {base_url(settings)}/ui/ (Ctrl-C stops it)")
    cli.workspace().serve()
