"""A SkyPilot 0.14 SDK script, as a SkyPilot user writes it. tests/e2e/test_sdk_script.py runs it with only its
import line changed; nothing below knows about stix."""

import sys

import sky

cluster = sys.argv[1]

assert sky.Resources(accelerators='A100:8').accelerators == {'A100': 8}

task = sky.Task(
    name='sdk-demo',
    setup='echo "setup on rank $SKYPILOT_NODE_RANK"',
    run='echo "hello from rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES, $GREETING"',
    num_nodes=2,
    envs={'GREETING': 'hi'},
)
task.set_resources(sky.Resources(infra='local', ports=8888))

# A dry run plans and changes nothing.
sky.stream_and_get(sky.launch(task, cluster_name=cluster, dryrun=True))
assert sky.get(sky.status(cluster_names=[cluster])) == []

request_id = sky.launch(task, cluster_name=cluster, idle_minutes_to_autostop=30)
job_id, handle = sky.stream_and_get(request_id)
print(f'launched job {job_id} on {handle.cluster_name}')

record = sky.get(sky.status(cluster_names=[cluster]))[0]
print(f"status {record['name']} {record['status'].value} autostop={record['autostop']} "
      f"to_down={record['to_down']} resources={record['resources_str']}")
assert record['status'] == sky.ClusterStatus.UP
assert isinstance(record['launched_at'], int)

exec_request = sky.exec(sky.Task(name='second', run='echo "exec says $GREETING"', envs={'GREETING': 'there'}),
                        cluster_name=cluster)
exec_job_id, _ = sky.stream_and_get(exec_request)

for job in sky.get(sky.queue(cluster)):
    print(f"job {job['job_id']} {job['job_name']} {job['status'].value}")

print(f'tail_logs exit {sky.tail_logs(cluster, job_id, follow=False)}')

endpoints = sky.get(sky.endpoints(cluster))
print(f'endpoint 8888 {endpoints[8888] == handle.head_ip + ":8888"}')

sky.get(sky.down(cluster))
print(f"remaining {[r['name'] for r in sky.get(sky.status())]}")
report = sky.get(sky.cost_report())
print(f"cost {[(r['name'], r['status'], r['num_nodes']) for r in report]}")
