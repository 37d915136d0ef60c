"""``weir models …``: list, show, versions, alias, history, audit, verify."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from weir.cli.context import console, err_console, print_json, state
from weir.errors import ArtifactNotFoundError, IntegrityError, ValidationError
from weir.registry import ModelVersion

app = typer.Typer(help="Browse and manage registered models.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every registered model with its newest version and aliases."""
    found = state(ctx).workspace().models.list_models()
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    table = Table("model", "latest", "aliases", "created", "by", title="Models")
    for m in found:
        aliases = ", ".join(f"{a}→{v}" for a, v in m.aliases.items())
        table.add_row(m.name, str(m.latest_version), aliases, _when(m.created_at), m.created_by)
    console.print(table)


@app.command("versions")
def versions(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """All versions of a model."""
    found = state(ctx).workspace().models.versions(name)
    if as_json:
        print_json([v.to_dict() for v in found])
        return
    console.print(versions_table(found, title=f"Versions of {name}"))


def versions_table(found: list[ModelVersion], title: str) -> Table:
    table = Table("version", "format", "aliases", "metrics", "data", "parent", "created", "by", title=title)
    for v in found:
        metrics = ", ".join(
            f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}" for k, val in v.metrics.items()
        )
        fingerprint = (v.lineage.get("data_fingerprint") or "")[7:19]
        parent = v.lineage.get("parent_version")
        table.add_row(
            str(v.version),
            v.format,
            ", ".join(v.aliases),
            metrics,
            fingerprint,
            "" if parent is None else str(parent),
            _when(v.created_at),
            v.created_by,
        )
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME/VERSION or NAME@ALIAS")],
    as_json: JsonOption = False,
) -> None:
    """One version in full: artifacts, signature, lineage, metrics, validations."""
    registry = state(ctx).workspace().models
    version = registry.get_version(ref)
    data = version.to_dict()
    data["validations"] = [r.to_dict() for r in registry.validations(version.ref)]
    if as_json:
        print_json(data)
        return
    table = Table("field", "value", title=version.ref, show_header=False)
    for key in ("format", "aliases", "created_at", "created_by", "description"):
        table.add_row(key, str(data[key]))
    for name, artifact in version.artifacts.items():
        table.add_row(f"artifact {name}", f"{artifact['path']}  sha256:{artifact['digest']}  {artifact['size']} B")
    table.add_row("signature", str(data["signature"]))
    for key in ("params", "metrics", "tags", "lineage"):
        table.add_row(key, str(data[key]))
    for record in data["validations"]:
        table.add_row(f"validation {record['name']}", f"passed={record['passed']} {record['metrics']}")
    console.print(table)


@app.command("alias")
def alias(
    ctx: typer.Context,
    name: str,
    alias: str,
    version: Annotated[str | None, typer.Argument(help="Version number (or another alias) to point at.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    """Point ALIAS of model NAME at VERSION (or remove it with --delete)."""
    registry = state(ctx).workspace().models
    if delete:
        move = registry.delete_alias(name, alias, reason=reason)
        console.print(f"{name}@{alias} removed (was version {move.previous_version})")
        return
    if version is None:
        raise ValidationError(f"Give the version for {name}@{alias}, e.g. `weir models alias {name} {alias} 3`.")
    move = registry.set_alias(name, alias, version, reason=reason)
    before = "nothing" if move.previous_version is None else f"version {move.previous_version}"
    console.print(f"{name}@{alias} → version {move.version} (was {before})")


@app.command("history")
def history(
    ctx: typer.Context,
    name: str,
    alias: Annotated[str | None, typer.Option(help="Only this alias.")] = None,
    at: Annotated[str | None, typer.Option(help="ISO time: which version the alias pointed to then.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every alias move of a model; with --alias and --at, the version at that time."""
    registry = state(ctx).workspace().models
    if at is not None:
        if alias is None:
            raise ValidationError("--at needs --alias: which alias to look up.")
        try:
            when = datetime.fromisoformat(at)
        except ValueError as exc:
            raise ValidationError(f"--at {at!r} is not an ISO time such as 2026-03-03T12:00:00Z.") from exc
        version = registry.alias_at(name, alias, when)
        if as_json:
            print_json({"model": name, "alias": alias, "at": when.isoformat(), "version": version})
        else:
            console.print(
                f"{name}@{alias} at {when.isoformat()}: " + ("no version" if version is None else f"version {version}")
            )
        return
    moves = registry.alias_history(name, alias)
    if as_json:
        print_json([m.to_dict() for m in moves])
        return
    table = Table("when", "alias", "from", "to", "by", "reason", title=f"Alias history of {name}")
    for m in moves:
        table.add_row(
            _when(m.moved_at),
            m.alias,
            str(m.previous_version or "-"),
            str(m.version or "removed"),
            m.moved_by,
            m.reason,
        )
    console.print(table)


@app.command("audit")
def audit(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only entries about this model.")] = None,
    limit: Annotated[int, typer.Option(help="Newest N entries.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The audit log: who changed what, when, before and after."""
    log = state(ctx).workspace().models.audit
    entries = log.entries(entity_prefix=f"model:{model}" if model else None, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table = Table("seq", "when", "actor", "action", "entity", "after", title="Audit log")
    for e in entries:
        table.add_row(str(e.seq), _when(e.at), e.actor, e.action, e.entity, str(e.after)[:80])
    console.print(table)


@app.command("verify")
def verify(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check the audit chain and every version's artifact digest; exit 1 on any problem."""
    ws = state(ctx).workspace()
    report = ws.models.audit.verify()
    problems = list(report.problems)
    all_versions = [v for m in ws.models.list_models() for v in ws.models.versions(m.name)]
    with Progress(console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task("verifying artifacts", total=len(all_versions))
        for version in all_versions:
            for name, artifact in version.artifacts.items():
                try:
                    ws.artifacts.verify(artifact["digest"])
                except (IntegrityError, ArtifactNotFoundError) as exc:
                    problems.append(f"{version.ref} artifact {name}: {exc.message}")
            progress.advance(task)
    if as_json:
        print_json(
            {**report.to_dict(), "ok": not problems, "problems": problems, "versions_checked": len(all_versions)}
        )
    elif problems:
        for problem in problems:
            err_console.print(f"[red]✗[/red] {problem}", highlight=False)
    else:
        console.print(
            f"[green]✓[/green] audit chain intact ({report.entries} entries, head {report.head_hash[:16]}…); "
            f"{len(all_versions)} version artifacts verified"
        )
    if problems:
        raise typer.Exit(1)


@app.command("gc")
def gc(
    ctx: typer.Context,
    older_than: Annotated[float, typer.Option(help="Keep blobs younger than this many seconds.")] = 3600,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")] = False,
) -> None:
    """Remove artifact blobs that no version refers to (left by failed registrations)."""
    removed = state(ctx).workspace().models.collect_garbage(older_than=older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(removed)} unreferenced artifact(s)")
    for digest in removed:
        console.print(f"  sha256:{digest}")
