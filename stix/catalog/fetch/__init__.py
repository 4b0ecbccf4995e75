"""Refresh catalog prices from the clouds' public price endpoints.

Each fetcher turns the cloud's own response format into a PriceBook; update.py
applies it to the current catalog, keeping instance specs (vCPUs, memory,
accelerators), which the price endpoints do not describe.
"""
