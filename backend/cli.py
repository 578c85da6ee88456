"""`genflow`: a thin command line that gathers options and calls what the tests call.

genflow up                      API + web UI (+ Slack bot with tokens), embedded defaults
genflow serve                   the API server alone
genflow worker [--concurrency N]   run jobs (GENFLOW_QUEUE=procrastinate)
genflow run FLOW key=value...   start a job and follow it in the terminal
    [--reviewer NAME]... [--review-timeout S] [--on-timeout ACTION]   its review terms
genflow user add NAME [--admin] [--password-stdin] | list | remove NAME | passwd NAME
genflow token create --sub NAME [--admin] [--ttl 30d] | list [--all] | revoke ID
genflow migrate                 apply database migrations
genflow ui                      the web chat alone
genflow slack                   the Slack bot (see docs/slack.md)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from backend import cli_people, event_loop, gc_tuning
from backend.settings import Settings, redacted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="genflow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    for name, text in (
        ("up", "run GenFlow on this machine with the embedded defaults"),
        ("serve", "run the API server"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", help="bind address (GENFLOW_HOST)")
        sub.add_argument("--port", type=int, help="port (GENFLOW_PORT)")

    run = commands.add_parser("run", help="start a job and follow it")
    run.add_argument("flow")
    run.add_argument(
        "inputs",
        nargs="*",
        metavar="key=value",
        help="input fields; values are JSON when they parse as JSON, else text",
    )
    run.add_argument("--no-wait", action="store_true", help="print the job id and return")
    add_review_terms(run)

    session = commands.add_parser(
        "session", help="make an article in stages (a GenFlow session), step by step"
    )
    session.add_argument("subject", nargs="?", help="a category or topic to start from")

    workflow = commands.add_parser("workflow", help="generate and run pilot workflows")
    workflow_commands = workflow.add_subparsers(dest="workflow_command", required=True)
    drafted = workflow_commands.add_parser("generate", help="a workflow from a request")
    drafted.add_argument("prompt", help='what it should do, e.g. "summarise meeting notes"')
    drafted.add_argument("--mermaid", action="store_true", help="print its Mermaid diagram")
    ran = workflow_commands.add_parser("run", help="run a stored workflow and follow it")
    ran.add_argument("workflow_id")
    ran.add_argument(
        "inputs", nargs="*", metavar="key=value", help="input_data fields (JSON or text)"
    )
    add_review_terms(ran)

    cli_people.add_commands(commands)  # user …, token …

    worker = commands.add_parser(
        "worker", help="run jobs from the queue (GENFLOW_QUEUE=procrastinate, PostgreSQL)"
    )
    worker.add_argument(
        "--concurrency", type=int, help="jobs at once (GENFLOW_WORKER_CONCURRENCY, default 32)"
    )

    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser(
        "slack", help="run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP mode)"
    )
    ui = commands.add_parser("ui", help="run the web chat (GENFLOW_UI_PORT, default 7860)")
    ui.add_argument("--host", help="bind address (GENFLOW_HOST)")
    ui.add_argument("--port", type=int, help="port (GENFLOW_UI_PORT)")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command in ("up", "serve"):
            return _serve(settings, args, announce=args.command == "up")
        if args.command == "run":
            return asyncio.run(_run(settings, args))
        if args.command == "session":
            return asyncio.run(_session(settings, args))
        if args.command == "workflow":
            return asyncio.run(_workflow(settings, args))
        if args.command in ("user", "token"):
            return asyncio.run(cli_people.run(settings, args))
        if args.command == "ui":
            from ui.app import main as ui_main

            return ui_main(host=args.host, port=args.port)
        if args.command == "slack":
            from bots.slack import main as slack_main

            return slack_main()
        if args.command == "worker":
            return _worker(settings, args)
        if args.command == "migrate":
            return _migrate(settings)
    except KeyboardInterrupt:
        return 130
    return 2


def _serve(settings: Settings, args: argparse.Namespace, *, announce: bool) -> int:
    """`serve`: the API. `up`: the API plus its companions (web UI, Slack bot), announced."""
    from dataclasses import replace

    from backend import companions, http_server
    from backend.app import create_app

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    app = create_app(settings)
    extras = companions.wanted(settings) if announce else []
    gc_tuning.raise_threshold(settings.gc_threshold)

    @app.before_serving
    async def start_companions() -> None:
        services = app.extensions["genflow"]
        await companions.start(extras, settings, services.admin_token)
        if announce:
            print(_banner(settings, services, extras), flush=True)

    @app.before_serving
    async def freeze_startup() -> None:
        gc_tuning.freeze_startup()  # the last start-up hook: all start-up is done

    @app.after_serving
    async def stop_companions() -> None:
        await companions.stop(extras)

    def end_streams() -> None:
        app.extensions["genflow"].bus.close()  # SSE/WebSocket followers reconnect elsewhere

    event_loop.run(
        http_server.serve(app, settings.host, settings.port, on_stop=end_streams),
        settings.event_loop,
    )
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import logging

    from backend.worker import run_worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    gc_tuning.raise_threshold(settings.gc_threshold)
    try:
        event_loop.run(
            run_worker(
                settings,
                concurrency=args.concurrency or settings.worker_concurrency,
                on_ready=gc_tuning.freeze_startup,
            ),
            settings.event_loop,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _migrate(settings: Settings) -> int:
    """GenFlow's tables (Alembic) and, on PostgreSQL, procrastinate's queue schema."""
    from backend.data_dir import prepare
    from backend.store.migrate import upgrade

    prepare(settings)  # a fresh data dir: 0700, the SQLite file 0600
    url = settings.resolved_database_url
    upgrade(url)
    print(f"database is up to date: {redacted(url)}")
    if settings.is_postgres:
        from backend.runtime.queues.procrastinate_queue import install_schema

        created = asyncio.run(install_schema(url))
        print("procrastinate queue schema " + ("created" if created else "is in place"))
    return 0


def _banner(settings: Settings, services: Any, extras: list[Any]) -> str:
    from backend.companions import reachable_host

    url = f"http://{reachable_host(settings)}:{settings.port}"
    lines = ["GenFlow is up.", f"  API:    {url}/api  (docs: {url}/api/docs)"]
    lines += [f"  {c.name + ':':7} {c.url}" for c in extras]
    lines += [
        f"  LLM:    {services.runner.llm_backend.name}",
        f"  Data:   {settings.data_dir}",
        f"  Admin token ({settings.admin_token_path}):",
        f"    {services.admin_token}",
        *_login_lines(settings, url),
        '  Try:    genflow run article topic="The history of coffee"',
    ]
    return "\n".join(lines)


def _login_lines(settings: Settings, url: str) -> list[str]:
    """How to log in as the first admin, while its generated password is unchanged."""
    path = settings.admin_password_path
    if not path.exists():
        return ["  Log in: with your account (`genflow user add NAME` makes one)"]
    password = path.read_text().strip()
    body = json.dumps({"username": "admin", "password": password})
    return [
        f"  Log in: username admin, password {password}",
        f"          (kept in {path} until `genflow user passwd admin` changes it)",
        f"          curl -X POST {url}/api/auth/login -H 'Content-Type: application/json' "
        f"-d '{body}'",
    ]


def add_review_terms(parser: argparse.ArgumentParser) -> None:
    """A job's review terms as `POST /api/jobs` takes them (docs/api.md, Reviews), for
    `genflow run` and `genflow workflow run`; `review_terms(args)` reads them back."""
    parser.add_argument(
        "--reviewer",
        action="append",
        dest="reviewers",
        metavar="NAME",
        help="who else may decide its reviews (and see the job); repeat for more",
    )
    parser.add_argument(
        "--review-timeout", type=float, metavar="SECONDS", help="how long each review may wait"
    )
    parser.add_argument(
        "--on-timeout", metavar="ACTION", help="what a passed deadline applies (default cancel)"
    )


def review_terms(args: argparse.Namespace) -> dict[str, Any]:
    """The options `add_review_terms` added, as the client's keyword arguments."""
    return {
        "reviewers": args.reviewers,
        "review_timeout": args.review_timeout,
        "on_timeout": args.on_timeout,
    }


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; `true`/`false` and JSON objects or arrays are parsed, the rest is text."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: expected key=value, got {pair!r}")
        if raw in ("true", "false"):
            values[key] = raw == "true"
        elif raw.strip().startswith(("{", "[")):
            try:
                values[key] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"error: {key} is not valid JSON: {exc}") from exc
        else:
            values[key] = raw
    return values


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from backend.cli_follow import refused, run_job
    from backend.client import APIError, GenFlowClient, default_token

    token = settings.api_token or default_token(settings.data_dir)
    inputs = parse_inputs(args.inputs)
    async with GenFlowClient(settings.api_url, token) as client:
        if not args.no_wait:  # one request: the job's events answer its creation
            return await run_job(client, args.flow, inputs, **review_terms(args))
        try:
            job = await client.create_job(args.flow, inputs, **review_terms(args))
        except APIError as exc:
            return refused(exc)
        print(f"job {job['id']} ({args.flow}) started", file=sys.stderr)
        print(job["id"])
        return 0


async def _session(settings: Settings, args: argparse.Namespace) -> int:
    from backend.cli_session import SessionTerminal
    from backend.client import APIError, GenFlowClient, default_token

    token = settings.api_token or default_token(settings.data_dir)
    async with GenFlowClient(settings.api_url, token) as client:
        try:
            return await SessionTerminal(client).run(args.subject)
        except APIError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1


async def _workflow(settings: Settings, args: argparse.Namespace) -> int:
    from backend import cli_workflow
    from backend.client import GenFlowClient, default_token

    token = settings.api_token or default_token(settings.data_dir)
    async with GenFlowClient(settings.api_url, token) as client:
        if args.workflow_command == "generate":
            return await cli_workflow.generate(client, args.prompt, diagram=args.mermaid)
        return await cli_workflow.run(
            client, args.workflow_id, parse_inputs(args.inputs), **review_terms(args)
        )


if __name__ == "__main__":
    raise SystemExit(main())
