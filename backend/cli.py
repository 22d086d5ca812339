"""``moe-zdorovye``: serve, worker, beat, migrate, seed-demo, export-contracts."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from granian.constants import Interfaces
from granian.server import Server
from rich.progress import Progress

from backend.contracts import render_contracts, stale_contracts
from backend.demo import seed_demo_region
from backend.demo.ambulance import call_103
from backend.logging import configure_logging
from backend.runtime import Runtime
from backend.settings import ConfigError, Settings, get_settings
from backend.vault import service as vault_service
from backend.vault.crypto import KeyRing
from backend.worker import celery_app

ROOT = Path(__file__).resolve().parent.parent
app = typer.Typer(help="«Мое здоровье» patient backend.", no_args_is_help=True, add_completion=False)


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def alembic_config(url: str | None = None) -> object:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision (head, base, or an id).")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision instead.")] = False,
) -> None:
    """Bring the database schema to a revision (upgrade by default)."""
    settings = _settings()
    config = alembic_config(settings.database_url)
    if down:
        command.downgrade(config, revision)  # type: ignore[arg-type]
    else:
        command.upgrade(config, revision)  # type: ignore[arg-type]
    typer.echo(f"database at {revision} ({settings.database_url.split('://', 1)[0]})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the API with Granian."""
    settings = _settings()
    host, port = host or settings.host, port or settings.port
    typer.echo(f"«Мое здоровье» API on http://{host}:{port}/graphql (profile {settings.profile.value})")
    Server(
        target="backend.app:create_served_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=host,
        port=port,
        workers=workers or settings.workers,
        websockets=True,
        log_access=False,
    ).serve()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool (prefork, threads, solo).")] = "prefork",
) -> None:
    """Run a Celery worker (outbox dispatch, notifications, upstream retries)."""
    _settings()
    celery_app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", f"--pool={pool}"])


@app.command()
def beat() -> None:
    """Run Celery beat (periodic jobs). Run exactly one per deployment."""
    _settings()
    celery_app.start(["beat", "--loglevel=INFO"])


@app.command("seed-demo")
def seed_demo(
    scale: Annotated[str | None, typer.Option(help="small or full (default: MZ_DEMO_SCALE).")] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed (default: MZ_DEMO_SEED).")] = None,
) -> None:
    """Generate the demo region the simulators serve, and load what the project owns from them."""
    settings = _settings()
    configure_logging("WARNING", json=False)
    with Progress(transient=False) as progress:
        summary = asyncio.run(
            seed_demo_region(
                settings,
                scale=scale or settings.demo_scale,
                seed=seed if seed is not None else settings.demo_seed,
                progress=progress,
            )
        )
    typer.echo(json.dumps(summary, ensure_ascii=False))


@app.command("ambulance-call")
def ambulance_call(
    person: Annotated[int, typer.Option(help="The demo person who calls 103/112 (index, see seed-demo).")],
    for_child: Annotated[int | None, typer.Option(help="The demo child the call is for.")] = None,
    server: Annotated[str | None, typer.Option(help="The running server (default: MZ_PUBLIC_URL).")] = None,
) -> None:
    """Demo: a person calls 103/112; the running server's СМП simulator plays the call in real time."""
    settings = _settings()
    typer.echo(json.dumps(call_103(server or settings.public_url, person, for_child), ensure_ascii=False))


@app.command("vault-rewrap")
def vault_rewrap(
    everything: Annotated[
        bool, typer.Option("--all", help="Re-wrap every data key, not only those under an older key.")
    ] = False,
) -> None:
    """Re-wrap the vault's data keys under the active key-encryption key (the first of MZ_VAULT_KEYS).

    Rotation: put the new key first in MZ_VAULT_KEYS, keep the old one after it, run this, then drop the
    old key. The blobs are not touched."""
    settings = _settings()
    configure_logging("WARNING", json=False)

    async def run() -> int:
        runtime = Runtime.build(settings)
        try:
            return await vault_service.rewrap_all(runtime, everything=everything)
        finally:
            await runtime.close()

    count = asyncio.run(run())
    active = KeyRing.parse(settings.vault_keys).active_id if settings.vault_keys else "the local key"
    typer.echo(f"re-wrapped {count} data keys under {active}")


@app.command("export-contracts")
def export_contracts(
    check: Annotated[bool, typer.Option("--check", help="Fail if the committed files differ.")] = False,
) -> None:
    """Write graphql/schema.graphql and openapi/openapi.json from the code."""
    _settings()
    rendered = render_contracts()
    stale = stale_contracts(ROOT, rendered) if check else []
    if not check:
        for path, text in rendered.items():
            target = ROOT / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {path}")
    if stale:
        typer.echo(
            f"contracts differ from the code: {', '.join(stale)} (run `moe-zdorovye export-contracts`)",
            err=True,
        )
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
