"""One service carried by the serve controller, on a thread of its own: every tick it probes the replicas,
measures the request rate at the balancer, plans (stix.serve.updates) and carries the plan out, and records
the statuses. Launches and teardowns run on a thread per replica, so a slow launch never stops the probes.

Replicas (see stix.serve.store for the statuses):
- launched: PENDING -> PROVISIONING (flows.up, detached run) -> STARTING; a launch that fails is FAILED,
  and the next launch waits a backoff that doubles with each failure in a row;
- STARTING -> READY at its first good probe; still not ready initial_delay_s after its cluster came up:
  FAILED (torn down, its row kept with `ended`);
- READY -> NOT_READY at a failed probe (out of the balancer at once), back to READY at a good one, FAILED
  and replaced once its probes have failed for failure_threshold_s;
- any of them whose head refuses connections (killed, preempted) -> PREEMPTED, torn down and replaced;
- retired (scale-in, replaced by an update): out of the balancer (drained) -> SHUTTING_DOWN -> torn down,
  its row forgotten.
At `serve down`: every replica torn down, then the service's stack (destroy_balancer), then its record.
"""

from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

from stix.errors import ProvisionError, StixError
from stix.home import StixHome
from stix.managed.controller import _seconds
from stix.serve import autoscaler, replica_ops, service_status
from stix.serve import store as st
from stix.serve.balancer import Backend, Balancer
from stix.serve.probe import ProbeResult, probe
from stix.serve.spec import QPS_WINDOW_S, ServiceSpec
from stix.serve.store import ReplicaRecord, ServiceRecord, ServiceStore
from stix.serve.updates import plan
from stix.session import Session

LogLine = Callable[[str], None]
TICK_ENV = "STIX_SERVE_TICK"
QPS_WINDOW_ENV = "STIX_SERVE_QPS_WINDOW"
BACKOFF_ENV = "STIX_SERVE_LAUNCH_BACKOFF"
MAX_BACKOFF_S = 300.0
PROBED = (st.STARTING, st.READY, st.NOT_READY)
SET_ASIDE = (st.FAILED, st.PREEMPTED, st.SHUTTING_DOWN)
"""Replicas on their way out: they hold no place in the plan (a replacement launches at once)."""
RESUME_S = 30.0
"""A replica left half done by its thread (a teardown that failed, a launch that hit a bug) is taken up again
at most this often."""


@dataclass(frozen=True)
class Knobs:
    tick_s: float = 1.0
    qps_window_s: float = QPS_WINDOW_S
    backoff_s: float = 10.0
    """The wait after a failed launch, doubled with each further failure in a row (at most MAX_BACKOFF_S)."""

    @classmethod
    def from_env(cls) -> "Knobs":
        return cls(tick_s=_seconds(TICK_ENV, 1.0), qps_window_s=_seconds(QPS_WINDOW_ENV, QPS_WINDOW_S),
                   backoff_s=_seconds(BACKOFF_ENV, 10.0))


