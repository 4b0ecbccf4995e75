"""LocalBucket: a bucket in the local cloud's object store, as a Pulumi dynamic resource.

Its inputs are the bucket's name and the stix home whose store holds it, never a key: the provider reads
the home's credentials when it runs. The provider is pickled into state by reference to this module, so
importing it has no side effects. read() reports a bucket removed behind stix's back as gone (drift).
A bucket that already exists when stix creates one is adopted if it is empty, and refused if it holds
objects (someone else's data is never taken over, nor deleted with a cluster).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from stix.errors import ProvisionError

URI_SCHEME = "local"
TIMEOUT_S = 120.0
INPUT_KEYS = ("name", "home")


def url(name: str) -> str:
    return f"{URI_SCHEME}://{name}"


def _endpoint(home: str):
    from stix.home import StixHome
    from stix.objectstore import server

    return server.ensure_running(StixHome(Path(home)))


def _rclone(home: str, args: list[str], what: str):
    from stix.objectstore import s3

    done = s3.rclone(_endpoint(home), args, TIMEOUT_S)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ProvisionError(f"{what} in the local object store failed: {lines[-1] if lines else done.returncode}")
    return done


def buckets(home: str) -> set[str]:
    from stix.objectstore import s3

    listed = _rclone(home, ["lsf", "--dirs-only", f"{s3.REMOTE}:"], "listing buckets")
    return {line.rstrip("/") for line in listed.stdout.splitlines() if line.strip()}


def _empty(home: str, name: str) -> bool:
    from stix.objectstore import s3

    listed = _rclone(home, ["lsf", "-R", "--max-depth", "1", f"{s3.REMOTE}:{name}"], f"listing bucket {name}")
    return not listed.stdout.strip()


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    return {"name": props["name"], "home": props["home"], "url": url(props["name"])}


class LocalBucketProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        from stix.objectstore import s3

        name, home = props["name"], props["home"]
        if name in buckets(home) and not _empty(home, name):
            raise ProvisionError(f"bucket {name!r} already exists in the local object store and holds objects; "
                                 f"choose another name")
        _rclone(home, ["mkdir", f"{s3.REMOTE}:{name}"], f"creating bucket {name}")
        if name not in buckets(home):
            raise ProvisionError(f"bucket {name!r} was not created in the local object store")
        return CreateResult(name, _outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if id_ not in buckets(props["home"]):
            return ReadResult(None, {})
        outs = {**props, **_outputs({**props, "name": id_})}
        return ReadResult(id_, outs, {key: outs[key] for key in INPUT_KEYS})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in INPUT_KEYS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from stix.objectstore import s3

        if id_ in buckets(props["home"]):
            _rclone(props["home"], ["purge", f"{s3.REMOTE}:{id_}"], f"deleting bucket {id_}")


class LocalBucketResource(Resource, module="local", name="Bucket"):
    url: pulumi.Output[str]

    def __init__(self, name: str, *, bucket: str, home: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(LocalBucketProvider(), name, {"name": bucket, "home": home, "url": None}, opts)


@dataclass(frozen=True)
class LocalBucketArgs:
    bucket: str
    home: str
    """The stix home whose object store holds the bucket."""


class LocalBucket(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: LocalBucketArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:local:Bucket", name, None, opts)
        self.bucket = LocalBucketResource(f"{name}-bucket", bucket=args.bucket, home=args.home,
                                          opts=pulumi.ResourceOptions(parent=self))
        self.url = self.bucket.url
        self.register_outputs({"url": self.url})
