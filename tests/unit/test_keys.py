import paramiko

from stix.keys import ensure_cluster_key


def test_cluster_key_is_private_and_stable(tmp_path):
    path = tmp_path / "keys" / "c" / "id_ed25519"
    public = ensure_cluster_key(path, "c")
    assert path.stat().st_mode & 0o777 == 0o600
    assert public.startswith("ssh-ed25519 ") and public.endswith(" stix-c")
    assert ensure_cluster_key(path, "c") == public
    key = paramiko.PKey.from_path(str(path))
    assert key.get_base64() == public.split()[1]
