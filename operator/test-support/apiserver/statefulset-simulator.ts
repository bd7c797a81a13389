/**
 * A StatefulSet controller and kubelet for controller tests, writing through the store as
 * kube-controller-manager, kubelet and the volume binder would:
 * - pods <sts>-<ordinal> with the template's labels plus controller-revision-hash,
 *   statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index, a controller owner
 *   reference, hostname and subdomain (serviceName), and one claim per volumeClaimTemplate
 *   (<template>-<sts>-<ordinal>, created Bound, kept on scale-down and deletion unless the
 *   retention policy says Delete, in which case the StatefulSet owns them);
 * - OrderedReady: one pod at a time, each created only once the previous is Ready; scale-down from
 *   the highest ordinal, one at a time. Parallel: all at once;
 * - RollingUpdate: once every pod is Ready, the highest-ordinal pod at or above the partition that
 *   is not at the update revision is deleted and recreated from the new template, one at a time;
 *   OnDelete: pods change only when deleted. Pods below the partition are recreated at the
 *   current revision;
 * - the kubelet: a new pod is Running at once with a pod IP and container statuses, Ready as
 *   `podReady` (default true) or setPodReady() say;
 * - status: replicas, readyReplicas, availableReplicas (minReadySeconds ignored), currentReplicas,
 *   updatedReplicas, currentRevision, updateRevision, observedGeneration.
 * Not simulated: ControllerRevision objects, graceful pod termination, pod failures and restarts
 * other than what tests do through the API.
 */
import { createHash } from "node:crypto";
import { asArr, asObj, asStr, clone, jsonEqual, nowTime, type Obj } from "./json.ts";
import type { ResourceInfo } from "./resources.ts";
import type { Store } from "./store.ts";

export interface StatefulSetSimulatorOptions {
  /** Whether a new pod becomes Ready (default true); a function decides per pod. */
  podReady?: boolean | ((pod: Obj) => boolean);
}

const CONTROLLER = { fieldManager: "kube-controller-manager" };
const KUBELET = { fieldManager: "kubelet" };

function isReady(pod: Obj): boolean {
  const conds = asArr(asObj(pod.status)?.conditions) ?? [];
  return conds.some((c) => asObj(c)?.type === "Ready" && asObj(c)?.status === "True");
}

function ordinalOf(pod: Obj, set: string): number | undefined {
  const name = asStr(asObj(pod.metadata)?.name) ?? "";
  const m = name.match(/-(\d+)$/);
  if (m === null || name !== `${set}-${m[1]}`) return undefined;
  return Number(m[1]);
}

export class StatefulSetSimulator {
  readonly #store: Store;
  readonly #options: StatefulSetSimulatorOptions;
  readonly #pending = new Set<string>();
  readonly #readyOverride = new Map<string, boolean>();
  /** Templates by revision, so pods below a partition are recreated at their own revision. */
  readonly #templates = new Map<string, Obj>();
  readonly #stop: () => void;
  #scheduled = false;
  #running = false;
  #stopped = false;
  #ip = 2;
  reconciles = 0;

