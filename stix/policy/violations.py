"""What policy packs report, read once from the engine's event stream as typed records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from stix.engine.events import display_type

MANDATORY = "mandatory"


@dataclass(frozen=True)
class Violation:
    pack: str
    policy: str
    level: str
    """advisory (reported) or mandatory (stops `up` before anything is created)."""
    resource: str
    """The resource's logical name; the stack's name for a policy over the whole plan."""
    type: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.level == MANDATORY

    def line(self) -> str:
        """One line, as `up` refuses and `stix policy check` lists: level, policy, resource, message."""
        return f"{self.level} {self.pack}/{self.policy}: {self.type} {self.resource}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "policy": self.policy, "level": self.level, "resource": self.resource,
                "type": self.type, "message": self.message}


def violation_of(event: Any) -> Optional[Violation]:
    """The policy violation an Automation API engine event carries, if it carries one."""
    found = getattr(event, "policy_event", None)
    if found is None:
        return None
    urn = found.resource_urn or ""
    type_token, _, name = urn.rpartition("::")
    type_token = display_type(type_token.rpartition("::")[2].rpartition("$")[2])
    return Violation(found.policy_pack_name, found.policy_name, str(found.enforcement_level), name, type_token,
                     _message(found.message))


def _message(text: str) -> str:
    """The engine sends the policy's description, a newline, then what the check said: keep what it said."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    said = lines[1:] if len(lines) > 1 else lines
    return " ".join(said)


def mandatory(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.mandatory]


def verdict(violations: list[Violation]) -> tuple[str, str]:
    """How many violations of each level, and whether `stix up` refuses the plan: the two halves of the line the
    terminal (stix.render) and a pull-request comment (stix.report) show."""
    blocking = sum(1 for v in violations if v.mandatory)
    return (f"Policy: {blocking} mandatory, {len(violations) - blocking} advisory violation(s)",
            "`stix up` refuses this plan" if blocking else "advisory only: `stix up` goes ahead")
