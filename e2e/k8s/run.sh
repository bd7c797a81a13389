#!/usr/bin/env bash
# The Kubernetes end-to-end suite (e2e/k8s/README.md): on a kind cluster, the chart's operator, a
# MariaDB primary, a 3-pod KingbusCluster replicating it, a MariaDB replica of kingbus, and the
# Raft leader's pod force-deleted under writes. Every step is bounded; a failure names the step,
# saves diagnostics and exits 1. Not part of `make test` (no cluster there).
#
#   e2e/k8s/run.sh                         # creates the kind cluster kingbus-e2e (3 workers)
#   KIND_CLUSTER=dev e2e/k8s/run.sh        # an existing kind cluster instead
#
# Environment (defaults in brackets):
#   KIND_CLUSTER        existing kind cluster to use [unset: create kingbus-e2e]
#   KIND_NODE_IMAGE     node image of the created cluster [kind's default]
#   IMAGE               kingbus image to build and load [kingbus:e2e-<time>]
#   SKIP_BUILD=1        do not build IMAGE: load it as it is in the local Docker
#   MARIADB_IMAGE       image of the MariaDB pods and the workload [mariadb:10.11]
#   NAMESPACE           namespace of the test objects, re-created [kingbus-e2e]
#   CLEANUP             on-success | always | never [on-success]: delete the created cluster (or,
#                       with KIND_CLUSTER, the namespace and the release) at the end
#   ARTIFACTS           where logs and diagnostics go [a new directory under /tmp]
#   OPERATOR_LOG_LEVEL  the chart's logLevel [info]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MANIFESTS="$HERE/manifests"

# Names fixed by the manifests (e2e/k8s/manifests.test.ts checks they agree).
CLUSTER_NAME=e2e                      # metadata.name in kingbus-cluster.yaml
KINGBUS_STS="kingbus-$CLUSTER_NAME"   # the operator's StatefulSet, also the client Service
PRIMARY_POD=mariadb-primary-0
REPLICA_POD=mariadb-replica-0
WORKLOAD_JOB=workload
DEFAULT_MARIADB_IMAGE=mariadb:10.11   # the image the manifests name

CREATED_KIND_NAME=kingbus-e2e
NAMESPACE=${NAMESPACE:-kingbus-e2e}
OPERATOR_NAMESPACE=kingbus-system
RELEASE=kingbus-operator
MARIADB_IMAGE=${MARIADB_IMAGE:-$DEFAULT_MARIADB_IMAGE}
IMAGE=${IMAGE:-kingbus:e2e-$(date +%Y%m%d%H%M%S)}
CLEANUP=${CLEANUP:-on-success}
OPERATOR_LOG_LEVEL=${OPERATOR_LOG_LEVEL:-info}
ARTIFACTS=${ARTIFACTS:-$(mktemp -d /tmp/kingbus-e2e-k8s.XXXXXX)}
mkdir -p "$ARTIFACTS"

START=$SECONDS
STEP="start"
LAST=""          # what the last poll saw, for the failure message
CREATED_CLUSTER=0
CONTEXT=""
KC=()            # kubectl with the cluster's context, for `bounded` (which runs programs, not functions)
KN=()            # the same in the test namespace
declare -a SUMMARY=()

