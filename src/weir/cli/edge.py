"""``weir keys`` and ``weir edge``: signing keys, bundle export, signing, verification, device logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from weir.cli.context import console, err_console, print_json, state
from weir.errors import ValidationError

keys_app = typer.Typer(help="Ed25519 keys that sign edge bundles.", no_args_is_help=True)
app = typer.Typer(
    help="Export versions to signed ONNX bundles for devices, and bring their logs back.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@keys_app.command("create")
def create_keys(
    private: Annotated[Path, typer.Option("--private", help="Where to write the private key (PEM, mode 600).")],
    public: Annotated[Path, typer.Option("--public", help="Where to write the public key (PEM).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing key files.")] = False,
) -> None:
    """Create an Ed25519 key pair: the private key signs bundles, devices hold the public key."""
    from weir.edge import create_keys as create
    from weir.edge import fingerprint, load_public_key

    create(private, public, overwrite=overwrite)
    console.print(
        f"keys written: {private} (keep it secret), {public} (fingerprint {fingerprint(load_public_key(public))})"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version: MODEL/VERSION or MODEL@ALIAS.")],
    out: Annotated[Path, typer.Option(help="The bundle folder to create.")],
    optimize: Annotated[bool, typer.Option("--optimize", help="Save onnxruntime's optimised graph.")] = False,
    quantize: Annotated[str, typer.Option(help="none, dynamic-int8 or static-int8.")] = "none",
    calibration: Annotated[
        Path | None, typer.Option(help="Rows (Parquet or CSV) to calibrate static-int8 and to check on.")
    ] = None,
    sign: Annotated[Path | None, typer.Option("--sign", help="Sign with this private key.")] = None,
    atol: Annotated[float | None, typer.Option(help="Largest allowed difference of outputs.")] = None,
    min_agreement: Annotated[float | None, typer.Option(help="Smallest allowed share of equal labels.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Convert to ONNX, optimise and quantise if asked, check equivalence, write (and sign) the bundle."""
    import pandas as pd

    from weir.edge.export import export_version

    rows = None
    if calibration is not None:
        if not calibration.is_file():
            raise ValidationError(f"Calibration file {calibration} does not exist.", field="calibration")
        suffix = calibration.suffix.lower()
        rows = pd.read_parquet(calibration) if suffix in (".parquet", ".pq") else pd.read_csv(calibration)
    ws = state(ctx).workspace()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        bar.add_task(f"exporting {ref}: convert, check, write", total=None)
        result = export_version(
            ws.models,
            ref,
            out,
            optimize=optimize,
            quantize=quantize,
            calibration=rows,
            private_key=sign,
            atol=atol,
            min_agreement=min_agreement,
        )
    if as_json:
        print_json({"folder": str(result.folder), "figures": result.figures})
        return
    f = result.figures
    table = Table("figure", "value", title=f"{result.manifest.model_ref} → {result.folder}")
    for name, value in (
        ("conversion", f["strategy"]),
        ("input dtype", f["dtype"]),
        ("quantization", f["quantization"]),
        ("size registered → bundle", f"{f['size_registered_bytes']:,} → {f['size_bundle_bytes']:,} bytes"),
        ("max |Δ| on check rows", f"{f['max_abs_diff']:.3g} (tolerance {f['atol']:g}, {f['rows']} rows)"),
        ("labels agree", f"{f['label_agreement']:.2%}"),
        ("signed", "yes" if sign else "no: `weir edge sign`"),
    ):
        table.add_row(name, str(value))
    console.print(table)


@app.command("sign")
def sign_bundle(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder.")],
    private_key: Annotated[Path, typer.Option(help="The private key (PEM).")],
) -> None:
    """Sign (or re-sign) a bundle's manifest."""
    from weir.edge import sign_bundle as sign

    manifest = sign(bundle, private_key)
    console.print(f"signed {bundle} ({manifest.model_ref})")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder.")],
    public_key: Annotated[Path, typer.Option(help="The public key (PEM).")],
    as_json: JsonOption = False,
) -> None:
    """Check the signature and every file's SHA-256; refuse any change, missing, extra or linked file."""
    from weir.edge import verify_bundle

    manifest = verify_bundle(bundle, public_key)
    if as_json:
        print_json(manifest.to_dict())
        return
    console.print(
        f"[green]verified[/]: {bundle} holds {manifest.model_ref}, {len(manifest.files)} file(s), "
        f"quantization {manifest.quantization}"
    )


@app.command("import-log")
def import_log(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The device's encrypted log folder.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint name its predictions are logged under.")],
    key: Annotated[Path | None, typer.Option(help="The file holding the log key.")] = None,
    key_env: Annotated[
        str | None, typer.Option(help="Or: the environment variable holding the key's base64 text.")
    ] = None,
    device: Annotated[str, typer.Option(help="A name for the device (prefix of the request ids).")] = "edge",
) -> None:
    """Decrypt a device's prediction log and append what is new to the central prediction log (for monitors)."""
    from weir.edge import load_log_key, log_key_from_env
    from weir.edge.importer import import_edge_log
    from weir.errors import NotFoundError
    from weir.store import PredictionLog

    if (key is None) == (key_env is None):
        raise ValidationError("Give the log key with exactly one of --key FILE or --key-env NAME.", field="key")
    secret = load_log_key(key) if key is not None else log_key_from_env(str(key_env))
    ws = state(ctx).workspace()

    def classes(model: str, version: int) -> list[object] | None:
        try:
            exports = [r for r in ws.models.validations(f"{model}/{version}") if r.name == "edge-export"]
        except NotFoundError:
            return None
        return exports[-1].evidence.get("outputs", {}).get("classes") if exports else None

    log = PredictionLog(ws.settings.prediction_log)
    count = import_edge_log(log, folder, secret, endpoint=endpoint, device=device, classes=classes)
    console.print(f"imported {count} new predictions from {folder} into endpoint {endpoint}")
