/**
 * An in-process Kubernetes API server for controller tests. Tests point a real
 * @kubernetes/client-node KubeConfig (api.kubeConfig()) at it over HTTP on 127.0.0.1 and get the
 * behaviour a real API server (v1.33) has for what the operator uses, so that bugs a real cluster
 * would expose show up here.
 *
 * Resources: core/v1 Namespaces, Pods, Services, ConfigMaps, Secrets, Events,
 * PersistentVolumeClaims; apps/v1 StatefulSets; policy/v1 PodDisruptionBudgets;
 * coordination.k8s.io/v1 Leases; apiextensions.k8s.io/v1 CustomResourceDefinitions, whose
 * resources are served as soon as the CRD is created (the ServiceMonitor CRD of
 * monitoring.coreos.com/v1 is installed at start unless `serviceMonitors: false`). Discovery:
 * /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>, /version.
 *
 * Faithful:
 * - REST paths and verbs (get, list, watch, create, update, patch, delete, deletecollection) on
 *   namespaced and cluster paths; bearer-token authentication (401 otherwise); Status objects
 *   with reason, code, details and causes, and the real messages for NotFound, AlreadyExists,
 *   Conflict, Invalid (field errors), BadRequest, Expired, UnsupportedMediaType;
 * - metadata: uid, creationTimestamp, one global resourceVersion counter (strings), generation
 *   (StatefulSets, PDBs, CRDs, custom resources: bumped when anything outside metadata and status
 *   changes, and when deletion starts), generateName, namespaces must exist (and not be
 *   terminating); name, label, annotation, owner reference and finalizer rules;
 * - status subresource: .../status writes change only status; the main endpoint keeps the stored
 *   status; create resets status (to the kind's initial status);
 * - optimistic concurrency: an update or patch carrying a stale resourceVersion gets 409 Conflict;
 *   without one it is unconditional; a write that changes nothing is a no-op (no new
 *   resourceVersion, no watch event);
 * - defaulting and validation of the built-in kinds (defaults.ts, validation.ts), immutable fields
 *   (StatefulSet spec outside replicas/template/updateStrategy/..., Service clusterIP, PVC spec,
 *   immutable ConfigMaps and Secrets, pod specs), Secret stringData, Service clusterIP allocation,
 *   strict metav1.MicroTime (Lease times, Event eventTime need six fraction digits);
 * - CRDs: structural-schema checks; custom resources pruned, defaulted and validated against the
 *   schema (crd.ts);
 * - patches: merge, JSON patch, strategic merge (list merge keys of the built-in types; 415 for
 *   custom resources, as the real server refuses it) and server-side apply with managedFields at
 *   leaf granularity, conflicts, force, removal of fields a manager stops applying
 *   (managed-fields.ts); apply creates missing objects (201);
 * - delete: DeleteOptions preconditions (uid, resourceVersion), finalizers (deletionTimestamp set,
 *   202, removed once the last finalizer goes, no new finalizers meanwhile), propagation:
 *   Background (the garbage collector deletes, after the response, objects none of whose owners
 *   exist by kind, name, namespace and uid, and drops references to missing owners from objects
 *   that keep one; this also applies to objects created with references to owners that do not
 *   exist), Orphan, Foreground; deleting a namespace deletes its contents; deleting a CRD deletes
 *   its custom resources;
 * - list: label selectors (=, ==, !=, in, notin, exists, !exists, gt, lt) and the field selectors
 *   each kind supports (others: 400), limit/continue with remainingItemCount,
 *   metadata.resourceVersion; built-in list items carry no apiVersion/kind, as on the wire;
 * - watch: ?watch=true with resourceVersion: "" or "0" start with ADDED for the current state,
 *   a resourceVersion replays the history after it; allowWatchBookmarks gives BOOKMARK events
 *   (every bookmarkIntervalMs), sendInitialEvents ends the initial state with the
 *   k8s.io/initial-events-end bookmark; selectors apply to events (an object that stops matching
 *   is DELETED for that watch, one that starts is ADDED); timeoutSeconds; a resourceVersion older
 *   than the resource's history window (historyLimit events per resource) gets one ERROR event
 *   with a 410 Expired Status, then the stream ends.
 *
 * Test control (in process, not HTTP): objects(kind), object(kind, ns, name), create/update/
 * mergePatch/apply/delete through the same code as HTTP requests, createNamespace, registerCrd,
 * onChange(kind, listener), waitFor(kind, ns, name, predicate), failNext(verb, kind, status),
 * setLatency(ms), compactHistory(), dropWatches({ abrupt }), watchCount(), requests (the log of
 * every HTTP request and its status), and simulateStatefulSets() (statefulset-simulator.ts: a
 * StatefulSet controller and kubelet that create pods and claims, report readiness, roll updates
 * and keep status, with setPodReady() to hold pods back).
 *
 * Client pitfalls this server exposes (they fail here as on a real cluster): client-node's typed
 * patch methods send application/json-patch+json unless told otherwise (a merge-patch body gets
 * 400); its typed models serialise CRDs without `default` and `x-kubernetes-*` unless given
 * their TypeScript names (_default, x_kubernetes_preserve_unknown_fields, ...), and the generic
 * KubernetesObjectApi serialises built-in groups through those models; a JavaScript Date in a
 * MicroTime field (Lease renewTime) serialises with three fraction digits (400).
 *
 * Simplified:
 * - strategic merge patch is approximated from a table of the built-in types' merge keys
 *   (typeinfo.ts) rather than the Go struct tags; `$setElementOrder` is ignored;
 * - server-side apply: see managed-fields.ts (entries keyed without apiVersion, applied nulls
 *   dropped, emptied objects pruned, no unknown-field detection for built-in types);
 * - lists are served from the current state: resourceVersion/resourceVersionMatch on a list are
 *   ignored and continue pages are not a snapshot (they carry the first page's resourceVersion);
 * - pods are deleted at once (no graceful termination, no kubelet) unless tests run
 *   simulateStatefulSets(); deletion by the garbage collector is immediate after the response;
 * - no admission webhooks, RBAC, quotas, CEL validation rules, conversion webhooks, scale
 *   subresources, protobuf, aggregated discovery, server-side field validation warnings;
 * - compactHistory() also advances the resourceVersion by one, so that every version a client
 *   holds is too old even if nothing changed since it was read.
 */
export { startFakeApiServer } from "./server.ts";
export type { ApplyOptions, FakeApiServer, FakeApiServerOptions, InProcessWriteOptions, ObjectChange } from "./server.ts";
export type { FailureOptions, RequestRecord, Verb } from "./http.ts";
export type { StatefulSetSimulator, StatefulSetSimulatorOptions } from "./statefulset-simulator.ts";
export type { DeleteOptions } from "./store.ts";
export { ApiStatusError } from "./errors.ts";
export type { Obj } from "./json.ts";
