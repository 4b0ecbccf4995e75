"""stix's inline program sees the stack outputs as they resolve (what `up` reads instead of asking the engine)."""

from __future__ import annotations

from stix.engine.program import ClusterProgram
from stix.spec import ClusterInfo
from tests.components.aws.test_aws import AMI_CALL
from tests.components.mocks import StrictMocks, run_program


def test_the_program_sees_every_output_it_exports(spec_for):
    spec = spec_for("aws", "aws/us-east-1", "A100:8")
    calls = {AMI_CALL: lambda args: {"id": "ami-1", "name": "Deep Learning Base OSS Nvidia Driver GPU AMI"}}
    program = ClusterProgram(spec)
    program.seen = {"stale": "from an earlier run"}
    run_program(program, StrictMocks(calls=calls))

    assert program.seen is not None and "stale" not in program.seen
    assert {"plan", "cluster_name", "cloud", "num_nodes"} <= set(program.seen)
    assert program.seen["cluster_name"] == spec.cluster and program.seen["num_nodes"] == spec.num_nodes
    info = ClusterInfo.from_dict(program.seen, "/key")  # what cluster_info reads from these outputs
    assert [node.rank for node in info.nodes] == list(range(spec.num_nodes))
