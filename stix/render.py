"""Terminal rendering of previews and cluster lists (rich)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stix.index import ClusterRecord

if TYPE_CHECKING:
    from stix.engine.changes import ChangeSet

OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "dim"}
OP_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}


def preview_table(cluster: str, changes: ChangeSet) -> Table:
    table = Table(title=f"Planned changes for cluster {escape(cluster)}", title_justify="left")
    table.add_column("op")
    table.add_column("type")
    table.add_column("name")
    table.add_column("changed properties")
    for change in sorted(changes.changes, key=_row_order):
        style = OP_STYLE.get(change.op, "")
        table.add_row(
            Text(f"{OP_SYMBOL.get(change.op, '?')} {change.op}", style=style),
            Text(change.type),
            Text(change.name),
            Text(", ".join(change.diffs)),
        )
    return table


def _row_order(change) -> tuple:
    """Components first, then by name with numbers in numeric order (node-2 before node-10)."""
    import re

    parts = tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", change.name))
    return (not change.type.endswith(("VmGroup", "Network")), tuple(str(type(p)) + str(p).zfill(8) for p in parts))


def summary_line(changes: ChangeSet) -> str:
    counts = changes.counts()
    if not changes.has_changes:
        return f"No infrastructure changes ({counts['same']} unchanged)."
    from stix.engine.changes import CHANGE_OPS

    parts = [f"{counts[op]} to {op}" for op in CHANGE_OPS if counts[op]]
    return "Plan: " + ", ".join(parts) + f" ({counts['same']} unchanged)."


def print_preview(console: Console, cluster: str, changes: ChangeSet) -> None:
    if changes.changes:
        console.print(preview_table(cluster, changes))
    console.print(summary_line(changes))
    print_violations(console, changes.violations)


LEVEL_STYLE = {"mandatory": "bold red", "advisory": "yellow", "disabled": "dim"}


def violations_table(violations: list) -> Table:
    """What the policy packs reported (stix.policy.violations.Violation), mandatory first and in red."""
    table = Table(title="Policy violations", title_justify="left")
    for column in ("LEVEL", "POLICY", "RESOURCE", "MESSAGE"):
        table.add_column(column, overflow="fold")  # a policy's or resource's name is never cut short
    for violation in sorted(violations, key=lambda v: not v.mandatory):
        style = LEVEL_STYLE.get(violation.level, "")
        table.add_row(Text(violation.level, style=style), Text(f"{violation.pack}/{violation.policy}", style=style),
                      Text(f"{violation.type} {violation.resource}".strip()), Text(violation.message))
    return table


def violations_line(violations: list) -> str:
    from stix.policy.violations import verdict

    if not violations:
        return "No policy violations."
    counts, outcome = verdict(violations)
    return f"{counts}; {outcome}."


def print_violations(console: Console, violations: list) -> None:
    """After the changes: nothing when the packs were silent."""
    if violations:
        console.print(violations_table(violations))
        console.print(violations_line(violations), style="red" if any(v.mandatory for v in violations) else "yellow",
                      markup=False, highlight=False)


def print_admin_changes(console: Console, changes: list[str]) -> None:
    """What the config's admin policy changed in the request (stages.Target.admin_changes), one line each."""
    if changes:
        console.print("Admin policy changed the request:", style="bold", markup=False, highlight=False)
        for line in changes:
            console.print(f"  {line}", markup=False, highlight=False)


def age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def launched_ago(seconds: float) -> str:
    """SkyPilot's LAUNCHED column: 'a few secs ago', '2 mins ago', '1 hr ago'."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return "a few secs ago"
    for unit, size in (("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400), ("hr", 3600), ("min", 60),
                       ("sec", 1)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "a few secs ago"


def hourly(cost: Optional[float]) -> str:
    return "-" if cost is None else f"${cost:.2f}"


STATUS_COLUMNS = ("NAME", "LAUNCHED", "RESOURCES", "STATUS", "AUTOSTOP", "$/HR")


def status_table(records: list[ClusterRecord], now: Optional[float] = None) -> Table:
    """`stix status`: SkyPilot's columns, plus $/hr."""
    table = Table(title="Clusters", title_justify="left")
    for column in STATUS_COLUMNS:
        table.add_column(column)
    now = time.time() if now is None else now
    for record in records:
        table.add_row(*_plain(*_status_row(record, now)))
    return table


def _status_row(record: ClusterRecord, now: float) -> tuple[str, ...]:
    return (record.name, launched_ago(now - record.launched), record.resources, record.status,
            record.autostop or "-", hourly(record.hourly_cost))


