"""The node agent: a standard-library program stix uploads to every node (see node_agent.py).

Its statuses, exit codes and on-disk names are defined there, once; the client imports them.
"""

from pathlib import Path

from stix.agent.node_agent import REMOTE_DIR

AGENT_SOURCE = Path(__file__).with_name("node_agent.py")

__all__ = ["AGENT_SOURCE", "REMOTE_DIR"]
