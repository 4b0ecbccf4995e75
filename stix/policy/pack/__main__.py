"""stix's built-in policy pack. The engine starts it through the analyzer shim (stix.engine.workspace), in this
directory, with the interpreter stix runs under; plain `pulumi preview --policy-pack <this directory>` runs it too."""

from stix.policy.builtin import serve

serve()
