"""A stand-in for a user's machine in an SSH node pool: its own sshd, host key and authorized_keys in its home."""

from __future__ import annotations

from pathlib import Path

from stix.components.local import sshd
from stix.keys import generate_keypair, write_private_key


class PoolMachine:
    def __init__(self, root: Path, user_public_key: str) -> None:
        self.paths = sshd.NodePaths(root)
        (self.paths.home / ".ssh").mkdir(parents=True)
        host = generate_keypair("pool-machine")
        write_private_key(self.paths.host_key, host.private_openssh)
        self.host_key = host.public_openssh
        self.authorized = self.paths.home / ".ssh" / "authorized_keys"
        self.authorized.write_text(user_public_key + "\n")
        with sshd.address_lock():
            self.ip, self.port = sshd.allocate_address(), sshd.BASE_PORT
            config = sshd.render_config(self.paths, self.ip, self.port, sshd.current_user())
            config = config.replace(f'AuthorizedKeysFile "{self.paths.authorized_keys}"',
                                    f'AuthorizedKeysFile "{self.authorized}"')
            self.paths.config.write_text(config)
            sshd.start(self.paths, self.ip, self.port)

    def stop(self) -> None:
        sshd.stop(self.paths)
