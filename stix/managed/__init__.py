"""Managed jobs: work that runs to completion through preemptions, capacity errors and failures.

A managed job is one task, or a pipeline of tasks, each run on a cluster of its own that the
controller launches through the flows (with failover), watches, recovers and tears down. The store
(store.py) is the record both the CLI and the controller read and write; the controller
(controller.py) is a detached process that adopts whatever the store says is under way.
"""
