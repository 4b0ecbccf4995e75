"""Credential detection reads the environment and the clouds' own config files, nothing else."""

from stix.credentials import check_clouds, enabled_clouds


def test_nothing_configured_means_local_only(tmp_path):
    assert enabled_clouds({"HOME": str(tmp_path)}) == ["local"]


def test_config_files_enable_clouds(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIA\naws_secret_access_key = x\n")
    gcloud = tmp_path / ".config" / "gcloud"
    gcloud.mkdir(parents=True)
    (gcloud / "application_default_credentials.json").write_text("{}")
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "azureProfile.json").write_text("{}")
    (tmp_path / ".azure" / "msal_token_cache.json").write_text("{}")
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\n")
    checks = {c.cloud: c for c in check_clouds({"HOME": str(tmp_path)})}
    assert all(checks[c].enabled for c in ("local", "aws", "gcp", "azure", "kubernetes"))
    assert checks["aws"].detail == f"credentials in {tmp_path / '.aws' / 'credentials'}"


def test_aws_config_without_keys_or_profiles_is_not_credentials(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = us-east-1\n")
    assert "aws" not in enabled_clouds({"HOME": str(tmp_path)})


def test_environment_variables(tmp_path):
    env = {"HOME": str(tmp_path), "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json"),
           "AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert enabled_clouds(env) == ["local", "azure", "kubernetes"]
