"""The `hq` command line: serve, migrate, load the directory, manage tokens, import, demo.

Each sub-command is a small function over the same settings the server uses, so the CLI
and the service can never disagree about which database they talk to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from hq.settings import Settings, SettingsError, configure_logging, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return load_settings(**overrides)


# --- db ---------------------------------------------------------------------------------

def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from alembic import command

    from hq.db import alembic_config

    settings = _settings(args)
    command.upgrade(alembic_config(settings.database_url), args.revision)
    print(f"database at {args.revision}: {_safe_url(settings.database_url)}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from hq.db import SchemaBehind, check_schema, make_engine

    settings = _settings(args)

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            await check_schema(engine)
            print("database schema is up to date")
            return 0
        except SchemaBehind as exc:
            print(str(exc), file=sys.stderr)
            return 1
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- directory ----------------------------------------------------------------------------

def cmd_directory_load(args: argparse.Namespace) -> int:
    from hq.directory_sync import load_directory_into_db
    from regions import load_directory

    settings = _settings(args)

    async def run() -> int:
        async with _database(settings) as sessions:
            async with sessions.begin() as s:
                counts = await load_directory_into_db(s, load_directory())
        print(f"directory loaded: {counts.regions} regions, {counts.units} units, "
              f"{counts.organisations} organisations")
        return 0

    return asyncio.run(run())


def cmd_directory_list(args: argparse.Namespace) -> int:
    from regions import load_directory

    d = load_directory()
    if args.what == "regions":
        for r in d.regions:
            print(f"{r.code:7} {r.name_en:28} {' '.join(r.aliases)}")
    elif args.what == "units":
        for u in d.units:
            if args.region and u.region_code != d.region(args.region).code:
                continue
            print(f"{u.id:32} {u.kind:18} {u.region_code or '':7} {u.name_en}")
    else:
        for o in d.organisations:
            print(f"{o.id:24} {o.kind:18} {o.name}")
    return 0


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Any]:
    """Sessions on the configured database, refusing a schema that is behind."""
    engine, sessions = await _open(settings)
    try:
        yield sessions
    finally:
        await engine.dispose()


async def _open(settings: Settings):  # type: ignore[no-untyped-def]
    from hq.db import check_schema, make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    await check_schema(engine)
    return engine, make_sessionmaker(engine)


# --- principals ---------------------------------------------------------------------------

def cmd_principals_create(args: argparse.Namespace) -> int:
    from hq.auth import PrincipalError, create_principal

    settings = _settings(args)

    async def run() -> int:
        engine, sessions = await _open(settings)
        expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=args.expires_days)
                   if args.expires_days else None)
        try:
            async with sessions.begin() as s:
                p, token = await create_principal(
                    s, name=args.name or args.role, role=args.role, pepper=settings.pepper,
                    unit_id=args.unit, org_id=args.org, expires_at=expires,
                )
                pid = p.id
        except PrincipalError as exc:
            print(f"error: --{exc.field}: {exc.reason}", file=sys.stderr)
            return 2
        finally:
            await engine.dispose()
        print(f"principal {pid} ({args.role}) created; token (shown once):")
        print(token)
        return 0

    return asyncio.run(run())


def cmd_principals_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hq.models import Principal

    settings = _settings(args)

    async def run() -> int:
        async with _database(settings) as sessions:
            async with sessions() as s:
                rows = (await s.execute(select(Principal).order_by(Principal.id))).scalars().all()
                for p in rows:
                    state = "revoked" if p.revoked_at else "active"
                    bound = p.unit_id or p.org_id or ""
                    print(f"{p.id:5} {p.role:17} {bound:28} {state:8} {p.name}")
        return 0

    return asyncio.run(run())


def cmd_principals_revoke(args: argparse.Namespace) -> int:
    from hq.auth import revoke_principal

    settings = _settings(args)

    async def run() -> int:
        async with _database(settings) as sessions:
            async with sessions.begin() as s:
                done = await revoke_principal(s, args.id)
        print(f"principal {args.id} revoked" if done else f"principal {args.id}: not found or already revoked")
        return 0 if done else 1

    return asyncio.run(run())


def cmd_principals_rotate(args: argparse.Namespace) -> int:
    from hq.auth import rotate_principal

    settings = _settings(args)
    grace = settings.token_rotation_grace if args.grace is None else args.grace

    async def run() -> int:
        engine, sessions = await _open(settings)
        expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=args.expires_days)
                   if args.expires_days else None)
        try:
            async with sessions.begin() as s:
                token = await rotate_principal(s, args.id, settings.pepper, grace_seconds=grace, expires_at=expires)
        finally:
            await engine.dispose()
        if token is None:
            print(f"principal {args.id}: not found or revoked", file=sys.stderr)
            return 1
        print(f"principal {args.id} rotated; the old token stops working in {grace:g} s; new token (shown once):")
        print(token)
        return 0

    return asyncio.run(run())


# --- audit --------------------------------------------------------------------------------

def cmd_audit_verify(args: argparse.Namespace) -> int:
    from hq.audit.verify import verify_chain

    settings = _settings(args)

    async def run() -> int:
        async with _database(settings) as sessions:
            report = await verify_chain(sessions)
        for problem in report.problems:
            print(f"BROKEN {problem}")
        state = "intact" if report.ok else f"BROKEN ({len(report.problems)} problems)"
        print(f"audit chain {state}: {report.entries} entries, head {report.head_hash}")
        return 0 if report.ok else 1

    return asyncio.run(run())


# --- import -------------------------------------------------------------------------------

def cmd_import(args: argparse.Namespace) -> int:
    from hq.importer import import_files
    from regions import load_directory

    settings = _settings(args)
    paths = [Path(p) for p in args.files]
    for p in paths:
        if not p.is_file():
            print(f"error: {p}: {'a directory, not a file' if p.is_dir() else 'no such file'}", file=sys.stderr)
            return 2

    async def run() -> int:
        engine, sessions = await _open(settings)
        broker = None
        if settings.redis_url:  # let analysts watching on any instance see new episodes live
            from hq.console import notify
            from realtime import make_broker

            broker = make_broker(settings.redis_url, prefix=settings.redis_prefix)
            await broker.start()
            notify.use_broker(broker)
        try:
            progress = not args.no_progress and sys.stderr.isatty()
            if args.bulk:
                from hq.bulk_import import bulk_import

                report = await bulk_import(engine, sessions, paths, settings.pepper,
                                           hub_threshold=settings.hub_threshold, workers=args.workers)
            else:
                report = await import_files(sessions, paths, load_directory(), settings.pepper,
                                            batch_size=args.batch_size or settings.import_batch_size,
                                            progress=progress)
        finally:
            if broker is not None:
                await asyncio.sleep(0.2)  # let after-commit announcements go out
                await broker.stop()
            await engine.dispose()
        for err in report.errors[: args.max_errors]:
            print(f"rejected {err}", file=sys.stderr)
        if len(report.errors) > args.max_errors:
            print(f"... and {len(report.errors) - args.max_errors} more rejected lines", file=sys.stderr)
        print(report.summary())
        return 0 if not report.errors else 1

    return asyncio.run(run())


# --- serve, schema, settings, demo ----------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hq.app import create_app

    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    settings = load_settings(**overrides)
    configure_logging(settings)
    from hq.db import SchemaBehind, check_schema, make_engine

    async def guard() -> None:
        engine = make_engine(settings.database_url)
        try:
            await check_schema(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(guard())
    except SchemaBehind as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app = create_app(settings)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                    ws_max_size=settings.ws_max_message_bytes,
                    ws="websockets")
    except RuntimeError as exc:  # schema guard and similar start-up refusals
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_schema_export(args: argparse.Namespace) -> int:
    from hq.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.out == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.out).write_text(sdl, encoding="utf-8")
        print(f"schema written to {args.out}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if name == "token_pepper":
            value = "(set)" if value else "(empty)"
        print(f"HQ_{name.upper():22} = {value!s:40} {info.description or ''}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hq.demo import run_demo

    return run_demo(args)


def cmd_agent(args: argparse.Namespace) -> int:
    from hq.agent import main as agent_main

    return agent_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hq", description="HQ: the cyber-police coordination platform")
    p.add_argument("--database-url", help="override HQ_DATABASE_URL")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP/GraphQL/websocket server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate the database to the code's schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    db.add_parser("current", help="exit 0 if the schema is current").set_defaults(func=cmd_db_current)

    d = sub.add_parser("directory", help="regions, units, organisations").add_subparsers(dest="dir_command", required=True)
    d.add_parser("load", help="load regions/data into the database").set_defaults(func=cmd_directory_load)
    for what in ("regions", "units", "orgs"):
        lp = d.add_parser(what, help=f"list {what}")
        lp.set_defaults(func=cmd_directory_list, what=what)
        if what == "units":
            lp.add_argument("--region")

    pr = sub.add_parser("principals", help="API tokens").add_subparsers(dest="pr_command", required=True)
    c = pr.add_parser("create", help="create a principal and print its token once")
    c.add_argument("--role", required=True,
                   choices=["hq_analyst", "regional_officer", "liaison", "prosecutor", "admin"])
    c.add_argument("--name")
    c.add_argument("--unit", help="unit id (regional_officer)")
    c.add_argument("--org", help="organisation id (liaison)")
    c.add_argument("--expires-days", type=int, default=0, help="token lifetime; 0 = no expiry")
    c.set_defaults(func=cmd_principals_create)
    pr.add_parser("list").set_defaults(func=cmd_principals_list)
    rv = pr.add_parser("revoke")
    rv.add_argument("id", type=int)
    rv.set_defaults(func=cmd_principals_revoke)
    ro = pr.add_parser("rotate", help="give a principal a new token; the old one works for a grace period")
    ro.add_argument("id", type=int)
    ro.add_argument("--grace", type=float, help="seconds the old token keeps working (default HQ_TOKEN_ROTATION_GRACE)")
    ro.add_argument("--expires-days", type=int, default=0, help="new token lifetime; 0 = keep the current expiry")
    ro.set_defaults(func=cmd_principals_rotate)

    au = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_command", required=True)
    au.add_parser("verify", help="check the hash chain; exit 1 and say where if it was broken").set_defaults(
        func=cmd_audit_verify)

    im = sub.add_parser("import", help="import regional case exports (JSON Lines)")
    im.add_argument("files", nargs="+")
    im.add_argument("--batch-size", type=int, default=0)
    im.add_argument("--no-progress", action="store_true")
    im.add_argument("--bulk", action="store_true",
                    help="bulk path for large backlogs: parallel validation, bulk writes, one full relink")
    im.add_argument("--workers", type=int, default=2, help="validation processes for --bulk")
    im.add_argument("--max-errors", type=int, default=50, help="rejected lines to print")
    im.set_defaults(func=cmd_import)

    sc = sub.add_parser("schema", help="GraphQL schema").add_subparsers(dest="sc_command", required=True)
    ex = sc.add_parser("export", help="write the SDL")
    ex.add_argument("--out", default=str(REPO_ROOT / "graphql" / "schema.graphql"))
    ex.set_defaults(func=cmd_schema_export)

    sub.add_parser("settings", help="print the effective settings").set_defaults(func=cmd_settings)

    ag = sub.add_parser("agent", help="regional client: print, acknowledge and record a unit's tasks live")
    from hq.agent import add_arguments as _agent_arguments

    _agent_arguments(ag)
    ag.set_defaults(func=cmd_agent)

    dm = sub.add_parser("demo", help="migrate, load directory, tokens and demo data into SQLite, then serve")
    dm.add_argument("--dir", default=".demo", help="where the demo database and tokens go")
    dm.add_argument("--no-serve", action="store_true")
    dm.add_argument("--port", type=int, default=8000)
    dm.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"error: {exc.code}", file=sys.stderr)
        return 2
    except Exception as exc:
        from hq.db import SchemaBehind

        if isinstance(exc, SchemaBehind):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
