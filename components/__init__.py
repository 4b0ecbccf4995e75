"""Pulumi component resources, one package per cloud, each of the same shape."""