log() { printf '%s [%4ds] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - START))" "$*" >&2; }
fail() {
  printf '\ne2e/k8s: FAILED at step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}
step() { STEP=$1; log "== $1"; }
note() { SUMMARY+=("$1"); log "$1"; }

# bounded SECONDS WHAT COMMAND...: run COMMAND; fail naming WHAT when it fails or outlasts SECONDS.
bounded() {
  local secs=$1 what=$2 rc=0
  shift 2
  if declare -F "$1" >/dev/null; then fail "bounded: $1 is a shell function; timeout runs programs only"; fi
  log "$what (at most ${secs}s)"
  timeout --kill-after=10 "$secs" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "$what: not done within ${secs}s"; fi
  if [ "$rc" -ne 0 ]; then fail "$what: exited with status $rc"; fi
}

# poll SECONDS WHAT COMMAND...: run COMMAND every 2 s until it succeeds; fail after SECONDS.
poll() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  LAST=""
  log "waiting: $what (at most ${secs}s)"
  until "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then fail "$what: not within ${secs}s${LAST:+ (last seen: $LAST)}"; fi
    sleep 2
  done
}

# Every kubectl call is bounded too (a hung API server or exec fails the poll, not the run).
k() { timeout --kill-after=5 60 "${KC[@]}" "$@"; }
kn() { timeout --kill-after=5 60 "${KN[@]}" "$@"; }
# apply_manifest FILE WHAT: the manifest, with MARIADB_IMAGE for the MariaDB image, applied to the
# test namespace (the rendered copy is kept in the artifacts).
apply_manifest() {
  local out="$ARTIFACTS/manifests/$1"
  mkdir -p "$ARTIFACTS/manifests"
  sed "s|image: $DEFAULT_MARIADB_IMAGE\$|image: $MARIADB_IMAGE|" "$MANIFESTS/$1" >"$out"
  bounded 60 "$2" "${KN[@]}" apply -f "$out"
}

sql() { local pod=$1; shift; kn exec "$pod" -c mariadb -- sh /scripts/sql.sh "$@"; }
# A GTID position with its domains sorted: "5-1-3,1-1-169" and "1-1-169,5-1-3" are one position.
norm_gtid() { tr -d ' \t\r' | tr ',' '\n' | { grep -v '^$' || true; } | sort | paste -sd, -; }
primary_pos() { sql "$PRIMARY_POD" -N -e 'SELECT @@GLOBAL.gtid_binlog_pos' | norm_gtid; }
replica_pos() { sql "$REPLICA_POD" -N -e 'SELECT @@GLOBAL.gtid_slave_pos' | norm_gtid; }
kbc() { kn get kingbuscluster "$CLUSTER_NAME" -o "jsonpath={$1}"; }
kingbus_pos() { kbc .status.syncer.executedGtidSet | norm_gtid; }

# --- conditions polled -------------------------------------------------------------------------

kingbus_at_primary() {
  local p s
  p=$(primary_pos) || return 1
  s=$(kingbus_pos) || return 1
  LAST="primary @@gtid_binlog_pos '$p', status.syncer.executedGtidSet '$s'"
  [ -n "$p" ] && [ "$p" = "$s" ]
}

replica_status() { kn exec "$REPLICA_POD" -c mariadb -- sh /scripts/replica-status.sh; }
status_field() { printf '%s\n' "$1" | sed -n "s/^$2=//p"; }

# The replica at the primary's position; a stopped SQL thread or an SQL error fails at once (an
# IO error is normal for a while after its pod vanished: it reconnects through the Service).
replica_at_primary() {
  local st p r
  st=$(replica_status) || return 1
  if [ "$(status_field "$st" Slave_SQL_Running)" != "Yes" ] || [ "$(status_field "$st" Last_SQL_Errno)" != "0" ]; then
    fail "replica SQL thread: $(status_field "$st" Slave_SQL_Running), error $(status_field "$st" Last_SQL_Errno): $(status_field "$st" Last_SQL_Error)"
  fi
  p=$(primary_pos) || return 1
  r=$(replica_pos) || return 1
  LAST="primary '$p', replica gtid_slave_pos '$r', IO thread $(status_field "$st" Slave_IO_Running) $(status_field "$st" Last_IO_Error)"
  [ -n "$p" ] && [ "$p" = "$r" ]
}

pod_ready() {
  local ready
  ready=$(kn get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || return 1
  LAST="pod $1 Ready=$ready"
  [ "$ready" = "True" ]
}

members_ready() {
  local n
  n=$(kbc .status.readyMembers) || return 1
  LAST="status.readyMembers=$n, leader=$(kbc .status.leader || true)"
  [ "$n" = "3" ]
}

OLD_LEADER=""
new_leader() {
  local l
  l=$(kbc .status.leader) || return 1
  LAST="status.leader='$l'"
  [ -n "$l" ] && [ "$l" != "$OLD_LEADER" ]
}

job_done() {
  local ok failed
  ok=$(kn get job "$WORKLOAD_JOB" -o 'jsonpath={.status.succeeded}') || return 1
  failed=$(kn get job "$WORKLOAD_JOB" -o 'jsonpath={.status.failed}') || return 1
  if [ -n "$failed" ] && [ "$failed" != "0" ]; then
    kn logs "job/$WORKLOAD_JOB" >&2 || true
    fail "the workload Job failed (its log is above)"
  fi
  LAST="job $WORKLOAD_JOB succeeded=${ok:-0}"
  [ "${ok:-0}" -ge 1 ]
}

POS_BEFORE=""
writes_flowing() {
  local p
  p=$(primary_pos) || return 1
  LAST="primary at '$p' (before the workload: '$POS_BEFORE')"
  [ "$p" != "$POS_BEFORE" ]
}

job_running() {
  local phase
  phase=$(kn get pods -l "job-name=$WORKLOAD_JOB" -o 'jsonpath={.items[0].status.phase}' 2>/dev/null) || return 1
  LAST="workload pod phase '$phase'"
  case "$phase" in Running | Succeeded) return 0 ;; Failed) job_done ;; *) return 1 ;; esac
}

