"""Vault throughput: upload and download MB/s through the API against the filesystem store.

    python -m bench.vault [--sizes 1,50] [--repeat 5]

For each size (MiB) it uploads a PNG-signed file with ``POST /api/v1/vault/files`` (multipart, streamed:
checked, hashed, encrypted in 1 MiB AES-256-GCM segments, written under a temporary ``var/``), then
downloads it with ``GET /api/v1/vault/files/{id}`` (decrypted as it streams) and checks the bytes. The
client is httpx over ASGI in the same process (no sockets: the figure is the application's work, not the
network's). Beside each figure: a plain file copy of the same size on the same disk (``shutil.copyfile``
after writing the source), and the ratio API / copy. Medians of ``--repeat`` runs. No assertion on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


async def _migrate(url: str) -> None:
    from alembic import command

    from backend.cli import alembic_config

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


def _copy_mb_s(directory: Path, data: bytes, repeat: int) -> float:
    source, target = directory / "copy-source.bin", directory / "copy-target.bin"
    source.write_bytes(data)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        shutil.copyfile(source, target)
        with target.open("rb+") as handle:
            os.fsync(handle.fileno())  # the vault's store fsyncs each object: compare like with like
        rates.append(len(data) / MIB / (time.perf_counter() - started))
        target.unlink()
    source.unlink()
    return statistics.median(rates)


async def _run(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    import httpx

    from backend.app import create_app
    from backend.core.context import ActorKind, Channel
    from backend.identity import tokens
    from backend.identity.models import Patient
    from backend.identity.policy import ALL_PATIENT_SCOPES
    from backend.runtime import Runtime
    from backend.settings import load_settings

    rows = []
    with tempfile.TemporaryDirectory(prefix="mz-bench-vault-") as tmp:
        root = Path(tmp)
        url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
        await _migrate(url)
        settings = load_settings(
            profile="test",
            database_url=url,
            var_dir=root / "var",
            log_level="WARNING",
            vault_max_file_bytes=(max(sizes) + 1) * MIB,
            vault_quota_bytes=(max(sizes) + 1) * MIB * (repeat + 1),
        )
        runtime = Runtime.build(settings)
        try:
            patient = Patient(
                last_name="Нагрузочная", first_name="Вера", birth_date=date(1980, 1, 1), sex="F", snils=None
            )
            async with runtime.sessionmaker() as session, session.begin():
                session.add(patient)
            token, _ = tokens.issue_access_token(
                runtime,
                subject=str(patient.id),
                kind=ActorKind.PATIENT,
                channel=Channel.MOBILE,
                scopes=ALL_PATIENT_SCOPES,
            )
            headers = {"Authorization": f"Bearer {token}"}
            app = create_app(runtime=runtime)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                for size in sizes:
                    data = b"\x89PNG\r\n\x1a\n" + os.urandom(size * MIB - 8)
                    up, down = [], []
                    for _ in range(repeat):
                        started = time.perf_counter()
                        answer = await client.post(
                            "/api/v1/vault/files",
                            data={"folder": "images", "title": "bench"},
                            files={"file": ("bench.png", data, "image/png")},
                            headers=headers,
                        )
                        up.append(size / (time.perf_counter() - started))
                        if answer.status_code != 201:
                            raise RuntimeError(f"upload refused: {answer.text}")
                        file_id = answer.json()["id"]
                        started = time.perf_counter()
                        got = await client.get(f"/api/v1/vault/files/{file_id}", headers=headers)
                        down.append(size / (time.perf_counter() - started))
                        if got.content != data:
                            raise RuntimeError("downloaded bytes differ")
                    copy = _copy_mb_s(root, data, repeat)
                    rows.append(
                        {
                            "size_mib": size,
                            "upload_mb_s": statistics.median(up),
                            "download_mb_s": statistics.median(down),
                            "copy_mb_s": copy,
                        }
                    )
        finally:
            await runtime.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,50", help="file sizes in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv or [])
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = asyncio.run(_run(sizes, args.repeat))
    print("vault (filesystem store, API over ASGI): MiB/s, median of", args.repeat, "runs", flush=True)
    for row in rows:
        copy, up, down = row["copy_mb_s"], row["upload_mb_s"], row["download_mb_s"]
        print(
            f"  {row['size_mib']:>3} MiB  upload {up:7.1f}  download {down:7.1f}  plain copy {copy:7.1f}"
            f"  ratio up {up / copy:5.2f} down {down / copy:5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
