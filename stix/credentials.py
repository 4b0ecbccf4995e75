"""Which clouds are enabled: credentials found in the environment or the clouds' own config files.

No network call and no cloud SDK import: presence of credentials is what is
checked, not their validity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional


@dataclass(frozen=True)
class CloudCheck:
    cloud: str
    enabled: bool
    detail: str


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def check_aws(env: Mapping[str, str]) -> CloudCheck:
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return CloudCheck("aws", True, "AWS_ACCESS_KEY_ID in the environment")
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        return CloudCheck("aws", True, "web identity (AWS_ROLE_ARN)")
    files = [Path(env["AWS_SHARED_CREDENTIALS_FILE"])] if env.get("AWS_SHARED_CREDENTIALS_FILE") else []
    files += [_home(env) / ".aws" / "credentials"]
    for path in files:
        if path.is_file() and "aws_access_key_id" in path.read_text(errors="replace"):
            return CloudCheck("aws", True, f"credentials in {path}")
    config = Path(env.get("AWS_CONFIG_FILE") or _home(env) / ".aws" / "config")
    if config.is_file() and any(key in config.read_text(errors="replace") for key in ("sso_", "credential_process", "role_arn")):
        return CloudCheck("aws", True, f"profile in {config}")
    return CloudCheck("aws", False, "no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or run `aws configure`")


def check_gcp(env: Mapping[str, str]) -> CloudCheck:
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path and Path(path).is_file():
        return CloudCheck("gcp", True, f"GOOGLE_APPLICATION_CREDENTIALS={path}")
    adc = Path(env.get("CLOUDSDK_CONFIG") or _home(env) / ".config" / "gcloud") / "application_default_credentials.json"
    if adc.is_file():
        return CloudCheck("gcp", True, f"application default credentials in {adc}")
    return CloudCheck("gcp", False, "no credentials: run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS")


def check_azure(env: Mapping[str, str]) -> CloudCheck:
    if env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID") and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_FEDERATED_TOKEN_FILE")):
        return CloudCheck("azure", True, "service principal in the environment (AZURE_CLIENT_ID)")
    profile = Path(env.get("AZURE_CONFIG_DIR") or _home(env) / ".azure")
    if (profile / "azureProfile.json").is_file() and (profile / "msal_token_cache.json").is_file():
        return CloudCheck("azure", True, f"az login session in {profile}")
    return CloudCheck("azure", False, "no credentials: run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET")


def check_kubernetes(env: Mapping[str, str]) -> CloudCheck:
    for raw in (env.get("KUBECONFIG") or str(_home(env) / ".kube" / "config")).split(os.pathsep):
        if raw and Path(raw).is_file():
            return CloudCheck("kubernetes", True, f"kubeconfig {raw}")
    if env.get("KUBERNETES_SERVICE_HOST"):
        return CloudCheck("kubernetes", True, "in-cluster service account")
    return CloudCheck("kubernetes", False, "no kubeconfig: set KUBECONFIG or create ~/.kube/config")


def check_ssh(env: Mapping[str, str]) -> CloudCheck:
    from stix.pools import PoolError, load_pools, pools_file

    path = pools_file()
    try:
        pools = load_pools(path)
    except PoolError as exc:
        return CloudCheck("ssh", False, exc.message)
    if not pools:
        return CloudCheck("ssh", False, f"no SSH node pools: list your machines in {path}")
    return CloudCheck("ssh", True, f"pools {', '.join(sorted(pools))} in {path}")


CHECKS = {"aws": check_aws, "gcp": check_gcp, "azure": check_azure, "kubernetes": check_kubernetes, "ssh": check_ssh}


def check_clouds(env: Optional[Mapping[str, str]] = None) -> list[CloudCheck]:
    env = os.environ if env is None else env
    return [CloudCheck("local", True, "always enabled")] + [check(env) for check in CHECKS.values()]


def enabled_clouds(env: Optional[Mapping[str, str]] = None) -> list[str]:
    return [check.cloud for check in check_clouds(env) if check.enabled]
