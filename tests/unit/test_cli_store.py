"""`stix store` and what `stix doctor` says about buckets' prerequisites."""


def test_store_status_start_stop(stix):
    status = stix("store", "status")
    assert status.returncode == 1 and status.stdout.startswith("not running"), status.stdout + status.stderr
    from stix.home import StixHome
    from stix.objectstore import server

    home = StixHome(stix.home)
    endpoint = server.ensure_running(home)
    status = stix("store", "status")
    assert status.returncode == 0 and f"running at {endpoint.url}" in status.stdout and "MiB" in status.stdout
    assert endpoint.secret_key not in status.stdout + status.stderr
    stopped = stix("store", "stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
    assert server.running(home) is None
    assert stix("store", "stop").stdout.strip() == "not running"


def test_store_install_finds_the_cached_build(stix):
    result = stix("store", "install")
    assert result.returncode == 0 and "SeaweedFS (version" in result.stdout, result.stderr


def test_doctor_reports_rclone_fusermount_and_the_store(stix):
    result = stix("doctor")
    lines = result.stdout.splitlines()
    for name in ("rclone", "fusermount3", "store"):
        assert any(line.startswith("OK") and f" {name} " in line for line in lines), result.stdout


def test_doctor_names_the_fixes_when_they_are_missing(stix, tmp_path):
    result = stix("doctor", STIX_CACHE=str(tmp_path / "empty-cache"), PATH=str(tmp_path / "no-bin"))
    assert result.returncode == 1
    line = {name: next(line for line in result.stdout.splitlines() if f" {name} " in line)
            for name in ("rclone", "fusermount3", "store")}
    assert line["rclone"].startswith("FAIL") and "apt-get install -y rclone" in line["rclone"]
    assert line["fusermount3"].startswith("FAIL") and "apt-get install -y fuse3" in line["fusermount3"]
    assert line["store"].startswith("FAIL") and "stix store install" in line["store"]
