"""The Pulumi engine: finding or building the CLI, and driving it through the Automation API."""

PULUMI_VERSION = "3.259.0"
