"""`stix logs --sync-down`: a missing job is a JobError; any other SFTP or disk failure one SSHError line."""

import stat
from types import SimpleNamespace

import paramiko
import pytest

from stix.errors import JobError, SSHError
from stix.home import StixHome
from stix.log_sync import logs_dir, sync_down


class FakeSftp:
    def __init__(self, fail_listing=None, fail_get=None):
        self.fail_listing, self.fail_get, self.closed = fail_listing, fail_get, False

    def get_channel(self):
        return SimpleNamespace(settimeout=lambda seconds: None)

    def listdir_attr(self, remote):
        if self.fail_listing:
            raise self.fail_listing
        return [SimpleNamespace(filename=name, st_mode=stat.S_IFREG | 0o600) for name in ("rank-0.log", "rank-1.log")]

    def get(self, remote, local):
        if self.fail_get:
            raise self.fail_get
        with open(local, "w") as handle:
            handle.write(remote)

    def close(self):
        self.closed = True


def head(sftp):
    def open_sftp():
        if isinstance(sftp, Exception):
            raise sftp
        return sftp

    return SimpleNamespace(node=SimpleNamespace(name="dev-head", home="/home/u"),
                           client=SimpleNamespace(open_sftp=open_sftp))


def test_downloads_every_nodes_log(tmp_path):
    home = StixHome(tmp_path)
    directory, names = sync_down(home, head(FakeSftp()), "dev", 3)
    assert directory == logs_dir(home, "dev", 3) and names == ["rank-0.log", "rank-1.log"]
    assert (directory / "rank-1.log").read_text().endswith("/jobs/3/rank-1.log")


def test_a_missing_job_is_a_job_error(tmp_path):
    sftp = FakeSftp(fail_listing=FileNotFoundError(2, "No such file"))
    with pytest.raises(JobError, match=r"job 3 not found on cluster 'dev'"):
        sync_down(StixHome(tmp_path), head(sftp), "dev", 3)
    assert sftp.closed


@pytest.mark.parametrize("where, error", [
    ("open", paramiko.SSHException("Channel closed.")),
    ("listing", paramiko.SSHException("Server connection dropped")),
    ("get", OSError(28, "No space left on device")),
    ("get", PermissionError(13, "Permission denied")),
])
def test_sftp_and_disk_failures_are_one_ssh_error(tmp_path, where, error):
    sftp = error if where == "open" else FakeSftp(**{f"fail_{where}": error})
    with pytest.raises(SSHError) as caught:
        sync_down(StixHome(tmp_path), head(sftp), "dev", 3)
    message = caught.value.message
    assert message.startswith("dev-head: ") and "job 3's logs" in message and "\n" not in message
    assert str(error) in message
    if where != "open":
        assert sftp.closed
