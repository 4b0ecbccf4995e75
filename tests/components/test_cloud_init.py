"""Snapshot of the rendered cloud-init, and its meaning."""

from pathlib import Path

import yaml

from stix.components.cloud_init import render_cloud_init

SNAPSHOTS = Path(__file__).parent / "snapshots"
HOST_PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----\n"
HOST_PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTests train-node-0"
CLIENT = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClientKeyForTests stix-train"


def render(down: bool = False) -> str:
    return render_cloud_init("stix", CLIENT, HOST_PRIVATE, HOST_PUBLIC, down)


def test_matches_snapshot():
    assert render() == (SNAPSHOTS / "cloud_init_stop.yaml").read_text()
    assert render(down=True) == (SNAPSHOTS / "cloud_init_terminate.yaml").read_text()


def test_meaning():
    text = render()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert config["users"][0]["ssh_authorized_keys"] == [CLIENT]
    assert config["users"][0]["lock_passwd"] is True and config["ssh_pwauth"] is False
    assert config["ssh_keys"]["ed25519_private"] == HOST_PRIVATE
    assert config["ssh_keys"]["ed25519_public"] == HOST_PUBLIC
    assert config["ssh_genkeytypes"] == [] and config["ssh_deletekeys"] is True
