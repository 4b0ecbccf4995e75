"""The local cloud's bucket: naming rules, the dynamic provider against the real store, and a whole deploy
through the real engine."""

import pytest

from stix.components.base import Buckets, store_cloud
from stix.components.local import Local
from stix.components.local.bucket import LocalBucketProvider, buckets
from stix.home import StixHome
from stix.objectstore import s3, server
from stix.storage.mounts import BucketRef


@pytest.mark.parametrize("name, reason", [
    ("ab", "3 to 63"), ("a" * 64, "3 to 63"), ("Data-set", "lowercase"), ("data_set", "lowercase"),
    ("-data", "start and end"), ("data.", "start and end"), ("a..b", "'..'"), ("192.168.1.10", "IP address"),
    ("xn--data", "xn--"), ("data-s3alias", "-s3alias"),
])
def test_bucket_name_problems(name, reason):
    assert reason in Local.bucket_name_problem(name)


@pytest.mark.parametrize("name", ["abc", "my-data.v2", "0ckpts", "a" * 63])
def test_good_bucket_names(name):
    assert Local.bucket_name_problem(name) is None


def test_local_is_the_local_stores_cloud():
    assert issubclass(Local, Buckets) and Local.store == "local" and Local.uri_scheme == "local"
    assert store_cloud("local") is Local


def test_rclone_remote_reaches_the_store(stix_home, tmp_path):
    home = StixHome(stix_home)
    ref = BucketRef("local", "remote-check")
    options = Local.rclone_remote(ref, home)  # starts the store
    assert options["type"] == "s3" and options["endpoint"] == server.running(home).url
    from stix.storage import rclone

    remotes = {ref.remote: options}
    env = {"AWS_CA_BUNDLE": ""}
    assert rclone.run(["mkdir", ref.rclone_path], remotes, 60, env).returncode == 0
    (tmp_path / "f").write_text("hello")
    assert rclone.run(["copyto", str(tmp_path / "f"), f"{ref.rclone_path}/f"], remotes, 60, env).returncode == 0
    assert rclone.run(["cat", f"{ref.rclone_path}/f"], remotes, 60, env).stdout == "hello"


def test_provider_create_read_drift_delete(stix_home, tmp_path):
    home = str(stix_home)
    props = {"name": "ckpts-1", "home": home, "url": None}
    provider = LocalBucketProvider()
    created = provider.create(props)
    assert created.id == "ckpts-1" and created.outs["url"] == "local://ckpts-1"
    assert "ckpts-1" in buckets(home)
    assert not any("key" in name or "secret" in name for name in created.outs)

    read = provider.read(created.id, created.outs)
    assert read.id == "ckpts-1" and read.inputs == {"name": "ckpts-1", "home": home}
    assert not provider.diff(created.id, read.inputs, props).changes
    assert provider.diff(created.id, read.inputs, {**props, "name": "other-1"}).replaces == ["name"]

    # Objects inside: delete removes the bucket with everything in it.
    endpoint = server.running(StixHome(stix_home))
    (tmp_path / "f").write_text("x")
    assert s3.rclone(endpoint, ["copyto", str(tmp_path / "f"), "stixlocal:ckpts-1/deep/f"], 60).returncode == 0
    provider.delete(created.id, created.outs)
    assert "ckpts-1" not in buckets(home)

    # Removed behind stix's back: reads as gone (drift), and delete of a gone bucket succeeds.
    provider.create(props)
    assert s3.rclone(endpoint, ["purge", "stixlocal:ckpts-1"], 60).returncode == 0
    assert provider.read("ckpts-1", created.outs).id is None
    provider.delete("ckpts-1", created.outs)


def test_existing_empty_bucket_is_adopted_and_one_with_objects_refused(stix_home, tmp_path):
    from stix.errors import ProvisionError

    home = str(stix_home)
    endpoint = server.ensure_running(StixHome(stix_home))
    assert s3.rclone(endpoint, ["mkdir", "stixlocal:empty-one"], 60).returncode == 0
    assert LocalBucketProvider().create({"name": "empty-one", "home": home}).id == "empty-one"
    (tmp_path / "f").write_text("x")
    assert s3.rclone(endpoint, ["copyto", str(tmp_path / "f"), "stixlocal:full-one/f"], 60).returncode == 0
    with pytest.raises(ProvisionError, match="full-one.*holds objects"):
        LocalBucketProvider().create({"name": "full-one", "home": home})


def test_a_stopped_store_is_started_by_read(stix_home):
    home = str(stix_home)
    LocalBucketProvider().create({"name": "survives", "home": home})
    server.stop(StixHome(stix_home))
    assert LocalBucketProvider().read("survives", {"name": "survives", "home": home}).id == "survives"


def test_deploy_through_the_real_engine_makes_and_destroys_the_bucket(stix_home, engine):
    from stix.engine.program import make_program
    from stix.engine.workspace import open_stack
    from stix.keys import ensure_cluster_key
    from stix.spec import BucketSpec, ClusterSpec

    home = StixHome(stix_home)
    key = ensure_cluster_key(stix_home / "keys" / "id_ed25519", "bkt")
    spec = ClusterSpec(cluster="bkt", cloud="local", num_nodes=1, ssh_public_key=key,
                       node_root=str(home.cluster_dir("bkt") / "nodes"), buckets=(BucketSpec("b1-data", "local"),))
    stack = open_stack(home, "bkt", make_program(spec))
    try:
        result = stack.up()
        assert result.outputs["buckets"].value == ["local://b1-data"]
        assert "b1-data" in buckets(str(stix_home))
        # Stack state holds no key of the store's.
        state = stack.export_stack().deployment
        endpoint = server.running(home)
        assert endpoint.secret_key not in str(state) and endpoint.access_key not in str(state)
        # Removed behind stix's back: a refresh sees it gone.
        assert s3.rclone(endpoint, ["purge", "stixlocal:b1-data"], 60).returncode == 0
        refreshed = stack.preview_refresh()
        assert refreshed.change_summary.get("delete") == 1
    finally:
        stack.destroy()
    assert "b1-data" not in buckets(str(stix_home))