# --- steps -------------------------------------------------------------------------------------

start_workload() {
  # Foreground: the old run's pod is gone too, so it is never mistaken for the new one's.
  bounded 180 "delete the previous workload Job" "${KN[@]}" delete job "$WORKLOAD_JOB" --ignore-not-found --cascade=foreground --wait=true
  apply_manifest workload-job.yaml "start the workload Job ($1)"
}

finish_workload() {
  poll 900 "the workload Job ($1) to succeed" job_done
  kn logs "job/$WORKLOAD_JOB" >"$ARTIFACTS/workload-$1.log" 2>&1 || true
  log "workload ($1): $(tail -n 1 "$ARTIFACTS/workload-$1.log")"
}

compare_checksums() {
  local a b
  log "CHECKSUM TABLE ... EXTENDED on the primary and the replica (at most 300s each)"
  a=$(timeout 300 "${KN[@]}" exec "$PRIMARY_POD" -c mariadb -- sh /scripts/checksums.sh) || fail "CHECKSUM TABLE on the primary failed or took longer than 300s"
  b=$(timeout 300 "${KN[@]}" exec "$REPLICA_POD" -c mariadb -- sh /scripts/checksums.sh) || fail "CHECKSUM TABLE on the replica failed or took longer than 300s"
  printf '%s\n' "$a" >"$ARTIFACTS/checksums-primary-$1.txt"
  printf '%s\n' "$b" >"$ARTIFACTS/checksums-replica-$1.txt"
  if [ "$a" != "$b" ]; then
    diff "$ARTIFACTS/checksums-primary-$1.txt" "$ARTIFACTS/checksums-replica-$1.txt" >&2 || true
    fail "CHECKSUM TABLE differs between the primary and the replica (above: < primary, > replica)"
  fi
  note "checksums ($1): $(printf '%s\n' "$a" | wc -l | tr -d ' ') tables of e2e equal on the primary and the replica"
}

diagnostics() {
  [ -n "$CONTEXT" ] || return 0
  log "diagnostics in $ARTIFACTS"
  local d=$ARTIFACTS
  {
    k get nodes -o wide
    kn get kingbuscluster,statefulsets,pods,services,pvc,jobs -o wide
    k -n "$OPERATOR_NAMESPACE" get pods -o wide
  } >"$d/objects.txt" 2>&1 || true
  kn get kingbuscluster "$CLUSTER_NAME" -o yaml >"$d/kingbuscluster.yaml" 2>&1 || true
  kn get events --sort-by=.lastTimestamp >"$d/events.txt" 2>&1 || true
  kn describe pods >"$d/pods-describe.txt" 2>&1 || true
  k -n "$OPERATOR_NAMESPACE" logs -l "app.kubernetes.io/name=kingbus-operator" --tail=-1 --prefix >"$d/operator.log" 2>&1 || true
  local pod
  for pod in $(kn get pods -l "app.kubernetes.io/instance=$CLUSTER_NAME" -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null || true); do
    kn logs "$pod" -c kingbus >"$d/$pod.log" 2>&1 || true
    kn logs "$pod" -c kingbus --previous >"$d/$pod.previous.log" 2>/dev/null || true
    kn exec "$pod" -c kingbus -- kingbus ctl --endpoint 127.0.0.1:9696 --token-file /run/secrets/kingbus/admin-token status >"$d/$pod.ctl-status.txt" 2>&1 || true
    kn exec "$pod" -c kingbus -- kingbus ctl --endpoint 127.0.0.1:9696 --token-file /run/secrets/kingbus/admin-token syncer status >"$d/$pod.ctl-syncer.txt" 2>&1 || true
  done
  kn logs "job/$WORKLOAD_JOB" >"$d/workload-last.log" 2>&1 || true
  replica_status >"$d/replica-status.txt" 2>&1 || true
  primary_pos >"$d/primary-position.txt" 2>&1 || true
  log "status of the KingbusCluster:"
  kn get kingbuscluster "$CLUSTER_NAME" -o 'jsonpath={.status}' >&2 2>/dev/null || true
  printf '\n' >&2
  log "last lines of the operator's log:"
  tail -n 30 "$d/operator.log" >&2 || true
}

