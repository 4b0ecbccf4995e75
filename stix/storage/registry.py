"""What stix knows about the buckets it made, and which clusters use them, beside the clusters in the index db.

The stacks stay the truth about what exists (a persistent bucket's own stack, or the cluster's); this is what
`stix storage ls` answers from without starting the engine, and what `stix storage delete` checks first.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

from stix.storage.mounts import StorageMount

if TYPE_CHECKING:
    from stix.home import StixHome

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS buckets (
        name TEXT PRIMARY KEY,
        store TEXT NOT NULL,
        source TEXT NOT NULL,
        persistent INTEGER NOT NULL,
        region TEXT NOT NULL,
        url TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bucket_users (
        bucket TEXT NOT NULL,
        cluster TEXT NOT NULL,
        PRIMARY KEY (bucket, cluster)
    )""",
)


@dataclass(frozen=True)
class BucketRecord:
    name: str
    store: str
    source: str
    """What was uploaded into it, as written (local paths joined by ', '); empty for none."""
    persistent: bool
    region: str = ""
    url: str = ""
    """The stack's `url` output once made; empty until then."""
    created_at: float = 0.0


class BucketRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        for statement in SCHEMA:
            conn.execute(statement)
        return conn

    def record(self, bucket: BucketRecord) -> None:
        """Add or update a bucket; its creation time is the first one recorded."""
        with self._connect() as conn:
            conn.execute(
                """INSERT INTO buckets (name, store, source, persistent, region, url, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET store=excluded.store, source=excluded.source,
                   persistent=excluded.persistent, region=excluded.region,
                   url=CASE WHEN excluded.url != '' THEN excluded.url ELSE buckets.url END""",
                (bucket.name, bucket.store, bucket.source, int(bucket.persistent), bucket.region, bucket.url,
                 bucket.created_at or time.time()))

    def record_use(self, cluster: str, mounts: Iterable[StorageMount], region: str = "") -> None:
        """The cluster's managed buckets (each recorded if new) and that the cluster uses them."""
        for mount in mounts:
            if not mount.managed:
                continue
            assert mount.name is not None
            known = self.get(mount.name)
            self.record(BucketRecord(mount.name, mount.bucket.store, ", ".join(mount.sources) or
                                     (known.source if known else ""), mount.persistent,
                                     (known.region if known and known.region else region), known.url if known else ""))
            with self._connect() as conn:
                conn.execute("INSERT OR IGNORE INTO bucket_users (bucket, cluster) VALUES (?, ?)", (mount.name, cluster))

    def release(self, cluster: str) -> list[str]:
        """The cluster is gone: it uses nothing now, and its non-persistent buckets (in its stack) went with it.
        Returns the names of the buckets whose records went."""
        with self._connect() as conn:
            used = [row[0] for row in conn.execute("SELECT bucket FROM bucket_users WHERE cluster=?", (cluster,))]
            conn.execute("DELETE FROM bucket_users WHERE cluster=?", (cluster,))
            gone = []
            for name in used:
                row = conn.execute("SELECT persistent FROM buckets WHERE name=?", (name,)).fetchone()
                if row is not None and not row[0]:
                    conn.execute("DELETE FROM buckets WHERE name=?", (name,))
                    conn.execute("DELETE FROM bucket_users WHERE bucket=?", (name,))
                    gone.append(name)
        return gone

    def users(self, name: str) -> list[str]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT cluster FROM bucket_users WHERE bucket=? ORDER BY cluster", (name,)).fetchall()
        return [row[0] for row in rows]

    def users_by_bucket(self) -> dict[str, list[str]]:
        """Every bucket's clusters, in one query (`stix storage ls`)."""
        if not self.path.exists():
            return {}
        found: dict[str, list[str]] = {}
        with self._connect() as conn:
            for bucket, cluster in conn.execute("SELECT bucket, cluster FROM bucket_users ORDER BY cluster"):
                found.setdefault(bucket, []).append(cluster)
        return found

    def remove(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM buckets WHERE name=?", (name,))
            conn.execute("DELETE FROM bucket_users WHERE bucket=?", (name,))

    def get(self, name: str) -> Optional[BucketRecord]:
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM buckets WHERE name=?", (name,)).fetchone()
        return _record(row) if row else None

    def all(self) -> list[BucketRecord]:
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM buckets ORDER BY created_at, name").fetchall()
        return [_record(row) for row in rows]


def _record(row: tuple) -> BucketRecord:
    name, store, source, persistent, region, url, created_at = row
    return BucketRecord(name, store, source, bool(persistent), region, url, created_at)


def registry_of(home: "StixHome") -> BucketRegistry:
    """The registry in stix's home: the clusters' index db."""
    return BucketRegistry(home.index_db)


def bucket_row(record: BucketRecord, size: Optional[int], users: list[str], verbose: bool = False) -> dict:
    """One bucket as `stix storage ls --format json` and the dashboard list it (size: measured, or None)."""
    row = {"name": record.name, "store": record.store, "source": record.source, "persistent": record.persistent,
           "size_bytes": size, "clusters": users}
    if verbose:
        row.update(url=record.url, region=record.region, created_at=record.created_at)
    return row
