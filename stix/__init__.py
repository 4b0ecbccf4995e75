"""stix: SkyPilot-style task YAML compiled into Pulumi stacks."""

__version__ = "0.1.0"