on_exit() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ]; then diagnostics; fi
  local clean=0
  case "$CLEANUP" in always) clean=1 ;; on-success) [ "$rc" -eq 0 ] && clean=1 ;; esac
  if [ "$clean" -eq 1 ] && [ "$CREATED_CLUSTER" -eq 1 ]; then
    log "deleting the kind cluster $KIND_NAME"
    timeout 300 kind delete cluster --name "$KIND_NAME"
  elif [ "$clean" -eq 1 ] && [ -n "$CONTEXT" ]; then
    log "deleting the namespace $NAMESPACE and the release $RELEASE"
    timeout 300 kubectl --context "$CONTEXT" delete namespace "$NAMESPACE" --ignore-not-found --wait=true
    timeout 300 helm --kube-context "$CONTEXT" uninstall "$RELEASE" -n "$OPERATOR_NAMESPACE" --wait
  elif [ -n "$CONTEXT" ]; then
    log "left in place: kubectl --context $CONTEXT -n $NAMESPACE get kingbuscluster,pods"
    if [ "$CREATED_CLUSTER" -eq 1 ]; then log "delete it with: kind delete cluster --name $KIND_NAME"; fi
  fi
  if [ "$rc" -ne 0 ]; then log "FAILED at step \"$STEP\" after $((SECONDS - START))s; logs and diagnostics in $ARTIFACTS"; fi
  exit "$rc"
}
trap on_exit EXIT

# --- the run -----------------------------------------------------------------------------------

