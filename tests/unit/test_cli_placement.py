"""stix optimize / gpus / check through the real command line."""

from tests.catalog_rows import bundled_row, price
from tests.conftest import REPO


def task(tmp_path, body: str):
    path = tmp_path / "t.yaml"
    path.write_text(body)
    return str(path)


AWS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}
GCP_AND_AZURE = {"AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "y", "AZURE_CLIENT_SECRET": "z"}


def test_optimize_prints_table_and_choice(stix, tmp_path):
    result = stix("optimize", task(tmp_path, "num_nodes: 2\nresources:\n  accelerators: A100:8\n"), **AWS)
    assert result.returncode == 0, result.stderr
    assert "Considered resources" in result.stdout
    chosen = [line for line in result.stdout.splitlines() if "✔" in line]
    # SkyPilot's catalog prices p4d at $21.95764 in us-east-2, a hair below us-east-1's $21.957642
    cost = f"{2 * price(bundled_row('aws', InstanceType='p4d.24xlarge', AvailabilityZone='us-east-2a')):.2f}"
    assert len(chosen) == 1 and "p4d.24xlarge" in chosen[0] and cost in chosen[0]
    assert f"Placement: aws p4d.24xlarge (A100:8) in us-east-2/us-east-2a, 2 nodes, ${cost}/hr" in result.stdout


def test_optimize_nothing_fits_is_one_line(stix, tmp_path):
    result = stix("optimize", task(tmp_path, "resources:\n  accelerators: A100:8\n"))
    assert result.returncode == 3
    assert result.stderr.strip() == ("stix: error: no placement for A100:8: offered on aws, azure, gcp, but enabled "
                                     "clouds are local (set up credentials, see `stix check`; `stix optimize TASK --clouds "
                                     "all` shows prices on every cloud)")


def test_optimize_local_task_is_free(stix, tmp_path):
    result = stix("optimize", "examples/hello.yaml", cwd=REPO)
    assert result.returncode == 0
    assert "Placement: the local cloud (nodes on this machine) in local/local-a, 2 nodes, $0.00/hr" in result.stdout


def test_gpus_lists_offers_cheapest_first(stix):
    result = stix("gpus", "A100:8")
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "│ A100 " in line]
    clouds = [line.split("│")[3].strip() for line in lines]
    assert clouds == ["aws", "azure", "gcp"]
    summary = stix("gpus")
    assert any(line.startswith("│ H100 ") and "aws, azure, gcp" in line for line in summary.stdout.splitlines())
    regions = stix("gpus", "H100:8", "--cloud", "aws", "--all-regions")
    assert regions.stdout.count("p5.48xlarge") == 4


def test_tables_through_a_pipe_keep_every_cell_whole(stix, tmp_path):
    """stdout is a pipe here: rich alone would squeeze the tables into 80 columns and cut cells with '…'."""
    body = "resources:\n  accelerators: {Inferentia2: 1, T4g: 1}\n"
    optimized = stix("optimize", task(tmp_path, body), "--clouds", "all")
    assert optimized.returncode == 0, optimized.stderr
    assert "…" not in optimized.stdout and "CREDENTIALS" in optimized.stdout
    assert any("g5g.2xlarge" in line and "us-east-1/us-east-1a" in line for line in optimized.stdout.splitlines())
    offers = stix("gpus", "Inferentia2", "--clouds", "all")
    assert "…" not in offers.stdout and "Inferentia2" in offers.stdout and "CREDENTIALS" in offers.stdout
    summary = stix("gpus")
    assert "…" not in summary.stdout and any("Radeon Pro V520" in line for line in summary.stdout.splitlines())


def test_gpus_unknown_name_suggests(stix):
    result = stix("gpus", "H1OO")
    assert result.returncode == 2 and "did you mean 'H100'" in result.stderr


def test_check_reports_clouds_from_environment(stix, tmp_path):
    result = stix("check", HOME=str(tmp_path), **AWS, **GCP_AND_AZURE)
    lines = result.stdout.splitlines()
    assert "enabled  aws         AWS_ACCESS_KEY_ID in the environment" in lines
    assert any(line.startswith("disabled gcp") for line in lines)
    assert lines[-1] == "enabled clouds: local, aws, azure"


def test_preview_shows_placement_and_cost(stix, engine):
    result = stix("preview", str(REPO / "examples/hello.yaml"))
    assert result.returncode == 0, result.stderr
    assert "Placement: the local cloud (nodes on this machine) in local/local-a, 2 nodes, $0.00/hr" in result.stdout


def test_up_on_a_cloud_without_its_plugin_says_how_to_install_it(stix, tmp_path):
    result = stix("up", "-y", task(tmp_path, "resources:\n  cpus: 64+\nrun: x\n"), **AWS)
    assert result.returncode == 1
    assert "Placement: aws" in result.stdout and "/hr" in result.stdout
    assert result.stderr.startswith("stix: error: provisioning on aws needs the Pulumi aws provider plugin")