  constructor(store: Store, options: StatefulSetSimulatorOptions) {
    this.#store = store;
    this.#options = options;
    this.#stop = store.onChange((c) => {
      if (c.resource.kind === "StatefulSet" && c.resource.group === "apps") {
        this.#schedule(`${asStr(asObj(c.object.metadata)?.namespace)}/${asStr(asObj(c.object.metadata)?.name)}`);
      } else if (c.resource.kind === "Pod" && c.resource.group === "") {
        for (const ref of asArr(asObj(c.object.metadata)?.ownerReferences) ?? []) {
          const r = asObj(ref);
          if (r?.kind === "StatefulSet" && r.controller === true) this.#schedule(`${asStr(asObj(c.object.metadata)?.namespace)}/${String(r.name)}`);
        }
      }
    });
    for (const sts of store.objects(this.#res("StatefulSet"))) {
      this.#schedule(`${asStr(asObj(sts.metadata)?.namespace)}/${asStr(asObj(sts.metadata)?.name)}`);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#stop();
  }

  /** Marks a pod Ready or not Ready now, and keeps it so if the pod is recreated. */
  setPodReady(namespace: string, name: string, ready: boolean): void {
    this.#readyOverride.set(`${namespace}/${name}`, ready);
    const pod = this.#get(this.#res("Pod"), namespace, name);
    if (pod !== undefined) this.#setStatus(pod, ready);
  }

  /** Resolves once no reconcile is pending or running. */
  async idle(): Promise<void> {
    for (let i = 0; i < 10_000 && (this.#scheduled || this.#running || this.#pending.size > 0); i++) {
      await new Promise((r) => setImmediate(r));
    }
  }

  #res(kind: string): ResourceInfo {
    return this.#store.resolveKind(kind);
  }

  #get(r: ResourceInfo, namespace: string, name: string): Obj | undefined {
    try { return this.#store.get(r, namespace, name); } catch { return undefined; }
  }

  #schedule(key: string): void {
    if (this.#stopped) return;
    this.#pending.add(key);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#stopped || this.#running) return;
    this.#running = true;
    try {
      while (this.#pending.size > 0 && !this.#stopped) {
        const key = this.#pending.values().next().value as string;
        this.#pending.delete(key);
        const [ns, name] = key.split("/") as [string, string];
        try {
          this.reconciles++;
          this.#reconcile(ns, name);
        } catch {
          setTimeout(() => this.#schedule(key), 20).unref();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #wantsReady(pod: Obj): boolean {
    const m = asObj(pod.metadata) ?? {};
    const override = this.#readyOverride.get(`${String(m.namespace)}/${String(m.name)}`);
    if (override !== undefined) return override;
    const opt = this.#options.podReady ?? true;
    return typeof opt === "function" ? opt(pod) : opt;
  }

  #setStatus(pod: Obj, ready: boolean): void {
    const status = clone(asObj(pod.status) ?? {});
    const now = nowTime();
    const readyText = ready ? "True" : "False";
    const spec = asObj(pod.spec) ?? {};
    status.phase = "Running";
    status.podIP ??= `10.244.0.${this.#ip++ % 250}`;
    status.podIPs = [{ ip: status.podIP }];
    status.hostIP = "172.18.0.2";
    status.hostIPs = [{ ip: "172.18.0.2" }];
    status.startTime ??= now;
    const previous = new Map((asArr(status.conditions) ?? []).map((c) => [asObj(c)?.type, asObj(c)]));
    const cond = (type: string, s: string): Obj => ({
      type, status: s, lastProbeTime: null,
      lastTransitionTime: previous.get(type)?.status === s ? previous.get(type)?.lastTransitionTime : now,
    });
    status.conditions = [cond("PodReadyToStartContainers", "True"), cond("Initialized", "True"), cond("Ready", readyText), cond("ContainersReady", readyText), cond("PodScheduled", "True")];
    status.containerStatuses = (asArr(spec.containers) ?? []).map((c) => {
      const co = asObj(c) ?? {};
      return {
        name: co.name, ready, started: true, restartCount: 0, image: co.image, imageID: `${String(co.image)}@sha256:0`,
        containerID: `containerd://${createHash("sha256").update(`${String(asObj(pod.metadata)?.uid)}${String(co.name)}`).digest("hex").slice(0, 16)}`,
        state: { running: { startedAt: status.startTime } },
      };
    });
    const podRes = this.#res("Pod");
    const m = asObj(pod.metadata) ?? {};
    const current = this.#get(podRes, String(m.namespace), String(m.name));
    if (current === undefined || jsonEqual(current.status, status)) return;
    this.#store.update(podRes, String(m.namespace), String(m.name), { ...current, status }, KUBELET, { subresource: "status" });
  }

  #revision(name: string, template: unknown): string {
    const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);
    return `${name}-${hash}`;
  }

  #reconcile(namespace: string, name: string): void {
    const stsRes = this.#res("StatefulSet");
    const podRes = this.#res("Pod");
    const sts = this.#get(stsRes, namespace, name);
    if (sts === undefined) return;
    const sm = asObj(sts.metadata) ?? {};
    if (sm.deletionTimestamp !== undefined) return;
    const spec = asObj(sts.spec) ?? {};
    const status = asObj(sts.status) ?? {};
    const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
    const template = asObj(spec.template) ?? {};
    const updateRevision = this.#revision(name, template);
    this.#templates.set(updateRevision, clone(template));
    const currentRevision = asStr(status.currentRevision) ?? updateRevision;
    const parallel = spec.podManagementPolicy === "Parallel";
    const strategy = asObj(spec.updateStrategy) ?? {};
    const partition = Number(asObj(strategy.rollingUpdate)?.partition ?? 0);
    const uid = String(sm.uid);
    const pods = new Map<number, Obj>();
    for (const p of this.#store.objects(podRes, namespace)) {
      const refs = asArr(asObj(p.metadata)?.ownerReferences) ?? [];
      if (!refs.some((r) => asObj(r)?.uid === uid && asObj(r)?.controller === true)) continue;
      const ord = ordinalOf(p, name);
      if (ord !== undefined) pods.set(ord, p);
    }
    // Create missing pods (in order, waiting for readiness unless Parallel).
    for (let i = 0; i < replicas; i++) {
      const pod = pods.get(i);
      if (pod === undefined) {
        const revision = strategy.type === "RollingUpdate" && i < partition && this.#templates.has(currentRevision) ? currentRevision : updateRevision;
        const created = this.#createPod(sts, i, revision, this.#templates.get(revision) ?? template);
        pods.set(i, created);
        if (!parallel) break;
      } else if (!parallel && !isReady(pod)) {
        break;
      }
    }
    // Scale down from the highest ordinal.
    const extra = [...pods.keys()].filter((i) => i >= replicas).sort((a, b) => b - a);
    for (const i of extra) {
      this.#store.delete(podRes, namespace, `${name}-${i}`, {});
      pods.delete(i);
      const retention = asObj(spec.persistentVolumeClaimRetentionPolicy) ?? {};
      if (retention.whenScaled === "Delete") this.#deleteClaims(sts, i);
      if (!parallel) break;
    }
    // Rolling update, one pod at a time once all are Ready.
    const existing = [...pods.values()];
    if (strategy.type !== "OnDelete" && existing.length === replicas && existing.every(isReady)) {
      for (let i = replicas - 1; i >= partition; i--) {
        const pod = pods.get(i);
        if (pod === undefined) continue;
        if (asObj(asObj(pod.metadata)?.labels)?.["controller-revision-hash"] !== updateRevision) {
          this.#store.delete(podRes, namespace, `${name}-${i}`, {});
          pods.delete(i);
          break;
        }
      }
    }
    // Status.
    const all = [...pods.values()];
    const rev = (p: Obj): unknown => asObj(asObj(p.metadata)?.labels)?.["controller-revision-hash"];
    const ready = all.filter(isReady).length;
    const updated = all.filter((p) => rev(p) === updateRevision).length;
    const newCurrent = updated === replicas && ready === replicas ? updateRevision : currentRevision;
    const next: Obj = {
      observedGeneration: sm.generation,
      replicas: all.length,
      readyReplicas: ready,
      currentReplicas: all.filter((p) => rev(p) === newCurrent).length,
      updatedReplicas: updated,
      availableReplicas: ready,
      currentRevision: newCurrent,
      updateRevision,
      collisionCount: 0,
    };
    for (const k of ["readyReplicas", "currentReplicas", "updatedReplicas"]) if (next[k] === 0) Reflect.deleteProperty(next, k);
    if (!jsonEqual(status, next)) this.#store.update(stsRes, namespace, name, { ...sts, status: next }, CONTROLLER, { subresource: "status" });
  }

  #claimName(template: Obj, set: string, ordinal: number): string {
    return `${String(asObj(template.metadata)?.name)}-${set}-${ordinal}`;
  }

  #ensureClaims(sts: Obj, ordinal: number): void {
    const pvcRes = this.#res("PersistentVolumeClaim");
    const sm = asObj(sts.metadata) ?? {};
    const ns = String(sm.namespace);
    const set = String(sm.name);
    const spec = asObj(sts.spec) ?? {};
    const retention = asObj(spec.persistentVolumeClaimRetentionPolicy) ?? {};
    const matchLabels = asObj(asObj(spec.selector)?.matchLabels) ?? {};
    for (const t of asArr(spec.volumeClaimTemplates) ?? []) {
      const tmpl = asObj(t) ?? {};
      const claim = this.#claimName(tmpl, set, ordinal);
      if (this.#get(pvcRes, ns, claim) !== undefined) continue;
      const metadata: Obj = { name: claim, namespace: ns, labels: { ...(asObj(asObj(tmpl.metadata)?.labels) ?? {}), ...matchLabels } };
      const annotations = asObj(asObj(tmpl.metadata)?.annotations);
      if (annotations !== undefined) metadata.annotations = annotations;
      if (retention.whenDeleted === "Delete") {
        metadata.ownerReferences = [{ apiVersion: "apps/v1", kind: "StatefulSet", name: set, uid: sm.uid, controller: true, blockOwnerDeletion: true }];
      }
      const created = this.#store.create(pvcRes, ns, { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata, spec: clone(tmpl.spec) }, CONTROLLER);
      const cspec = asObj(created.spec) ?? {};
      this.#store.update(pvcRes, ns, claim, {
        ...created,
        status: { phase: "Bound", accessModes: cspec.accessModes, capacity: { storage: asObj(asObj(cspec.resources)?.requests)?.storage } },
      }, { fieldManager: "kube-controller-manager" }, { subresource: "status" });
    }
  }

  #deleteClaims(sts: Obj, ordinal: number): void {
    const pvcRes = this.#res("PersistentVolumeClaim");
    const sm = asObj(sts.metadata) ?? {};
    for (const t of asArr(asObj(sts.spec)?.volumeClaimTemplates) ?? []) {
      const claim = this.#claimName(asObj(t) ?? {}, String(sm.name), ordinal);
      try { this.#store.delete(pvcRes, String(sm.namespace), claim, {}); } catch { /* already gone */ }
    }
  }

  #createPod(sts: Obj, ordinal: number, revision: string, template: Obj): Obj {
    const podRes = this.#res("Pod");
    const sm = asObj(sts.metadata) ?? {};
    const ns = String(sm.namespace);
    const set = String(sm.name);
    const podName = `${set}-${ordinal}`;
    const spec = asObj(sts.spec) ?? {};
    this.#ensureClaims(sts, ordinal);
    const tm = asObj(template.metadata) ?? {};
    const podSpec = clone(asObj(template.spec) ?? {});
    podSpec.hostname = podName;
    if (typeof spec.serviceName === "string" && spec.serviceName !== "") podSpec.subdomain = spec.serviceName;
    podSpec.nodeName = "kind-worker";
    const volumes = (asArr(podSpec.volumes) ?? []).slice();
    for (const t of asArr(spec.volumeClaimTemplates) ?? []) {
      const tmpl = asObj(t) ?? {};
      const vname = String(asObj(tmpl.metadata)?.name);
      const at = volumes.findIndex((v) => asObj(v)?.name === vname);
      const vol = { name: vname, persistentVolumeClaim: { claimName: this.#claimName(tmpl, set, ordinal) } };
      if (at >= 0) volumes[at] = vol;
      else volumes.push(vol);
    }
    if (volumes.length > 0) podSpec.volumes = volumes;
    const metadata: Obj = {
      name: podName,
      namespace: ns,
      labels: {
        ...(asObj(tm.labels) ?? {}),
        "controller-revision-hash": revision,
        "statefulset.kubernetes.io/pod-name": podName,
        "apps.kubernetes.io/pod-index": String(ordinal),
      },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: set, uid: sm.uid, controller: true, blockOwnerDeletion: true }],
    };
    if (tm.annotations !== undefined) metadata.annotations = clone(tm.annotations);
    const pod = this.#store.create(podRes, ns, { apiVersion: "v1", kind: "Pod", metadata, spec: podSpec }, CONTROLLER);
    this.#setStatus(pod, this.#wantsReady(pod));
    return this.#get(podRes, ns, podName) ?? pod;
  }
}
