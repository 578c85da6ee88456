"""SQLite's write-ahead log copied back into the database file off the commit path.

By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: that
commit - a runner's checkpoint with its events, and every write queued behind it on the
store's one writer thread - then waits while the pages are copied and the file fsynced
(4-7 ms on this machine against ~20 µs for a commit; docs/performance.md). The store's
connections turn that off (`wal_autocheckpoint=0`) and this thread runs the same PASSIVE
checkpoint on a connection of its own, once a second while anything was written: a
PASSIVE checkpoint never blocks the writer or the readers, and copies only what no reader
still needs, as the automatic one would. What a commit makes durable does not change:
with `synchronous=NORMAL` a commit was never the fsync. (The WAL's file keeps its size
once SQLite reuses it from the start, so its size cannot say how much is new; its
modification time can.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)
EVERY_S = 1.0  # how often the WAL is looked at (a stat(2)), and checkpointed if written


class WalCheckpoints:
    def __init__(self, database: str, *, every: float | None = None) -> None:
        self._database, self._wal = database, database + "-wal"
        self._every = EVERY_S if every is None else every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = 0  # checkpoints run (for tests and curiosity)

    def start(self) -> None:
        """Idempotent: the store calls it whenever it opens its write connection."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="genflow-db-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        seen = self._wal_state()
        while not self._stop.wait(self._every):
            now = self._wal_state()
            if now == seen:
                continue
            try:
                conn = conn or self._connect()
                self.checkpoint(conn)
                seen = now  # a write during the checkpoint changes it again: one more next time
            except sqlite3.Error as exc:  # try again next time, on a new connection
                log.warning("WAL checkpoint failed: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        """Never creates the database (mode=rw): a store whose file was removed has nothing
        to checkpoint."""
        conn = sqlite3.connect(Path(self._database).absolute().as_uri() + "?mode=rw", uri=True)
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.done += 1

    def _wal_state(self) -> tuple[int, int]:
        try:
            stat = os.stat(self._wal)
        except FileNotFoundError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)
