"""The pure parts of attach: rclone mount flags per mode, and reading /proc/self/mountinfo."""

from stix.storage.attach import mount_flags, parse_mountinfo
from stix.storage.mounts import MOUNT, MOUNT_CACHED, BucketRef, CacheOptions, StorageMount

BUCKET = BucketRef("local", "bk")


def pairs(flags: list[str]) -> dict[str, str]:
    return {flag: value for flag, value in zip(flags, flags[1:])
            if flag.startswith("--") and not value.startswith("--")}


def test_mount_uploads_on_close_and_lists_fresh():
    flags = pairs(mount_flags(StorageMount("/d", MOUNT, BUCKET)))
    assert flags["--vfs-cache-mode"] == "writes" and flags["--vfs-write-back"] == "0s"
    assert flags["--dir-cache-time"] == "2s"


def test_mount_cached_maps_skypilots_names_to_rclone_flags():
    cache = CacheOptions(transfers=8, buffer_size="64M", vfs_cache_max_size="10G", vfs_cache_max_age="1h",
                         vfs_read_ahead="128M", vfs_read_chunk_size="32M", vfs_read_chunk_streams=4,
                         vfs_write_back="10s", read_only=True)
    flags = mount_flags(StorageMount("/d", MOUNT_CACHED, BUCKET, cache=cache))
    assert pairs(flags) == {"--dir-cache-time": "2s", "--vfs-cache-mode": "full", "--transfers": "8",
                            "--buffer-size": "64M", "--vfs-cache-max-size": "10G", "--vfs-cache-max-age": "1h",
                            "--vfs-read-ahead": "128M", "--vfs-read-chunk-size": "32M",
                            "--vfs-read-chunk-streams": "4", "--vfs-write-back": "10s"}
    assert flags[-1] == "--read-only"


def test_flags_the_nodes_rclone_lacks_are_left_out():
    cache = CacheOptions(vfs_read_chunk_streams=4, transfers=2)
    flags = mount_flags(StorageMount("/d", MOUNT_CACHED, BUCKET, cache=cache),
                        supported=lambda flag: flag != "--vfs-read-chunk-streams")
    assert "--vfs-read-chunk-streams" not in flags and "--transfers" in flags


def test_mountinfo_octal_escapes_are_read_back():
    line = ("45 27 0:40 / /home/u/my\\040data rw,nosuid - fuse.rclone stixlocal:bk/a\\040b rw,user_id=0\n"
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    entries = parse_mountinfo(line)
    assert entries[0].mount_point == "/home/u/my data" and entries[0].fstype == "fuse.rclone"
    assert entries[0].source == "stixlocal:bk/a b" and entries[1].mount_point == "/"
