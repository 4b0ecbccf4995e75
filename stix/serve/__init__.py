"""stix serve: replicas of a task behind a load balancer, as SkyServe runs them (SDK: up, status, update, down,
tail_logs)."""