step "prerequisites"
for tool in kind kubectl helm docker timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not on the PATH (see e2e/k8s/README.md, Prerequisites)"
done
case "$CLEANUP" in on-success | always | never) ;; *) fail "CLEANUP must be on-success, always or never, not '$CLEANUP'" ;; esac
case "$IMAGE" in *:*) ;; *) fail "IMAGE must be repository:tag, not '$IMAGE'" ;; esac
IMAGE_REPO=${IMAGE%:*}
IMAGE_TAG=${IMAGE##*:}
bounded 30 "the Docker daemon answers" docker info --format '{{.ServerVersion}}'
log "artifacts: $ARTIFACTS"

step "kind cluster"
if [ -n "${KIND_CLUSTER:-}" ]; then
  KIND_NAME=$KIND_CLUSTER
  grep -qx "$KIND_NAME" <<<"$(kind get clusters 2>/dev/null || true)" || fail "KIND_CLUSTER=$KIND_NAME: no such kind cluster (kind get clusters)"
else
  KIND_NAME=$CREATED_KIND_NAME
  if grep -qx "$KIND_NAME" <<<"$(kind get clusters 2>/dev/null || true)"; then
    fail "a kind cluster named $KIND_NAME exists already: run with KIND_CLUSTER=$KIND_NAME to use it, or delete it (kind delete cluster --name $KIND_NAME)"
  fi
  CREATED_CLUSTER=1
  kind_args=(create cluster --name "$KIND_NAME" --config "$HERE/kind.yaml" --wait 300s)
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then kind_args+=(--image "$KIND_NODE_IMAGE"); fi
  bounded 600 "create the kind cluster $KIND_NAME (1 control plane, 3 workers)" kind "${kind_args[@]}"
fi
CONTEXT="kind-$KIND_NAME"
KC=(kubectl --context "$CONTEXT")
KN=(kubectl --context "$CONTEXT" -n "$NAMESPACE")
bounded 60 "the API server answers" "${KC[@]}" get nodes
workers=$({ k get nodes --no-headers -l '!node-role.kubernetes.io/control-plane' || true; } | wc -l | tr -d ' ')
[ "$workers" -ge 3 ] || log "warning: $workers worker nodes (3 spread the kingbus pods one per node)"

step "image"
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  bounded 1800 "docker build -t $IMAGE (the repository's Dockerfile)" docker build -t "$IMAGE" "$ROOT"
fi
bounded 30 "the image $IMAGE exists locally" docker image inspect "$IMAGE" --format '{{.Id}}'
bounded 600 "kind load docker-image $IMAGE" kind load docker-image "$IMAGE" --name "$KIND_NAME"
# Loaded rather than pulled by every node: no Docker Hub rate limit in the middle of a run.
if ! docker image inspect "$MARIADB_IMAGE" >/dev/null 2>&1; then
  bounded 600 "docker pull $MARIADB_IMAGE" docker pull "$MARIADB_IMAGE"
fi
bounded 600 "kind load docker-image $MARIADB_IMAGE" kind load docker-image "$MARIADB_IMAGE" --name "$KIND_NAME"

step "operator (the chart)"
# helm installs the CRD only on a first install; applying it first keeps a re-used cluster's CRD current.
bounded 60 "apply the CRD (crds/)" "${KC[@]}" apply --server-side --force-conflicts -f "$ROOT/crds/"
bounded 360 "helm upgrade --install $RELEASE charts/kingbus-operator" \
  helm --kube-context "$CONTEXT" upgrade --install "$RELEASE" "$ROOT/charts/kingbus-operator" \
  --namespace "$OPERATOR_NAMESPACE" --create-namespace \
  --set image.repository="$IMAGE_REPO" --set image.tag="$IMAGE_TAG" --set image.pullPolicy=IfNotPresent \
  --set logLevel="$OPERATOR_LOG_LEVEL" --wait --timeout 300s
bounded 200 "the operator Deployment is rolled out" "${KC[@]}" -n "$OPERATOR_NAMESPACE" rollout status "deployment/$RELEASE" --timeout=180s
note "operator: $RELEASE in $OPERATOR_NAMESPACE, image $IMAGE"

step "namespace $NAMESPACE"
if k get namespace "$NAMESPACE" >/dev/null 2>&1; then
  bounded 360 "delete the namespace $NAMESPACE left by an earlier run" "${KC[@]}" delete namespace "$NAMESPACE" --wait=true --timeout=300s
fi
bounded 60 "create the namespace $NAMESPACE" "${KC[@]}" create namespace "$NAMESPACE"

step "MariaDB primary"
apply_manifest secrets.yaml "apply the Secrets"
apply_manifest mariadb-scripts.yaml "apply the scripts ConfigMap"
apply_manifest mariadb-primary.yaml "apply the MariaDB primary"
poll 420 "$PRIMARY_POD ready" pod_ready "$PRIMARY_POD"
settings=$(sql "$PRIMARY_POD" -N -e "SELECT CONCAT_WS(' ', @@log_bin, @@binlog_format, @@gtid_domain_id, @@server_id, @@rpl_semi_sync_master_enabled)") ||
  fail "cannot query the primary's settings"
[ "$settings" = "1 ROW 1 1 1" ] || fail "the primary's log_bin, binlog_format, gtid_domain_id, server_id, rpl_semi_sync_master_enabled are '$settings', not '1 ROW 1 1 1'"
note "primary: log_bin, ROW, GTID domain 1, server_id 1, semi-sync on"

step "KingbusCluster"
apply_manifest kingbus-cluster.yaml "apply the KingbusCluster $CLUSTER_NAME"
bounded 660 "condition Available" "${KN[@]}" wait --for=condition=Available "kingbuscluster/$CLUSTER_NAME" --timeout=600s
bounded 360 "condition SyncerRunning" "${KN[@]}" wait --for=condition=SyncerRunning "kingbuscluster/$CLUSTER_NAME" --timeout=300s
bounded 360 "condition ServerRunning" "${KN[@]}" wait --for=condition=ServerRunning "kingbuscluster/$CLUSTER_NAME" --timeout=300s
poll 300 "3 ready members" members_ready
note "cluster: $(kbc .status.readyMembers) ready members, leader $(kbc .status.leader), pods on nodes: $(kn get pods -l "app.kubernetes.io/instance=$CLUSTER_NAME" -o 'jsonpath={range .items[*]}{.metadata.name}@{.spec.nodeName} {end}')"

step "workload 1 and the syncer's position"
start_workload 1
finish_workload 1
poll 180 "status.syncer.executedGtidSet equal to the primary's @@gtid_binlog_pos" kingbus_at_primary
note "after workload 1: primary and kingbus at $(primary_pos)"

step "MariaDB replica of kingbus"
apply_manifest mariadb-replica.yaml "apply the MariaDB replica"
poll 420 "$REPLICA_POD ready" pod_ready "$REPLICA_POD"
bounded 60 "attach the replica to the Service $KINGBUS_STS (MASTER_USE_GTID=slave_pos)" "${KN[@]}" exec "$REPLICA_POD" -c mariadb -- sh /scripts/attach-replica.sh
poll 300 "the replica's gtid_slave_pos equal to the primary's position" replica_at_primary
note "replica: gtid_slave_pos $(replica_pos) through $KINGBUS_STS"
compare_checksums before-failover

step "failover: the leader pod force-deleted under writes"
OLD_LEADER=$(kbc .status.leader)
[ -n "$OLD_LEADER" ] || fail "status.leader is empty"
POS_BEFORE=$(primary_pos) || fail "cannot read the primary's position"
start_workload 2
poll 180 "the workload (2) running" job_running
poll 180 "the workload (2) writing (the primary's position moving)" writes_flowing
KILLED_AT=$SECONDS
bounded 60 "kubectl delete pod $OLD_LEADER --grace-period=0 --force (the Raft leader)" "${KN[@]}" delete pod "$OLD_LEADER" --grace-period=0 --force
poll 30 "a new leader in status.leader (not $OLD_LEADER)" new_leader
FAILOVER=$((SECONDS - KILLED_AT))
NEW_LEADER=$(kbc .status.leader)
ACTIVE=$(kn get job "$WORKLOAD_JOB" -o 'jsonpath={.status.active}' || true)
note "failover: $OLD_LEADER deleted while the workload wrote; $NEW_LEADER leads after ${FAILOVER}s (as status.leader shows it); the workload was $([ "${ACTIVE:-0}" = "1" ] && echo "still writing" || echo "done") by then"
finish_workload 2
bounded 360 "condition Available again" "${KN[@]}" wait --for=condition=Available "kingbuscluster/$CLUSTER_NAME" --timeout=300s
bounded 360 "condition SyncerRunning again" "${KN[@]}" wait --for=condition=SyncerRunning "kingbuscluster/$CLUSTER_NAME" --timeout=300s
poll 300 "the deleted pod back: 3 ready members" members_ready
poll 180 "status.syncer.executedGtidSet equal to the primary's position after the failover" kingbus_at_primary

step "replication continues"
start_workload 3
finish_workload 3
poll 180 "status.syncer.executedGtidSet equal to the primary's position" kingbus_at_primary
poll 300 "the replica at the primary's position" replica_at_primary
compare_checksums after-failover
FINAL_POS=$(primary_pos)
note "after workloads 2 and 3: primary, kingbus and replica at $FINAL_POS"

step "summary"
kn get kingbuscluster "$CLUSTER_NAME" -o wide >&2 || true
{
  printf 'kingbus e2e/k8s: PASSED in %ss\n' "$((SECONDS - START))"
  printf '  kind cluster   %s (context %s)\n' "$KIND_NAME" "$CONTEXT"
  printf '  image          %s\n' "$IMAGE"
  printf '  leader         %s -> %s in %ss\n' "$OLD_LEADER" "$NEW_LEADER" "$FAILOVER"
  printf '  GTID position  %s (primary = status.syncer.executedGtidSet = replica)\n' "$FINAL_POS"
  for line in "${SUMMARY[@]}"; do printf '  - %s\n' "$line"; done
  printf '  artifacts      %s\n' "$ARTIFACTS"
} | tee "$ARTIFACTS/summary.txt"
