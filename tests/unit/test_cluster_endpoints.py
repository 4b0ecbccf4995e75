"""A cluster's opened ports and where to reach them, from its saved records."""

import pytest

from stix.cluster_endpoints import endpoints, opened_ports
from stix.errors import ClusterNotFound, JobError, UsageError
from stix.home import StixHome
from tests.saved_cluster import save_cluster


def test_ports_and_ranges_are_listed_on_the_head(stix_home):
    home = StixHome(stix_home)
    save_cluster(home, "web", ports=((8888, 8888), (9000, 9001)))
    assert endpoints(home, "web") == {8888: "127.0.0.5:8888", 9000: "127.0.0.5:9000", 9001: "127.0.0.5:9001"}
    assert endpoints(home, "web", 9001) == {9001: "127.0.0.5:9001"}
    assert opened_ports(((80, 80), (79, 81))) == [79, 80, 81]


def test_refusals(stix_home):
    home = StixHome(stix_home)
    save_cluster(home, "web", ports=((8888, 8888),))
    save_cluster(home, "closed")
    save_cluster(home, "asleep", status="STOPPED", ports=((8888, 8888),))
    with pytest.raises(UsageError, match=r"port 22 is not opened on cluster web \(opened: 8888\)"):
        endpoints(home, "web", 22)
    with pytest.raises(UsageError, match=r"opened: none \(resources.ports\)"):
        endpoints(home, "closed", 80)
    assert endpoints(home, "closed") == {}
    with pytest.raises(ClusterNotFound, match="cluster 'nope' not found"):
        endpoints(home, "nope")
    with pytest.raises(JobError, match="is STOPPED, not UP"):
        endpoints(home, "asleep")


def test_ports_run_on_the_local_cloud_where_other_vm_fields_do_not():
    from stix.compile import unsupported_fields
    from stix.models.task import Task

    task = Task.model_validate({"run": "x", "resources": {"infra": "local", "ports": [8888, "9000-9001"],
                                                          "disk_size": 100}})
    assert unsupported_fields(task, "local") == ["resources.disk_size on the local cloud"]
    assert unsupported_fields(task, "aws") == []
