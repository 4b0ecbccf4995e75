"""The one exception tree of stix.

Every error a user can cause or fix derives from StixError, and every one is
defined here. The CLI maps them to a one-line message and the exit code named
here; anything else is a bug and keeps its traceback.

    StixError (1)
      TaskError (2), ConfigError (2), UsageError (2), ConfirmationRequired (2), PoolError (2) > PoolHostBusy
      NoFeasiblePlacement (3), PolicyViolations (4), Aborted (130)
      ClusterNotFound, EngineError, PrerequisiteMissing,
      ProvisionError > StackLocked, CapacityError, NoCapacity,
      NodeCommandFailed (the node's status) > SetupFailed, SSHError > HostKeyMismatch, JobError,
      CatalogError, FetchError, NodeProcessError > AddressTaken, StorageError, PolicyError
    UserRequestRejectedByPolicy (an Exception, not a StixError: what an admin policy raises to refuse a request,
      SkyPilot's name; stix.admin_policy reports it as PolicyViolations)
"""

from __future__ import annotations


class StixError(Exception):
    """Base of every error stix reports to a user as one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # One line, always: a key or value from a user's file may itself hold line breaks.
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def detail_lines(self) -> tuple[str, ...]:
        """Lines the CLI prints after the message, each one line (none but for PolicyViolations)."""
        return ()


class TaskError(StixError):
    """A task file is missing, malformed or invalid. The message names file:line:col."""

    exit_code = 2


class ConfigError(StixError):
    """A config file (the user's, the project's, or a task's `config:`) is malformed or sets a key it may not;
    the message names file:line:col and the key."""

    exit_code = 2


class UsageError(StixError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = 2


class ClusterNotFound(StixError):
    """No cluster of that name is known to stix."""


class EngineError(StixError):
    """The Pulumi engine could not be found, built or run."""


class PrerequisiteMissing(StixError):
    """A system program stix needs (sshd, go) is not installed; the message says how to install it."""


class ProvisionError(StixError):
    """Applying or destroying infrastructure failed."""


class StackLocked(ProvisionError):
    """Another update holds the stack's lock; this one changed nothing."""


class CapacityError(ProvisionError):
    """A cloud refused a placement for capacity or quota (out of stock in a zone, a quota reached): another
    candidate may still succeed, so failover tries the next one."""


class NoCapacity(ProvisionError):
    """Every candidate placement was refused for capacity or quota; the message lists what was tried."""


class ConfirmationRequired(StixError):
    """A change needs a yes, and there is no terminal to ask and no -y."""

    exit_code = 2


class Aborted(StixError):
    """The user declined the change or interrupted stix."""

    exit_code = 130


class NodeCommandFailed(StixError):
    """A command on a node exited non-zero; exit_code carries the node's status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SetupFailed(NodeCommandFailed):
    """The task's setup exited non-zero on a node (a managed job's FAILED_SETUP)."""


class SSHError(StixError):
    """A node could not be reached, or its host key did not match the pinned one."""


class HostKeyMismatch(SSHError):
    """A node answered with another host key than the pinned one: stix never logs in there."""


class NoFeasiblePlacement(StixError):
    """No enabled cloud offers what the task asks for; the message says why and what would fit."""

    exit_code = 3


class CatalogError(StixError):
    """A catalog file is missing columns or holds a row that is not a number where one is needed."""


class FetchError(StixError):
    """A cloud's public price endpoint could not be read (`stix catalog update`)."""


class PoolError(StixError):
    """The SSH node pool file is malformed or names a pool that does not exist."""

    exit_code = 2


class PoolHostBusy(PoolError):
    """A pool host is held by another cluster: in this stix home's index, or as recorded on the host itself."""


class JobError(StixError):
    """The node agent refused a job or a query, or the cluster cannot take jobs now."""


class NodeProcessError(StixError):
    """A local-cloud node's sshd could not be found, started or stopped."""


class AddressTaken(NodeProcessError):
    """A local node's address was taken between the check and sshd's bind (the address lock is per user)."""


class StorageError(StixError):
    """A bucket could not be uploaded to, fetched, or mounted on a node; the message names the bucket or
    the node and path, and the last line rclone (or apt) said."""


class PolicyViolations(StixError):
    """A policy pack found mandatory violations in a plan: nothing was created. The message is one line per
    violation (the policy, the resource, what it said); exit 4 tells "the plan breaks a policy" from an error."""

    exit_code = 4

    def __init__(self, message: str, violations: tuple = ()) -> None:
        super().__init__(message)
        self.violations = violations
        """stix.policy.violations.Violation records."""

    def detail_lines(self) -> tuple[str, ...]:
        return tuple(StixError(v.line()).message for v in self.violations)


class PolicyError(StixError):
    """A policy pack could not be run (it failed to load or to start) or an admin policy failed: an error, never
    a silent pass."""


class UserRequestRejectedByPolicy(Exception):
    """Raised by an admin policy (stix.admin_policy, which re-exports it) to refuse a request with a message."""