class ServiceRunner:
    def __init__(self, home: StixHome, name: str, log: LogLine, launches: threading.Semaphore,
                 knobs: Optional[Knobs] = None) -> None:
        self.home = home
        self.name = name
        self.store = ServiceStore(home)
        self._log = log
        self.launches = launches
        self.knobs = knobs or Knobs.from_env()
        self.workers: dict[int, threading.Thread] = {}
        self.started: dict[int, float] = {}
        """When each replica's cluster came up (its initial delay runs from there)."""
        self.failing_since: dict[int, float] = {}
        self.next_probe: dict[int, float] = {}
        self.samples: list[autoscaler.Sample] = []
        self.scale: Optional[autoscaler.ScaleState] = None
        self.served: Optional[tuple[Backend, ...]] = None
        self.launch_failures = 0
        self.no_launch_before = 0.0
        self._balancer: Optional[Balancer] = None
        self.specs: dict[int, ServiceSpec] = {}
        self.version: Optional[int] = None
        """The service version the last tick ran toward (an update resets the launch backoff)."""
        self.retry_at: dict[int, float] = {}
        """When a replica left half done may be taken up again (see RESUME_S)."""
        self._lock = threading.Lock()

    def log(self, text: str) -> None:
        self._log(f"service {self.name}: {text}")

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._adopt()
            while True:
                record = self.store.get(self.name)
                if record is None:
                    return
                if record.down_requested:
                    self._shut_down(record)
                    return
                try:
                    self.tick(record)
                except StixError as exc:
                    self.log(f"tick failed (tried again): {exc}")
                time.sleep(self.knobs.tick_s)
        except StixError as exc:  # the controller takes the service up again (a failed teardown is retried)
            self.log(f"{exc}")
        except Exception as exc:  # noqa: BLE001 - a bug ends this service's thread, not the controller
            self.log(f"controller error: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    def _adopt(self) -> None:
        """Carry on from the store: what a previous controller left half done is done again."""
        now = time.time()
        replicas = self.store.replicas(self.name)
        for replica in replicas:
            if replica.status not in (st.PENDING, st.PROVISIONING, *SET_ASIDE):
                self.started[replica.replica_id] = now
        self._resume(replicas, "adopted")

    def _resume(self, replicas: list[ReplicaRecord], how: str) -> None:
        """Launch again, retire or end the live replicas that no thread carries (a previous controller's, or
        one whose thread failed: a teardown that raised, a launch that hit a bug), each at most every RESUME_S."""
        now = time.time()
        for replica in replicas:
            rid = replica.replica_id
            if replica.status not in (st.PENDING, st.PROVISIONING, *SET_ASIDE) or self._busy(rid) \
                    or self.retry_at.get(rid, 0.0) > now:
                continue
            if replica.status in (st.PENDING, st.PROVISIONING):
                self.log(f"replica {rid}: {how} {replica.status}; launching it again")
                self._spawn(rid, partial(self._launch, replica, True))
            elif replica.status == st.SHUTTING_DOWN:
                self.log(f"replica {rid}: {how} {replica.status}; tearing it down")
                self._spawn(rid, partial(self._retire, replica))
            else:
                self.log(f"replica {rid}: {how} {replica.status}; tearing it down")
                self._spawn(rid, partial(self._end, replica, replica.status, replica.failure))

    def tick(self, record: ServiceRecord) -> None:
        spec = self.store.version(self.name, record.version)
        if self.version is not None and record.version != self.version:
            with self._lock:  # a new version: launch it now, whatever the old one's launches did
                self.launch_failures = 0
                self.no_launch_before = 0.0
        self.version = record.version
        self._resume(self.store.replicas(self.name), "left")
        now = time.time()
        self._probe_all(now)
        rows = self.store.replicas(self.name, include_ended=True)
        active = [r for r in rows if r.ended is None and r.status not in SET_ASIDE]
        target = self._target(spec.spec, now)
        if spec.spec.use_spot:  # dynamic_ondemand_fallback: on-demand replicas cover spot ones not yet READY
            spot = [r for r in active if r.use_spot]
            mix = autoscaler.mix(spec.spec.policy, target, True, sum(1 for r in spot if r.status != st.READY))
            target = mix.spot + mix.on_demand
        step = plan(active, record.version, spec.mode, target)
        by_id = {r.replica_id: r for r in active}
        self._serve([by_id[i] for i in step.serving])
        for replica_id in step.retire:
            if not self._busy(replica_id):
                replica = by_id[replica_id]
                self.store.set_replica(self.name, replica_id, status=st.SHUTTING_DOWN)
                self.log(f"replica {replica_id}: retiring ({replica.status}, version {replica.version})")
                self._spawn(replica_id, partial(self._retire, replica))
        failed = service_status.failed_for_good([r for r in rows if r.version == record.version])
        if step.launch and not failed and time.time() >= self.no_launch_before:
            for _ in range(step.launch):
                self._new_replica(record, spec.spec, active)
        rows = [r for r in self.store.replicas(self.name, include_ended=True)
                if r.version == record.version or r.ended is None]
        status = service_status.derive(rows, target, False)
        now_record = self.store.get(self.name)
        if now_record is None or now_record.down_requested:  # `serve down` came during this tick: leave its status
            return
        if status != now_record.status:
            self.store.set_service(self.name, status=status,
                                   failure=(f"{service_status.FAILED_IN_A_ROW} replicas failed before any was ready; "
                                            f"see `stix serve logs {self.name} REPLICA_ID`") if status == st.FAILED else None)
            self.log(f"status {status}")

    # --- probes ------------------------------------------------------------------------------

    def _probe_all(self, now: float) -> None:
        """Probe the replicas that are due, each with its own version's probe (an update may change it)."""
        due = [r for r in self.store.replicas(self.name)
               if r.status in PROBED and r.url and not self._busy(r.replica_id)
               and self.next_probe.get(r.replica_id, 0.0) <= now]
        if not due:
            return
        specs = {r.replica_id: self._spec_of(r.version) for r in due}
        with ThreadPoolExecutor(max_workers=min(8, len(due))) as pool:
            results = list(pool.map(lambda r: probe(r.url or "", specs[r.replica_id].probe), due))
        for replica, result in zip(due, results):
            spec = specs[replica.replica_id]
            self.next_probe[replica.replica_id] = now + spec.probe.interval_s
            self._judge(replica, result, spec, time.time())

    def _labelled(self) -> bool:
        """Whether replicas carry the service's label: on a cloud whose nodes take labels (a Kubernetes balancer
        selects its pods by it); the local cloud's nodes have none."""
        from stix.components.base import cloud_for

        record = self.store.get(self.name)
        cloud = str((record.balancer if record else {}).get("cloud") or "")
        return bool(cloud) and cloud_for(cloud).vm_fields

    def _spec_of(self, version: int) -> ServiceSpec:
        if version not in self.specs:
            self.specs[version] = self.store.version(self.name, version).spec
        return self.specs[version]

    def _judge(self, replica: ReplicaRecord, result: ProbeResult, spec: ServiceSpec, now: float) -> None:
        rid = replica.replica_id
        if result.ready:
            self.failing_since.pop(rid, None)
            if replica.status != st.READY:
                self.store.set_replica(self.name, rid, status=st.READY,
                                       ready_at=replica.ready_at if replica.ready_at else now)
                self.log(f"replica {rid}: READY ({result.detail})")
            return
        if not replica_ops.head_reachable(self.home, replica.cluster):
            self._set_aside(replica, st.PREEMPTED, f"its head stopped answering ({result.detail})")
            return
        if replica.status == st.STARTING:
            began = self.started.setdefault(rid, now)
            if now - began > spec.probe.initial_delay_s:
                self._set_aside(replica, st.FAILED, f"not ready {spec.probe.initial_delay_s:g}s after it started "
                                                    f"(initial_delay_seconds; last probe: {result.detail})")
            return
        since = self.failing_since.setdefault(rid, now)
        if replica.status == st.READY:
            self.store.set_replica(self.name, rid, status=st.NOT_READY)
            self.log(f"replica {rid}: NOT_READY ({result.detail})")
        elif now - since > spec.probe.failure_threshold_s:
            self._set_aside(replica, st.FAILED, f"probes failed for {now - since:.0f}s ({result.detail})")

    def _set_aside(self, replica: ReplicaRecord, status: str, why: str) -> None:
        """Out of the balancer now (this tick's plan skips it), torn down on its own thread."""
        self.store.set_replica(self.name, replica.replica_id, status=status, failure=why)
        self.log(f"replica {replica.replica_id}: {status}: {why}")
        self._spawn(replica.replica_id, partial(self._end, replica, status, why))

    # --- scale -------------------------------------------------------------------------------

    def _target(self, spec: ServiceSpec, now: float) -> int:
        policy = spec.policy
        if self.scale is None:
            self.scale = autoscaler.initial(policy)
        if not policy.autoscales:
            self.scale = autoscaler.initial(policy)
            return autoscaler.final_target(policy, self.scale)
        try:
            total = self.balancer().requests_total()
        except StixError as exc:
            self.log(f"could not read the balancer's request count: {exc}")
            return autoscaler.final_target(policy, self.scale)
        self.samples = autoscaler.trim(self.samples + [(now, total)], now, self.knobs.qps_window_s)
        rate = autoscaler.qps(self.samples, now, self.knobs.qps_window_s)
        before = self.scale.target
        self.scale = autoscaler.step(policy, self.scale, rate, now)
        if self.scale.target != before:
            self.log(f"autoscaler: {rate:.2f} requests/s, target {before} -> {self.scale.target} replicas")
        return autoscaler.final_target(policy, self.scale)

    def balancer(self) -> Balancer:
        if self._balancer is None:
            from stix.serve.lb_stack import balancer_from

            record = self.store.get(self.name)
            assert record is not None
            self._balancer = balancer_from(self.home, record)
        return self._balancer

    def _serve(self, replicas: list[ReplicaRecord]) -> None:
        backends = tuple(Backend(f"replica-{r.replica_id}", r.ip or "", r.port or 0) for r in replicas)
        if backends == self.served:
            return
        self.balancer().set_backends(list(backends))
        self.served = backends
        self.log(f"balancer serves {', '.join(b.name for b in backends) or 'no replica'}")

    # --- replicas ----------------------------------------------------------------------------

    def _busy(self, replica_id: int) -> bool:
        thread = self.workers.get(replica_id)
        return thread is not None and thread.is_alive()

    def _spawn(self, replica_id: int, work: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - logged; the next tick sees the replica as it was left
                self.log(f"replica {replica_id}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")

        thread = threading.Thread(target=guarded, name=f"{self.name}-replica-{replica_id}", daemon=True)
        self.workers[replica_id] = thread
        self.retry_at[replica_id] = time.time() + RESUME_S
        thread.start()

    def _new_replica(self, record: ServiceRecord, spec: ServiceSpec, active: list[ReplicaRecord]) -> None:
        use_spot = False
        if spec.use_spot:
            target = autoscaler.final_target(spec.policy, self.scale or autoscaler.initial(spec.policy))
            spot = [r for r in active if r.use_spot]
            not_ready = sum(1 for r in spot if r.status != st.READY)
            use_spot = len(spot) < autoscaler.mix(spec.policy, target, True, not_ready).spot
        replica = self.store.new_replica(self.name, record.version, use_spot=use_spot,
                                         taken=partial(replica_ops.exists, self.home))
        active.append(replica)
        self.log(f"replica {replica.replica_id}: launching cluster {replica.cluster} (version {record.version}"
                 + (", spot)" if use_spot else ")"))
        self._spawn(replica.replica_id, partial(self._launch, replica, False))

    def _launch(self, replica: ReplicaRecord, relaunch: bool) -> None:
        rid = replica.replica_id
        log = replica_ops.ReplicaLog(self.store.replica_log(self.name, rid))
        spec = self._spec_of(replica.version)
        self.store.set_replica(self.name, rid, status=st.PROVISIONING)
        try:
            if relaunch and replica_ops.exists(self.home, replica.cluster):  # its run may or may not be submitted
                replica_ops.teardown(self.home, replica.cluster, log)
            task = replica_ops.replica_task(self.store.task_of(self.name, replica.version), spec.replica_port, rid,
                                            use_spot=replica.use_spot if spec.use_spot else None,
                                            service=self.name if self._labelled() else "")
            with self.launches:
                launched = replica_ops.launch(self.home, replica.cluster, task, log)
        except Exception as exc:  # noqa: BLE001 - a bug too leaves the replica FAILED, not PROVISIONING for good
            if not isinstance(exc, StixError):
                log.line(traceback.format_exc().rstrip())
                exc = StixError(f"{type(exc).__name__}: {exc}")
            with self._lock:
                self.launch_failures += 1
                wait = min(MAX_BACKOFF_S, self.knobs.backoff_s * 2 ** (self.launch_failures - 1))
                self.no_launch_before = time.time() + wait
            log.line(f"stix: error: {exc}")
            self.log(f"replica {rid}: launch failed ({exc}); next launch in {wait:g}s at the earliest")
            self.store.set_replica(self.name, rid, status=st.FAILED, failure=f"launch failed: {exc}")
            self._end(replica, st.FAILED, str(exc))
            return
        with self._lock:
            self.launch_failures = 0
        self.started[rid] = time.time()
        self.store.set_replica(self.name, rid, status=st.STARTING, ip=launched.ip, port=spec.replica_port,
                               agent_job=launched.agent_job)
        self.log(f"replica {rid}: STARTING at {launched.ip}:{spec.replica_port} (agent job {launched.agent_job})")

    def _end(self, replica: ReplicaRecord, status: str, why: Optional[str]) -> None:
        """Tear a failed or preempted replica's cluster down; its row stays, ended, for `serve status`."""
        log = replica_ops.ReplicaLog(self.store.replica_log(self.name, replica.replica_id))
        log.line(f"stix: replica {replica.replica_id} {status}" + (f": {why}" if why else ""))
        replica_ops.teardown(self.home, replica.cluster, log)
        self.store.set_replica(self.name, replica.replica_id, ended=time.time())
        self.log(f"replica {replica.replica_id}: cluster {replica.cluster} torn down")

    def _retire(self, replica: ReplicaRecord) -> None:
        log = replica_ops.ReplicaLog(self.store.replica_log(self.name, replica.replica_id))
        replica_ops.teardown(self.home, replica.cluster, log)
        self.store.forget_replica(self.name, replica.replica_id)
        self.log(f"replica {replica.replica_id}: retired, cluster {replica.cluster} torn down")

    # --- down --------------------------------------------------------------------------------

    def _shut_down(self, record: ServiceRecord) -> None:
        from stix.serve.lb_stack import destroy_balancer

        self.store.set_service(self.name, status=st.SHUTTING_DOWN)
        self.log("shutting down")
        for thread in list(self.workers.values()):
            thread.join()
        rows = self.store.replicas(self.name, include_ended=True)
        for replica in rows:
            if replica.ended is None:
                self.store.set_replica(self.name, replica.replica_id, status=st.SHUTTING_DOWN)
        self.workers.clear()
        for replica in rows:
            if replica.ended is None or replica_ops.exists(self.home, replica.cluster):
                log = replica_ops.ReplicaLog(self.store.replica_log(self.name, replica.replica_id))
                self._spawn(replica.replica_id, partial(replica_ops.teardown, self.home, replica.cluster, log))
        for thread in list(self.workers.values()):
            thread.join()
        left = [r.cluster for r in rows if replica_ops.exists(self.home, r.cluster)]
        if left:
            raise ProvisionError(f"replica cluster(s) {', '.join(left)} could not be torn down; "
                            f"`stix destroy` removes them, `stix serve down {self.name}` tries again")
        destroy_balancer(Session(self.home), self.name)
        self.store.remove_service(self.name)
        self.log("down: replicas and load balancer removed")
