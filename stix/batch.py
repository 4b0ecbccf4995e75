"""Several clusters at once (`stix down 'dev-*'`, `stix stop a b`, `stix start -a`), as SkyPilot's verbs take them.

Names and globs resolve against stix's index before anything is done, so one that matches nothing changes
nothing; one confirmation lists every cluster; a failure on one cluster is reported and the others go on.
"""

from __future__ import annotations

import fnmatch
from typing import Callable, Optional

from stix.errors import ClusterNotFound, ProvisionError, StixError, UsageError
from stix.naming import validate_cluster_name
from stix.session import Session, confirm

GLOB = frozenset("*?[")


def select(known: list[str], patterns: list[str], all_: bool,
           present: Optional[Callable[[str], bool]] = None) -> list[str]:
    """The clusters named: exact names, fnmatch globs over `known` (the index's names), or -a (every one).

    present: whether a name outside the index still has something to act on (destroy's leftovers)."""
    if all_ and patterns:
        raise UsageError("name clusters or pass -a/--all, not both")
    if not all_ and not patterns:
        raise UsageError("name a cluster, a glob such as 'dev-*', or pass -a/--all")
    if all_:
        return sorted(known)
    out: list[str] = []
    for pattern in patterns:
        if GLOB & set(pattern):
            matches = fnmatch.filter(sorted(known), pattern)
            if not matches:
                raise ClusterNotFound(f"no cluster matches {pattern!r} (stix status lists clusters)")
        else:
            validate_cluster_name(pattern)
            if pattern not in known and not (present and present(pattern)):
                raise ClusterNotFound(f"cluster {pattern!r} not found (stix status lists clusters)")
            matches = [pattern]
        out.extend(name for name in matches if name not in out)
    return out


def for_each(session: Session, clusters: list[str], action: Callable[[str, bool], None], verb: str, yes: bool,
             ask: bool = True) -> None:
    """action(cluster, yes) on each cluster. One cluster keeps its own flow (its preview, then its question);
    several are asked about once, as a list, and each failure is reported while the rest go on; the error
    at the end names the ones that failed."""
    if len(clusters) == 1:
        action(clusters[0], yes)
        return
    if ask:
        confirm(session, f"{verb} {len(clusters)} clusters: {', '.join(clusters)}?", yes)
    failed: list[str] = []
    for cluster in clusters:
        try:
            action(cluster, True)
        except StixError as exc:
            session.note(f"{cluster}: {exc.message}", "warning")
            failed.append(f"{cluster} ({exc.message})")
    if failed:
        raise ProvisionError(f"{verb.lower()} failed for {len(failed)} of {len(clusters)} clusters: {'; '.join(failed)}")
