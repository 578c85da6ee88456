"""The data dir is private: the dir 0700, the database files and secrets 0600.

GenFlow's data dir holds every job, review and artifact (the SQLite database), the JWT
signing secret, the admin token and the first admin's password. `prepare` runs before
anything writes there (server start, `genflow migrate`, `genflow user|token`): it creates
the dir 0700 and the SQLite file 0600 before SQLite opens it (SQLite gives its `-wal`
and `-shm` files the database file's mode), and tightens what an older GenFlow left
readable to others, saying so in the log.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from backend.settings import Settings

log = logging.getLogger(__name__)

DIR_MODE, FILE_MODE = 0o700, 0o600
SECRETS = ("secret", "admin.token", "admin.password")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file, when the store is SQLite on a file."""
    url = settings.resolved_database_url
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def prepare(settings: Settings) -> list[str]:
    """Create or tighten the data dir and its files; what was tightened, as log lines."""
    data_dir = settings.data_dir
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    changed = _tighten(data_dir, DIR_MODE)
    database = sqlite_file(settings)
    if database is not None:
        database.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # Created empty (SQLite takes an empty file for an empty database) with our mode.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    files = {data_dir / name for name in SECRETS}
    files |= {p for p in data_dir.glob("*.db*") if p.name.endswith(_db_endings())}
    if database is not None:
        files |= {Path(f"{database}{suffix}") for suffix in SQLITE_SUFFIXES}
    for path in sorted(files):
        changed += _tighten(path, FILE_MODE)
    for line in changed:
        log.warning("%s (only GenFlow's user may read its data)", line)
    return changed


def _db_endings() -> tuple[str, ...]:
    return tuple(f".db{suffix}" for suffix in SQLITE_SUFFIXES)


def _tighten(path: Path, mode: int) -> list[str]:
    """chmod `path` to `mode` if group or others may use it; a line saying so, or []."""
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return []
    if path.is_symlink() or not current & 0o077:
        return []
    os.chmod(path, mode)
    return [f"tightened {path} from {current:04o} to {mode:04o}"]
