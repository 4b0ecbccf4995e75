"""SSH to cluster nodes: one paramiko runner with pinned host keys."""