def status_text(records: list[ClusterRecord], width: int, now: Optional[float] = None) -> Optional[Text]:
    """status_table as rich draws it, drawn here: rich's Table measures every cell of every row (a second for
    1,000 clusters), this is one pass. None where only rich can lay it out: wider than `width` (rich wraps
    cells), or a cell holding a control character."""
    from rich.cells import cell_len

    now = time.time() if now is None else now
    rows = [STATUS_COLUMNS] + [_status_row(record, now) for record in records]
    if any(ch < " " for row in rows for cell in row for ch in cell):
        return None
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(STATUS_COLUMNS))]
    if sum(widths) + 3 * len(widths) + 1 > width:
        return None

    def line(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + right

    def cells(row, bar: str) -> str:
        return bar + bar.join(f" {cell}{' ' * (w - cell_len(cell))} " for cell, w in zip(row, widths)) + bar

    top = line("┏", "━", "┳", "┓")
    title = "Clusters".ljust(cell_len(top))
    header = cells(rows[0], "┃")
    body = [cells(row, "│") for row in rows[1:]]
    text = Text("\n".join([title, top, header, line("┡", "━", "╇", "┩"), *body, line("└", "─", "┴", "┘")]))
    text.stylize("italic", 0, len(title))
    at = len(title) + len(top) + 2 + 1  # the header's first cell, after its bar
    for w, cell in zip(widths, rows[0]):
        text.stylize("bold", at, at + len(cell) + 2 + w - cell_len(cell))
        at += len(cell) + 2 + w - cell_len(cell) + 1
    return text


def _num(value) -> str:
    if value is None:
        return "host"
    return str(int(value)) if float(value) == int(value) else f"{value:.1f}"


def candidates_table(placement, limit: int = 15, lacking: Optional[set] = None) -> Table:
    """The considered resources, best first, one row per cloud and instance type; lacking: clouds without
    credentials, marked in a CREDENTIALS column (None: no column)."""
    table = Table(title="Considered resources", title_justify="left")
    for column in ("CLOUD", "INSTANCE", "ACCELERATORS", "vCPUs", "MEM (GiB)", "REGION/ZONE", "$/HR", "CHOSEN"):
        table.add_column(column)
    if lacking is not None:
        table.add_column("CREDENTIALS")
    shown: set = set()
    for candidate in placement.candidates:
        key = (candidate.cloud, candidate.instance_type, candidate.accelerators)
        if key in shown:
            continue
        shown.add(key)
        chosen = candidate is placement.chosen
        table.add_row(*_plain(candidate.cloud, candidate.instance_type + (" [spot]" if candidate.spot else ""),
                              candidate.accelerators, _num(candidate.vcpus), _num(candidate.memory_gib),
                              candidate.location, f"{candidate.hourly_cost:.2f}", "✔" if chosen else "",
                              *([] if lacking is None else [credentials_cell(candidate.cloud, lacking)])),
                      style="bold green" if chosen else None)
        if len(shown) >= limit:
            break
    return table


def placement_line(placement) -> str:
    chosen = placement.chosen
    nodes = f"{chosen.num_nodes} node{'s' if chosen.num_nodes != 1 else ''}"
    from stix.components.base import cloud_for

    label = cloud_for(chosen.cloud).placement_label
    following = len(placement.candidates) - 1
    failover = f"; {following} failover candidate{'s' if following != 1 else ''}"
    where = f" in {chosen.location}" if chosen.location != "-" else ""
    if label:
        gpus = f", with {chosen.accelerators} each" if chosen.accelerator else ""
        return f"Placement: {label}{where}{gpus}, {nodes}, ${chosen.hourly_cost:.2f}/hr{failover}"
    return (f"Placement: {chosen.cloud} {chosen.instance_type} ({chosen.accelerators}){where}, "
            f"{nodes}, ${chosen.hourly_cost:.2f}/hr{failover}")


def gpus_table(rows: list, title: str, lacking: Optional[set] = None) -> Table:
    """lacking: clouds without credentials, marked in a CREDENTIALS column (None: no column)."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("GPU", "QTY", "CLOUD", "INSTANCE", "vCPUs", "HOST MEM", "$/HR", "SPOT $/HR", "REGION"):
        table.add_column(column)
    if lacking is not None:
        table.add_column("CREDENTIALS")
    for row in rows:
        table.add_row(*_plain(*row, *([] if lacking is None else [credentials_cell(row[2], lacking)])))
    return table


def credentials_cell(cloud: str, lacking: set) -> str:
    return "no" if cloud in lacking else "yes"


def queue_table(cluster: str, rows: list[dict]) -> Table:
    table = Table(title=f"Jobs on {escape(cluster)}", title_justify="left")
    for column in ("ID", "NAME", "STATUS", "NODES", "CPUS", "GPUS", "SUBMITTED", "DURATION", "DETAIL"):
        table.add_column(column)
    now = time.time()
    for row in rows:
        started, ended = row.get("started"), row.get("ended")
        duration = age((ended or now) - started) if started else "-"
        table.add_row(*_plain(str(row["id"]), row.get("name") or "-", row["status"], str(row["num_nodes"]),
                              f"{row['cpus']:g}", f"{row['gpus']:g}", age(now - row["submitted"]) + " ago", duration,
                              row.get("detail") or ""))
    return table


def managed_placement_line(index: int, name, placement, tasks: int = 1) -> str:
    """A managed job's task, where it would go first, and how many candidates failover would try after it."""
    line = placement_line(placement).removeprefix("Placement: ")
    who = f"Task {index}" + (f" ({name})" if name else "") if tasks > 1 else "Placement"
    return f"{who}: {line}"


MANAGED_QUEUE_COLUMNS = ("ID", "TASK", "NAME", "RESOURCES", "SUBMITTED", "TOT. DURATION", "JOB DURATION",
                         "#RECOVERIES", "STATUS")


def managed_queue_table(rows: list[dict], now: float | None = None) -> Table:
    """`stix jobs queue`: SkyPilot's columns; a pipeline is a row for the job, then one per task under it."""
    now = time.time() if now is None else now
    table = Table(title="Managed jobs", title_justify="left")
    for column in MANAGED_QUEUE_COLUMNS:
        table.add_column(column)
    failures = any(row["failure_reason"] for row in rows)
    if failures:
        table.add_column("FAILURE")
    span = lambda seconds: age(seconds) if seconds is not None else "-"  # noqa: E731
    jobs: dict[int, list[dict]] = {}
    for row in rows:
        jobs.setdefault(row["job_id"], []).append(row)
    for job_id, tasks in jobs.items():
        first = tasks[0]
        submitted = age(now - first["submitted_at"]) + " ago"
        if len(tasks) == 1 and first["tasks"] == 1:
            cells = [str(job_id), "-", first["job_name"], first["resources"], submitted, span(first["duration"]),
                     span(first["job_duration"]), str(first["recovery_count"]), first["status"]]
            table.add_row(*_plain(*cells, *([first["failure_reason"] or ""] if failures else [])))
            continue
        running = [t["job_duration"] for t in tasks if t["job_duration"] is not None]
        job_failure = next((t["failure_reason"] for t in tasks if t["failure_reason"]), "")
        cells = [str(job_id), "-", first["job_name"], "-", submitted, span(first["duration"]),
                 span(sum(running) if running else None), str(sum(t["recovery_count"] for t in tasks)),
                 first["job_status"]]
        table.add_row(*_plain(*cells, *([job_failure] if failures else [])))
        for task in tasks:
            cells = [" ↳", str(task["task_id"]), task["task_name"], task["resources"], "-", "-",
                     span(task["job_duration"]), str(task["recovery_count"]), task["status"]]
            table.add_row(*_plain(*cells, *([task["failure_reason"] or ""] if failures else [])))
    return table


def _plain(*cells: str) -> list[Text]:
    """Table cells as literal text: job names, engine messages and '[spot]' are not rich markup."""
    return [Text(str(cell)) for cell in cells]


_LEVEL_STYLES = {"info": "", "heading": "bold", "success": "green", "warning": "yellow"}


def console_events(console: Console):
    """Render a flow's events on a terminal (the CLI, and the SDK's default)."""
    from stix.events import Note, PlacementChosen, PreviewReady, ResourceChanged, ResourceFailed

    def render(event) -> None:
        if isinstance(event, Note):
            console.print(event.text, style=_LEVEL_STYLES.get(event.level) or None, markup=False, highlight=False)
        elif isinstance(event, PlacementChosen):
            console.print(placement_line(event.placement), markup=False, highlight=False)
        elif isinstance(event, PreviewReady):
            print_preview(console, event.cluster, event.changes)
        elif isinstance(event, ResourceChanged):
            console.print(f"  {event.op}: {event.name}", markup=False, highlight=False)
        elif isinstance(event, ResourceFailed):
            console.print("  error", style="red", end=" ", highlight=False)
            console.print(f"{event.name}: {event.message}", markup=False, highlight=False)

    return render


def human_bytes(size: Optional[int]) -> str:
    """1536 -> '1.5 KiB'; None (not known) -> '-'."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
