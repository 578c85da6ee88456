"""All configuration, read once from GENFLOW_* environment variables.

`Settings` is a frozen dataclass so that `create_app(settings)` receives everything it
needs explicitly; nothing else in the backend reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from backend import event_loop
from flows.pilot.guarded_http import NetworkPolicy

# USD per 1M tokens (input, output); used to estimate the cost of every LLM call.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "smollm2-135m": (0.0, 0.0),
}


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in credentials else rest
    return f"{scheme}{sep}{rest}"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _int_or_none(name: str) -> int | None:
    """A whole number, or None when the variable is unset (the backend's own default)."""
    return None if _env(name) is None else _int(name, 0)


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path.home() / ".genflow")
    database_url: str | None = None
    queue: str = "local"  # local | procrastinate
    redis_url: str | None = None  # live events and rate limits across replicas
    lease_seconds: float = 15.0  # a worker's hold on a running job, renewed every third
    requeue_seconds: int = 5  # how often jobs whose lease expired are queued again
    review_sweep_seconds: int = 2  # how often due review reminders and deadlines are applied
    worker_concurrency: int = 32  # jobs one `genflow worker` runs at once
    gc_threshold: int = 10_000  # serve/worker: first GC threshold (0: Python's own 700)
    event_loop: str = "auto"  # serve/worker: auto (uvloop if installed) | uvloop | asyncio
    host: str = "127.0.0.1"
    port: int = 8000
    ui_port: int = 7860
    secret: str | None = None
    llm: str = "local"
    model: str | None = None
    llm_script: str | None = None  # GENFLOW_LLM_SCRIPT, for GENFLOW_LLM=scripted (tests)
    image_backend: str = "local"
    image_model: str = "gpt-image-1"
    llm_timeout: float = 120.0
    session_ttl: float = 7200.0  # seconds a GenFlow session may stay idle
    allow_private_networks: bool = False  # workflow api nodes may reach private addresses
    api_url: str = "http://127.0.0.1:8000"
    api_token: str | None = None
    max_body_bytes: int = 1_000_000
    knowledge_max_document_bytes: int = 2_000_000  # one uploaded knowledge document
    max_input_chars: int = 20_000
    max_events_per_job: int = 10_000
    max_concurrent_jobs: int = 0  # 0: no cap; jobs wait on their model calls' limit instead
    llm_concurrency: int | None = None  # model calls in flight; None: the backend's, 0: none
    image_concurrency: int | None = None  # image calls in flight, likewise
    batch_concurrency: int = 4
    rate_limit_per_minute: float = 60.0
    rate_limit_burst: int = 20
    login_per_minute: float = 5.0  # login attempts per username (guessing)
    login_burst: int = 5
    login_address_per_minute: float = 30.0  # login attempts per client address
    login_address_burst: int = 10
    login_token_ttl: float = 43200.0  # seconds a token from POST /api/auth/login lasts
    # Peers whose X-Forwarded-For is believed (the web chat logs people in from here)
    forwarded_allow_ips: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    token_cache_seconds: float = 2.0  # how long a replica trusts "this token is live"
    heartbeat_seconds: float = 15.0
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        has_openai = bool(_env("OPENAI_API_KEY") or _env("OPENAI_BASE_URL"))
        llm = _env("GENFLOW_LLM", "openai" if has_openai else "local")
        default_model = "gpt-4o-mini" if llm == "openai" else None
        port = _int("GENFLOW_PORT", 8000)
        host = _env("GENFLOW_HOST", "127.0.0.1") or "127.0.0.1"
        settings = cls(
            data_dir=Path(
                _env("GENFLOW_DATA_DIR", str(Path.home() / ".genflow")) or ""
            ).expanduser(),
            database_url=_env("GENFLOW_DATABASE_URL"),
            queue=_env("GENFLOW_QUEUE", "local") or "local",
            redis_url=_env("GENFLOW_REDIS_URL"),
            lease_seconds=_float("GENFLOW_LEASE_SECONDS", 15.0),
            requeue_seconds=_int("GENFLOW_REQUEUE_SECONDS", 5),
            review_sweep_seconds=_int("GENFLOW_REVIEW_SWEEP_SECONDS", 2),
            worker_concurrency=_int("GENFLOW_WORKER_CONCURRENCY", 32),
            gc_threshold=_int("GENFLOW_GC_THRESHOLD", 10_000),
            event_loop=_env("GENFLOW_EVENT_LOOP", "auto") or "auto",
            host=host,
            port=port,
            ui_port=_int("GENFLOW_UI_PORT", 7860),
            secret=_env("GENFLOW_SECRET"),
            llm=llm or "local",
            model=_env("GENFLOW_MODEL", default_model),
            llm_script=_env("GENFLOW_LLM_SCRIPT"),
            image_backend=_env("GENFLOW_IMAGES", "openai" if _env("OPENAI_API_KEY") else "local")
            or "local",
            image_model=_env("GENFLOW_IMAGE_MODEL", "gpt-image-1") or "gpt-image-1",
            llm_timeout=_float("GENFLOW_LLM_TIMEOUT", 120.0),
            # GENFLOW_ALLOW_PRIVATE_NETWORKS, read as the guarded client reads it
            allow_private_networks=NetworkPolicy.from_env().allow_private,
            session_ttl=_float("GENFLOW_SESSION_TTL", 7200.0),
            api_url=_env("GENFLOW_API_URL", f"http://{host}:{port}") or "",
            api_token=_env("GENFLOW_API_TOKEN"),
            max_body_bytes=_int("GENFLOW_MAX_BODY_BYTES", 1_000_000),
            knowledge_max_document_bytes=_int("GENFLOW_KNOWLEDGE_MAX_DOCUMENT_BYTES", 2_000_000),
            max_input_chars=_int("GENFLOW_MAX_INPUT_CHARS", 20_000),
            max_events_per_job=_int("GENFLOW_MAX_EVENTS_PER_JOB", 10_000),
            max_concurrent_jobs=_int("GENFLOW_MAX_CONCURRENT_JOBS", 0),
            llm_concurrency=_int_or_none("GENFLOW_LLM_CONCURRENCY"),
            image_concurrency=_int_or_none("GENFLOW_IMAGE_CONCURRENCY"),
            batch_concurrency=_int("GENFLOW_BATCH_CONCURRENCY", 4),
            rate_limit_per_minute=_float("GENFLOW_RATE_LIMIT_PER_MINUTE", 60.0),
            rate_limit_burst=_int("GENFLOW_RATE_LIMIT_BURST", 20),
            login_per_minute=_float("GENFLOW_LOGIN_PER_MINUTE", 5.0),
            login_burst=_int("GENFLOW_LOGIN_BURST", 5),
            login_address_per_minute=_float("GENFLOW_LOGIN_ADDRESS_PER_MINUTE", 30.0),
            login_address_burst=_int("GENFLOW_LOGIN_ADDRESS_BURST", 10),
            login_token_ttl=_float("GENFLOW_LOGIN_TOKEN_TTL", 43200.0),
            forwarded_allow_ips=frozenset(
                (_env("GENFLOW_FORWARDED_ALLOW_IPS") or "127.0.0.1,::1").replace(",", " ").split()
            ),
            token_cache_seconds=_float("GENFLOW_TOKEN_CACHE_SECONDS", 2.0),
            heartbeat_seconds=_float("GENFLOW_HEARTBEAT_SECONDS", 15.0),
        )
        settings = replace(settings, **overrides) if overrides else settings
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that cannot work together, saying what to change."""
        if self.queue not in ("local", "procrastinate"):
            raise ValueError(
                f"GENFLOW_QUEUE must be 'local' or 'procrastinate', not {self.queue!r}"
            )
        if self.queue == "procrastinate" and not self.is_postgres:
            raise ValueError(
                "GENFLOW_QUEUE=procrastinate needs PostgreSQL: set "
                "GENFLOW_DATABASE_URL=postgresql+psycopg://user:password@host/db"
            )
        if self.queue == "procrastinate" and not self.redis_url:
            raise ValueError(
                "GENFLOW_QUEUE=procrastinate needs GENFLOW_REDIS_URL (redis://host:6379/0): "
                "live events travel from the workers to every API replica over Redis"
            )
        if not 1 <= self.requeue_seconds <= 60 or 60 % self.requeue_seconds:
            raise ValueError("GENFLOW_REQUEUE_SECONDS must divide 60 (1, 2, 3, 5, 10, 15, 20, 30)")
        if not 1 <= self.review_sweep_seconds <= 60 or 60 % self.review_sweep_seconds:
            raise ValueError(
                "GENFLOW_REVIEW_SWEEP_SECONDS must divide 60 (1, 2, 3, 5, 10, 15, 20, 30)"
            )
        loop_problem = event_loop.problem(self.event_loop)
        if loop_problem:
            raise ValueError(loop_problem)
        if self.lease_seconds < 1:
            raise ValueError("GENFLOW_LEASE_SECONDS must be at least 1")
        if not 0 <= self.token_cache_seconds <= 60:
            raise ValueError(
                "GENFLOW_TOKEN_CACHE_SECONDS must be 0 to 60: a revoked token may keep "
                "working that long on replicas that do not hear of it over Redis"
            )
        if self.login_token_ttl < 60:
            raise ValueError("GENFLOW_LOGIN_TOKEN_TTL must be at least 60 seconds")

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'genflow.db'}"

    @property
    def max_upload_bytes(self) -> int:
        """The body limit of knowledge uploads: a document at its limit, escaped as JSON
        (non-ASCII text grows up to twice) or framed as multipart, with room to spare."""
        return 2 * self.knowledge_max_document_bytes + 64 * 1024

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin.token"

    @property
    def admin_password_path(self) -> Path:
        """The first admin account's generated password (written on first start)."""
        return self.data_dir / "admin.password"
