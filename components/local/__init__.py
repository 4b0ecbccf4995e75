"""The local cloud: real sshd nodes on loopback addresses, managed by a dynamic provider."""

CAPABILITIES = frozenset({"vm_group"})
