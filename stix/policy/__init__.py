"""Guardrails as code: Pulumi policy packs run by the engine on every plan, and SkyPilot-style admin policies.

packs: which packs run and with what config; violations: what they reported, typed; pack/: the built-in
pack (a real pulumi-policy pack, runnable by plain `pulumi preview --policy-pack`); rules: its checks, pure.
"""
