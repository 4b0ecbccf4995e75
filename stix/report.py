"""Machine-readable previews and drift reports: JSON for tools, markdown for pull-request comments."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from stix.drift import DriftReport
from stix.engine.changes import CHANGE_OPS, ChangeSet

MARKDOWN_LIMIT = 65_000
"""GitHub comments stop at 65,536 characters."""
FAILOVER_SHOWN = 5


@dataclass
class PreviewReport:
    cluster: str
    changes: ChangeSet
    cost_before: Optional[float] = None
    cost_after: Optional[float] = None
    extra: dict[str, Any] = field(default_factory=dict)
    failover: list[Any] = field(default_factory=list)
    """The candidates after the chosen placement, in the order failover tries them (optimizer.Candidate)."""
    planned: Optional[str] = None
    """Set when the engine could not preview (no credentials for the placed cloud): what the changes are instead."""
    admin_changes: list[str] = field(default_factory=list)
    """What the admin policy changed in the request (stages.Target.admin_changes)."""

    @property
    def violations(self) -> list:
        """What the policy packs reported on the plan (stix.policy.violations.Violation)."""
        return self.changes.violations

    def counts(self) -> dict[str, int]:
        counts = self.changes.counts()
        return {op: counts.get(op, 0) for op in (*CHANGE_OPS, "same")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "planned": self.planned,
            "summary": self.counts(),
            "has_changes": self.changes.has_changes,
            "cost_per_hour": {"before": self.cost_before, "after": self.cost_after},
            "resources": [{"op": c.op, "type": c.type, "name": c.name, "changed": list(c.diffs)}
                          for c in self.changes.changes if c.op != "same"],
            "failover": [{"cloud": c.cloud, "region": c.region, "zone": c.zone, "instance_type": c.instance_type,
                          "accelerators": c.accelerators, "spot": c.spot, "cost_per_hour": c.hourly_cost}
                         for c in self.failover],
            "blocked": self.changes.blocked,
            "violations": [v.to_dict() for v in self.violations],
            "admin_changes": list(self.admin_changes),
        }

    def to_markdown(self, limit: int = MARKDOWN_LIMIT) -> str:
        counts = self.counts()
        head = [f"### stix preview: `{self.cluster}`", "", *([f"_{self.planned}_", ""] if self.planned else []),
                "| create | update | replace | delete | unchanged |", "|---|---|---|---|---|",
                f"| {counts['create']} | {counts['update']} | {counts['replace']} | {counts['delete']} | {counts['same']} |",
                "", f"Cost: {_money(self.cost_before)} → {_money(self.cost_after)} per hour", ""]
        if self.failover:
            from stix.failover import labels

            named = labels(self.failover)
            more = f" (+{len(named) - FAILOVER_SHOWN} more)" if len(named) > FAILOVER_SHOWN else ""
            head[-1:-1] = ["", f"Failover order if capacity is refused: {', '.join(f'`{n}`' for n in named[:FAILOVER_SHOWN])}{more}"]
        if self.violations:
            head[-1:-1] = ["", policy_verdict(self.violations)]
        rows = ["| op | type | name | changed |", "|---|---|---|---|"]
        rows += [f"| {c.op} | `{c.type}` | `{c.name}` | {', '.join(f'`{d}`' for d in c.diffs)} |"
                 for c in self.changes.changes if c.op != "same"]
        return _fit(head, rows, limit, before=[violation_section(self.violations), admin_section(self.admin_changes)])


def policy_verdict(violations: list) -> str:
    """One markdown line: how many violations of each level, and whether `stix up` refuses the plan."""
    from stix.policy.violations import verdict

    counts, outcome = verdict(violations)
    return f"**{counts}**: {outcome}"


def violation_section(violations: list) -> list[str]:
    """The "Policy violations" table (mandatory first), or nothing when there are none."""
    if not violations:
        return []
    ordered = sorted(violations, key=lambda v: not v.mandatory)
    return ["#### Policy violations", "", "| level | policy | resource | message |", "|---|---|---|---|",
            *(f"| {'**mandatory**' if v.mandatory else v.level} | `{v.pack}/{v.policy}` | `{v.type}` `{v.resource}` | "
              f"{_cell(v.message)} |" for v in ordered), ""]


def admin_section(changes: list[str]) -> list[str]:
    if not changes:
        return []
    return ["#### Admin policy changed", "", *(f"- `{_code(line)}`" for line in changes), ""]


def _code(text: str) -> str:
    """Text kept inside one inline code span on one line."""
    return " ".join(str(text).replace("`", "'").split())


def _cell(text: str) -> str:
    """Text kept inside one markdown table cell: no pipe ends it, no newline breaks the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def policy_check_markdown(checks: list, limit: int = MARKDOWN_LIMIT) -> str:
    """`stix policy check --format markdown` (checks: stix.policy.check.PolicyCheck): one section per cluster."""
    blocking = sum(1 for check in checks for v in check.violations if v.mandatory)
    head = [f"### stix policy check: {len(checks)} cluster(s), {blocking} mandatory violation(s)", ""]
    sections = []
    for check in checks:
        if check.error is not None:
            sections.append([f"#### `{check.cluster}`", "", f"_not checked: {_cell(check.error.message)}_", ""])
            continue
        verdict = policy_verdict(list(check.violations)) if check.violations else "No policy violations."
        sections.append([f"#### `{check.cluster}`", "", verdict, "", *admin_section(list(check.admin_changes)),
                         *violation_section(list(check.violations))])
    return _fit(head, [], limit, before=sections)


def drift_dict(report: DriftReport) -> dict[str, Any]:
    return {"cluster": report.cluster, "drifted": report.drifted,
            "resources": [{"name": r.name, "type": r.type, "op": r.op,
                           "properties": [{"name": k, "recorded": _plain(o), "real": _plain(n)} for k, o, n in r.properties]}
                          for r in report.resources]}


def drift_markdown(reports: list[DriftReport], limit: int = MARKDOWN_LIMIT) -> str:
    drifted = [r for r in reports if r.drifted]
    head = [f"### stix drift: {len(drifted)} of {len(reports)} cluster(s) drifted", ""]
    rows = ["| cluster | resource | change |", "|---|---|---|"]
    rows += [f"| `{report.cluster}` | `{r.name}` | {r.describe().split(': ', 1)[-1]} |"
             for report in drifted for r in report.resources]
    return _fit(head, rows if drifted else [], limit)


def drift_json(reports: list[DriftReport]) -> str:
    return json.dumps({"drifted": any(r.drifted for r in reports), "clusters": [drift_dict(r) for r in reports]},
                      indent=2)


def _fit(head: list[str], rows: list[str], limit: int, before: Optional[list[list[str]]] = None) -> str:
    """The summary always fits; rows are cut with a note when the whole would not. before: sections that come
    ahead of the rows (policy violations, admin changes) and are kept ahead of them when something must go."""
    sections = [section for section in (before or []) if section] + [rows]
    text = "\n".join(head + [line for section in sections for line in section]) + "\n"
    if len(text) <= limit:
        return text
    kept: list[str] = []
    budget = limit - len("\n".join(head)) - 200
    used, cut = 0, 0
    for section in sections:
        for line in section:
            if cut or used + len(line) + 1 > budget:
                cut += 1
                continue
            kept.append(line)
            used += len(line) + 1
    note = f"\n_…{cut} more row(s) cut to fit a comment; run `stix preview` for all._"
    return "\n".join(head + kept) + note + "\n"


def _money(value: Optional[float]) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
