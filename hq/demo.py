"""`hq demo`: a serving console with demo data on the embedded defaults, from nothing.

Migrates an SQLite database, loads the directory, creates one principal per role
(tokens kept in the demo folder so a re-run reuses them), imports the synthetic dataset
(hq/demo_data.py, including the worked example) and serves on 127.0.0.1. Every step is
idempotent: running it twice gives the same state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from hq.settings import load_settings

ROLES: list[tuple[str, str, dict[str, str]]] = [
    ("analyst", "hq_analyst", {}),
    ("admin", "admin", {}),
    ("prosecutor", "prosecutor", {}),
    ("officer_atyrau", "regional_officer", {"unit_id": "kz-23-k"}),
    ("officer_turkistan", "regional_officer", {"unit_id": "kz-61-k"}),
    ("liaison_kaspi", "liaison", {"org_id": "kaspi"}),
    ("liaison_forte", "liaison", {"org_id": "forte"}),
]


def first_query(card: str) -> str:
    return (
        "query FindTheWorkedExample {\n"
        f'  identifier(kind: "card", value: "{card}") {{\n'
        "    known caseCount regions { count region { code nameEn } }\n"
        "    multiEpisodeCases { id size regionCount damageKzt status }\n"
        "  }\n"
        "}"
    )


async def _setup(url: str, pepper: bytes, folder: Path) -> dict[str, str]:
    from alembic import command

    from hq.auth import authenticate, create_principal
    from hq.db import alembic_config, make_engine, make_sessionmaker
    from hq.demo_data import write_jsonl
    from hq.directory_sync import load_directory_into_db
    from hq.importer import import_files
    from regions import load_directory

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions.begin() as s:
            await load_directory_into_db(s, load_directory())
        token_file = folder / "tokens.json"
        tokens: dict[str, str] = json.loads(token_file.read_text()) if token_file.exists() else {}
        async with sessions.begin() as s:
            for name, role, bound in ROLES:
                if name in tokens and await authenticate(s, tokens[name], pepper) is not None:
                    continue
                _, tokens[name] = await create_principal(s, name=f"demo {name}", role=role, pepper=pepper, **bound)
        token_file.write_text(json.dumps(tokens, indent=2))
        os.chmod(token_file, 0o600)
        data = folder / "demo-cases.jsonl"
        write_jsonl(data)
        report = await import_files(sessions, [data], load_directory(), pepper)
        print(f"demo data {data}: {report.summary()}")
        for err in report.errors[:5]:
            print(f"  rejected {err}")
    finally:
        await engine.dispose()
    return tokens


def run_demo(args: argparse.Namespace) -> int:
    from hq.demo_data import WORKED_EXAMPLE

    folder = Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{folder / 'hq.db'}"
    settings = load_settings(database_url=url, port=args.port)
    tokens = asyncio.run(_setup(url, settings.pepper, folder))
    graphql_url = f"http://{settings.host}:{settings.port}/graphql"
    print("\nTokens (also in", folder / "tokens.json", "):")
    for name, token in tokens.items():
        print(f"  {name:18} {token}")
    card = WORKED_EXAMPLE["cards"][0]
    print(f"\nGraphiQL console: {graphql_url}")
    print('Add the header {"Authorization": "Bearer <analyst token>"} in the console, then paste:\n')
    print(first_query(card))
    print(f"\nThe worked example's cards include {card!r}; its Turkistan case is "
          f"{WORKED_EXAMPLE['turkistan_registration_number']}.\n")
    if args.no_serve:
        return 0
    os.environ["HQ_DATABASE_URL"] = url
    ns = argparse.Namespace(host=settings.host, port=settings.port, database_url=url)
    from hq.cli import cmd_serve

    return cmd_serve(ns)
