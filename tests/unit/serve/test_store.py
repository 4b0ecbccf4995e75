import pytest

from stix.errors import UsageError
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.serve import store as st
from stix.serve.spec import service_spec
from stix.serve.store import ServiceStore

TEXT = "name: svc\nresources: {ports: 8080}\nsecrets: {TOKEN: s3cret}\nservice: {readiness_probe: /h}\nrun: x\n"


@pytest.fixture
def store(tmp_path):
    return ServiceStore(StixHome(tmp_path / "home"))


def add(store, name="svc"):
    task = load_pipeline_text(TEXT).tasks[0]
    return store.add_service(name, task, service_spec(task)), task


def test_a_new_service_starts_in_controller_init_and_its_name_is_taken(store):
    record, task = add(store)
    assert (record.status, record.version, record.endpoint, record.down_requested) == (st.CONTROLLER_INIT, 1, "", False)
    with pytest.raises(UsageError, match="already exists"):
        store.add_service("svc", task, service_spec(task))


def test_secrets_are_sealed_at_rest_and_come_back_with_the_task(store):
    add(store)
    assert b"s3cret" not in store.path.read_bytes()
    assert store.task_of("svc", 1).secret_values() == {"TOKEN": "s3cret"}


def test_versions_and_replicas(store):
    _, task = add(store)
    assert store.add_version("svc", task, service_spec(task), st.BLUE_GREEN) == 2
    assert store.get("svc").version == 2 and store.version("svc", 2).mode == st.BLUE_GREEN
    first, second = store.new_replica("svc", 1), store.new_replica("svc", 2, use_spot=True)
    assert (first.replica_id, first.cluster, first.status) == (1, "svc-1", st.PENDING)
    assert (second.replica_id, second.version, second.use_spot) == (2, 2, True)
    store.set_replica("svc", 1, status=st.READY, ip="127.0.0.5", port=8080, agent_job=1)
    assert store.replica("svc", 1).url == "http://127.0.0.5:8080"
    store.set_replica("svc", 2, status=st.FAILED, ended=1.0)
    assert [r.replica_id for r in store.replicas("svc")] == [1]
    assert [r.replica_id for r in store.replicas("svc", include_ended=True)] == [1, 2]
    store.forget_replica("svc", 1)
    assert store.new_replica("svc", 2).replica_id == 3, "ids are never reused"
    store.forget_replica("svc", 3)
    assert store.new_replica("svc", 2).replica_id == 4, "not even the highest, once forgotten"


def test_an_id_whose_cluster_name_is_taken_is_skipped(store):
    add(store)
    mine = {"svc-1", "svc-2"}
    replica = store.new_replica("svc", 1, taken=mine.__contains__)
    assert (replica.replica_id, replica.cluster) == (3, "svc-3")


def test_a_store_made_before_last_replica_gets_the_column(store):
    import sqlite3

    add(store)
    store.new_replica("svc", 1)
    conn = sqlite3.connect(store.path)
    conn.execute("ALTER TABLE services DROP COLUMN last_replica")
    conn.commit()
    conn.close()
    assert store.new_replica("svc", 1).replica_id == 2


def test_down_marks_shutting_down_and_remove_forgets(store):
    _, task = add(store)
    store.set_service("svc", endpoint="127.0.0.1:30001", balancer={"pid": 7})
    assert store.get("svc").balancer == {"pid": 7}
    assert store.request_down(["svc", "nope"]) == ["svc"]
    assert store.get("svc").status == st.SHUTTING_DOWN and store.get("svc").down_requested
    with pytest.raises(UsageError, match="shutting down"):
        store.add_version("svc", task, service_spec(task), st.ROLLING)
    store.remove_service("svc")
    assert store.get("svc") is None and store.all() == []
