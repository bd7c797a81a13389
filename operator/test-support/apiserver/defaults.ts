/**
 * Defaulting of the built-in kinds, after the SetDefaults_* functions of k8s.io/kubernetes
 * (pkg/apis/core/v1, apps/v1) and the admission plugins a default cluster runs, for the fields
 * these kinds commonly carry. Operators that compare what they want with what they read must live
 * with these, so the fake applies them: a StatefulSet comes back with podManagementPolicy,
 * updateStrategy, revisionHistoryLimit, a defaulted pod template and claim templates; a Service
 * with type, sessionAffinity, targetPort, protocol, an allocated clusterIP, ipFamilies; and so on.
 * Not covered: probe handler defaults beyond the thresholds, ephemeral containers, resource
 * quantities canonicalisation ("1000m" stays "1000m"; the real server writes "1").
 */
import { asArr, asObj, asStr, child, isObj, type Obj } from "./json.ts";

function setIfMissing(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function imagePullPolicy(image: string): string {
  if (image.includes("@")) return "IfNotPresent";
  const lastPart = image.split("/").pop() ?? image;
  const tag = lastPart.includes(":") ? lastPart.slice(lastPart.lastIndexOf(":") + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultProbe(p: unknown): void {
  const o = asObj(p);
  if (o === undefined) return;
  setIfMissing(o, "timeoutSeconds", 1);
  setIfMissing(o, "periodSeconds", 10);
  setIfMissing(o, "successThreshold", 1);
  setIfMissing(o, "failureThreshold", 3);
  const http = asObj(o.httpGet);
  if (http !== undefined) { setIfMissing(http, "path", "/"); setIfMissing(http, "scheme", "HTTP"); }
}

function defaultContainer(c: unknown): void {
  const o = asObj(c);
  if (o === undefined) return;
  setIfMissing(o, "terminationMessagePath", "/dev/termination-log");
  setIfMissing(o, "terminationMessagePolicy", "File");
  const image = asStr(o.image);
  if (image !== undefined) setIfMissing(o, "imagePullPolicy", imagePullPolicy(image));
  setIfMissing(o, "resources", {});
  for (const port of asArr(o.ports) ?? []) if (isObj(port)) setIfMissing(port, "protocol", "TCP");
  for (const e of asArr(o.env) ?? []) {
    const fieldRef = asObj(asObj(asObj(e)?.valueFrom)?.fieldRef);
    if (fieldRef !== undefined) setIfMissing(fieldRef, "apiVersion", "v1");
  }
  defaultProbe(o.livenessProbe);
  defaultProbe(o.readinessProbe);
  defaultProbe(o.startupProbe);
}

export function defaultPodSpec(spec: Obj): void {
  setIfMissing(spec, "dnsPolicy", "ClusterFirst");
  setIfMissing(spec, "restartPolicy", "Always");
  setIfMissing(spec, "terminationGracePeriodSeconds", 30);
  setIfMissing(spec, "securityContext", {});
  setIfMissing(spec, "schedulerName", "default-scheduler");
  for (const c of asArr(spec.containers) ?? []) defaultContainer(c);
  for (const c of asArr(spec.initContainers) ?? []) defaultContainer(c);
  for (const v of asArr(spec.volumes) ?? []) {
    const vo = asObj(v);
    if (vo === undefined) continue;
    for (const source of ["secret", "configMap", "downwardAPI", "projected"]) {
      const s = asObj(vo[source]);
      if (s !== undefined) setIfMissing(s, "defaultMode", 420);
    }
  }
}

function defaultClaimSpec(spec: Obj): void {
  setIfMissing(spec, "volumeMode", "Filesystem");
}

const DEFAULTERS: Record<string, (o: Obj) => void> = {
  Pod(o) {
    const spec = child(o, "spec");
    defaultPodSpec(spec);
    setIfMissing(spec, "enableServiceLinks", true);
    setIfMissing(spec, "serviceAccountName", "default");
    setIfMissing(spec, "serviceAccount", spec.serviceAccountName);
    setIfMissing(spec, "preemptionPolicy", "PreemptLowerPriority");
    setIfMissing(spec, "priority", 0);
    if (spec.tolerations === undefined) {
      spec.tolerations = [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      ];
    }
  },
  StatefulSet(o) {
    const spec = child(o, "spec");
    setIfMissing(spec, "replicas", 1);
    setIfMissing(spec, "podManagementPolicy", "OrderedReady");
    setIfMissing(spec, "updateStrategy", { type: "RollingUpdate" });
    const us = asObj(spec.updateStrategy);
    if (us !== undefined && us.type === "RollingUpdate") {
      const ru = child(us, "rollingUpdate");
      setIfMissing(ru, "partition", 0);
    }
    setIfMissing(spec, "revisionHistoryLimit", 10);
    setIfMissing(spec, "persistentVolumeClaimRetentionPolicy", { whenDeleted: "Retain", whenScaled: "Retain" });
    const template = asObj(spec.template);
    if (template !== undefined) defaultPodSpec(child(template, "spec"));
    for (const t of asArr(spec.volumeClaimTemplates) ?? []) {
      const to = asObj(t);
      if (to === undefined) continue;
      setIfMissing(to, "apiVersion", "v1");
      setIfMissing(to, "kind", "PersistentVolumeClaim");
      defaultClaimSpec(child(to, "spec"));
      setIfMissing(to, "status", { phase: "Pending" });
    }
  },
  Service(o) {
    const spec = child(o, "spec");
    setIfMissing(spec, "type", "ClusterIP");
    setIfMissing(spec, "sessionAffinity", "None");
    for (const p of asArr(spec.ports) ?? []) {
      const po = asObj(p);
      if (po === undefined) continue;
      setIfMissing(po, "protocol", "TCP");
      setIfMissing(po, "targetPort", po.port);
    }
    if (spec.type === "ClusterIP" || spec.type === "NodePort" || spec.type === "LoadBalancer") {
      setIfMissing(spec, "internalTrafficPolicy", "Cluster");
      setIfMissing(spec, "ipFamilies", ["IPv4"]);
      setIfMissing(spec, "ipFamilyPolicy", "SingleStack");
    }
  },
  PersistentVolumeClaim(o) {
    defaultClaimSpec(child(o, "spec"));
  },
  Secret(o) {
    setIfMissing(o, "type", "Opaque");
  },
  Namespace(o) {
    const m = child(o, "metadata");
    const labels = child(m, "labels");
    if (typeof m.name === "string") labels["kubernetes.io/metadata.name"] = m.name;
    const spec = child(o, "spec");
    setIfMissing(spec, "finalizers", ["kubernetes"]);
  },
};

export function applyDefaults(kind: string, obj: Obj): void {
  DEFAULTERS[kind]?.(obj);
}

/** The status a kind starts with when its status subresource resets status on create. */
export function initialStatus(kind: string): Obj | undefined {
  switch (kind) {
    case "Pod": return { phase: "Pending", qosClass: "BestEffort" };
    case "PersistentVolumeClaim": return { phase: "Pending" };
    case "StatefulSet": return { replicas: 0, availableReplicas: 0 };
    case "PodDisruptionBudget": return { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
    case "Service": return { loadBalancer: {} };
    case "Namespace": return { phase: "Active" };
    default: return undefined;
  }
}
