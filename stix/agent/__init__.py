"""The node agent: a standard-library program stix uploads to every node (see node_agent.py)."""

from pathlib import Path

AGENT_SOURCE = Path(__file__).with_name("node_agent.py")
REMOTE_DIR = ".stix-agent"
"""Under the node's home: the agent, the head's job database, job logs."""
