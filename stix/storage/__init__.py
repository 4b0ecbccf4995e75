"""Storage: buckets as components, and what nodes see of them.

The storage stage sits beside compile, once per launch, downward:
    Task.file_mounts --plan (pure)--> StorageMount records (stix.storage.mounts)
      --> buckets: non-persistent ones in the cluster's stack (ClusterSpec.buckets), persistent ones in
          stacks of their own (stix.storage.stacks)
      --> local sources uploaded from this machine with rclone (stix.storage.upload)
      --> on every node: rclone installed where missing, its config written, COPY fetched, MOUNT and
          MOUNT_CACHED mounted with FUSE (stix.storage.attach)
Every store is reached with rclone; a store is the bucket capability (components.base.Buckets) of the
cloud whose store it is, so no table here names clouds.
"""
