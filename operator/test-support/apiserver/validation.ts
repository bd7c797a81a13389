/**
 * Validation of the built-in kinds, in two stages as in the API server:
 * 1. decoding: the OpenAPI types of the kind (through kubernetes-models' validators: types,
 *    formats, enums, required fields) and the strict time formats (metav1.MicroTime needs exactly
 *    six fraction digits). A wrong type is a 400 BadRequest ("cannot be handled as a ..."), a
 *    missing required field or an unsupported enum value a 422 field error;
 * 2. the kind's own rules (pkg/apis/<group>/validation): object names, labels, annotations,
 *    owner references, finalizers, pod specs (containers, ports, volume mounts that name no
 *    volume, requests above limits), StatefulSet selector against template labels and its
 *    immutable spec fields, Service ports and clusterIP, PDB minAvailable/maxUnavailable,
 *    ConfigMap/Secret keys, sizes and immutability, PVC immutability, Lease durations, Event
 *    reporting fields. Each rule reports the same field path and message as the real one. Rules
 *    for fields these resources rarely carry (affinity, security contexts, probes' handlers,
 *    topology spread) are not checked.
 */
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Event } from "kubernetes-models/v1/Event";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { ApiStatusError, type FieldError, fieldPath } from "./errors.ts";
import { asArr, asObj, asStr, getPath, isObj, jsonEqual, type Obj } from "./json.ts";
import {
  configKeyErrors, dns1035LabelErrors, dns1123LabelErrors, dns1123SubdomainErrors, isMicroTime, isTime,
  labelValueErrors, portNameErrors, qualifiedNameErrors,
} from "./names.ts";
import type { NameRule, ResourceInfo } from "./resources.ts";
import { fromLabelSelectorObject, matchesLabels } from "./selectors.ts";

interface Validatable { validate(): void }
type ModelCtor = new (data: never) => Validatable;

const MODELS: Record<string, ModelCtor> = {
  ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, Secret, Service, StatefulSet, PodDisruptionBudget, Lease,
  CustomResourceDefinition,
} as unknown as Record<string, ModelCtor>;

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

function pointerToField(pointer: string): string {
  let out = "";
  for (const seg of pointer.split("/").slice(1)) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

function decodeError(kind: string, version: string, detail: string): ApiStatusError {
  return new ApiStatusError(400, "BadRequest", `${kind} in version "${version}" cannot be handled as a ${kind}: ${detail}`);
}

function jsType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "object" ? "object" : typeof v;
}

/** Stage 1: what decoding the body into the kind's Go type would refuse or report. */
export function checkSchema(res: ResourceInfo, obj: Obj): FieldError[] {
  const ctor = MODELS[res.kind];
  const errors: FieldError[] = [];
  if (ctor !== undefined) {
    try {
      new ctor(obj as never).validate();
    } catch (e) {
      const list = (e as { errors?: AjvError[] }).errors ?? [];
      for (const err of list) {
        // JSONSchemaProps has union types (schema or bool, schema or array) the OpenAPI cannot express;
        // crd.ts checks CRD schemas the way the API server does.
        if (res.kind === "CustomResourceDefinition" && err.instancePath.includes("/openAPIV3Schema")) continue;
        const at = pointerToField(err.instancePath);
        if (err.keyword === "required") {
          errors.push({ type: "Required", field: fieldPath(at, String(err.params.missingProperty)) });
        } else if (err.keyword === "enum") {
          const allowed = (err.params.allowedValues as unknown[] | undefined) ?? [];
          errors.push({ type: "NotSupported", field: at, value: getPath(obj, at.replace(/\[(\d+)\]/g, ".$1").split(".")), detail: `supported values: ${allowed.map((x) => JSON.stringify(x)).join(", ")}` });
        } else if (err.keyword === "type" || err.keyword === "format") {
          const value = pointerValue(obj, err.instancePath);
          throw decodeError(res.kind, res.version, `json: cannot unmarshal ${jsType(value)} into Go struct field ${res.kind}.${at} of type ${String(err.params.type ?? err.params.format)}`);
        } else {
          errors.push({ type: "Invalid", field: at, value: pointerValue(obj, err.instancePath), detail: err.message ?? err.keyword });
        }
      }
    }
  }
  for (const [path, value] of microTimeFields(res.kind, obj)) {
    if (value !== undefined && value !== null && !isMicroTime(value)) {
      throw decodeError(res.kind, res.version, `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${JSON.stringify(String(value).slice(19))} as ".000000"`);
    }
    void path;
  }
  for (const [, value] of timeFields(res.kind, obj)) {
    if (value !== undefined && value !== null && !isTime(value)) {
      throw decodeError(res.kind, res.version, `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as "2006"`);
    }
  }
  return errors;
}

function pointerValue(obj: Obj, pointer: string): unknown {
  let cur: unknown = obj;
  for (const seg of pointer.split("/").slice(1)) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObj(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function microTimeFields(kind: string, obj: Obj): [string, unknown][] {
  if (kind === "Lease") return [["spec.acquireTime", getPath(obj, ["spec", "acquireTime"])], ["spec.renewTime", getPath(obj, ["spec", "renewTime"])]];
  if (kind === "Event") return [["eventTime", obj.eventTime], ["series.lastObservedTime", getPath(obj, ["series", "lastObservedTime"])]];
  return [];
}

function timeFields(kind: string, obj: Obj): [string, unknown][] {
  const out: [string, unknown][] = [];
  if (kind === "Event") out.push(["firstTimestamp", obj.firstTimestamp], ["lastTimestamp", obj.lastTimestamp]);
  for (const c of asArr(getPath(obj, ["status", "conditions"])) ?? []) out.push(["status.conditions.lastTransitionTime", asObj(c)?.lastTransitionTime]);
  return out;
}

function nameErrors(rule: NameRule, name: string): string[] {
  if (rule === "dns1123label") return dns1123LabelErrors(name);
  if (rule === "dns1035label") return dns1035LabelErrors(name);
  return dns1123SubdomainErrors(name);
}

const STANDARD_FINALIZERS = new Set(["kubernetes", "orphan", "foregroundDeletion"]);

export function validateLabels(labels: unknown, at: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(asObj(labels) ?? {})) {
    for (const m of qualifiedNameErrors(k)) errs.push({ type: "Invalid", field: at, value: k, detail: m });
    for (const m of labelValueErrors(String(v))) errs.push({ type: "Invalid", field: at, value: v, detail: m });
  }
  return errs;
}

/** ObjectMeta rules: name, labels, annotations, owner references, finalizers. */
export function validateObjectMeta(res: ResourceInfo, obj: Obj, at = "metadata", rule: NameRule = res.names): FieldError[] {
  const m = asObj(obj.metadata) ?? {};
  const errs: FieldError[] = [];
  const name = asStr(m.name) ?? "";
  if (name === "") errs.push({ type: "Required", field: `${at}.name`, detail: "name or generateName is required" });
  else for (const msg of nameErrors(rule, name)) errs.push({ type: "Invalid", field: `${at}.name`, value: name, detail: msg });
  errs.push(...validateLabels(m.labels, `${at}.labels`));
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(asObj(m.annotations) ?? {})) {
    for (const msg of qualifiedNameErrors(k.toLowerCase())) errs.push({ type: "Invalid", field: `${at}.annotations`, value: k, detail: msg });
    annotationBytes += k.length + String(v).length;
  }
  if (annotationBytes > 256 * 1024) errs.push({ type: "TooLong", field: `${at}.annotations`, detail: "must have at most 262144 bytes" });
  let controllers = 0;
  (asArr(m.ownerReferences) ?? []).forEach((r, i) => {
    const ref = asObj(r) ?? {};
    const p = `${at}.ownerReferences`;
    if (!asStr(ref.apiVersion)) errs.push({ type: "Invalid", field: `${p}.apiVersion`, value: ref.apiVersion ?? "", detail: "version must not be empty" });
    if (!asStr(ref.kind)) errs.push({ type: "Invalid", field: `${p}.kind`, value: ref.kind ?? "", detail: "kind must not be empty" });
    if (!asStr(ref.name)) errs.push({ type: "Invalid", field: `${p}.name`, value: ref.name ?? "", detail: "name must not be empty" });
    if (!asStr(ref.uid)) errs.push({ type: "Invalid", field: `${p}.uid`, value: ref.uid ?? "", detail: "uid must not be empty" });
    if (ref.controller === true) controllers++;
    void i;
  });
  if (controllers > 1) errs.push({ type: "Invalid", field: `${at}.ownerReferences`, value: m.ownerReferences, detail: "Only one reference can have Controller set to true" });
  (asArr(m.finalizers) ?? []).forEach((f, i) => {
    const s = String(f);
    for (const msg of qualifiedNameErrors(s)) errs.push({ type: "Invalid", field: `${at}.finalizers[${i}]`, value: s, detail: msg });
    if (!s.includes("/") && !STANDARD_FINALIZERS.has(s)) {
      errs.push({ type: "Invalid", field: `${at}.finalizers[${i}]`, value: s, detail: "name is neither a standard finalizer name nor is it fully qualified" });
    }
  });
  return errs;
}

/** A resource quantity in base units (cores, bytes); NaN when unparseable. */
export function parseQuantity(q: unknown): number {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return Number.NaN;
  const m = q.match(/^([+-]?(?:\d+|\d+\.\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/);
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  if (suffix in binary) return n * binary[suffix]!;
  if (suffix in decimal) return n * decimal[suffix]!;
  return n * 10 ** Number(suffix.slice(1));
}

function validatePorts(ports: unknown, at: string, errs: FieldError[]): void {
  const names = new Set<string>();
  (asArr(ports) ?? []).forEach((p, i) => {
    const po = asObj(p) ?? {};
    const cp = po.containerPort;
    if (cp === undefined) errs.push({ type: "Required", field: fieldPath(at, i, "containerPort") });
    else if (typeof cp !== "number" || cp < 1 || cp > 65535) errs.push({ type: "Invalid", field: fieldPath(at, i, "containerPort"), value: cp, detail: "must be between 1 and 65535, inclusive" });
    const name = asStr(po.name);
    if (name !== undefined) {
      for (const msg of portNameErrors(name)) errs.push({ type: "Invalid", field: fieldPath(at, i, "name"), value: name, detail: msg });
      if (names.has(name)) errs.push({ type: "Duplicate", field: fieldPath(at, i, "name"), value: name });
      names.add(name);
    }
  });
}

/** PodSpec rules; `claimNames` are the StatefulSet's volumeClaimTemplates (volumes too). */
export function validatePodSpec(spec: Obj, at: string, opts: { claimNames?: string[]; requireImage: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  const volumeNames = new Set<string>(opts.claimNames ?? []);
  (asArr(spec.volumes) ?? []).forEach((v, i) => {
    const name = asStr(asObj(v)?.name) ?? "";
    if (name === "") errs.push({ type: "Required", field: fieldPath(at, "volumes", i, "name") });
    else {
      for (const msg of dns1123LabelErrors(name)) errs.push({ type: "Invalid", field: fieldPath(at, "volumes", i, "name"), value: name, detail: msg });
      if (volumeNames.has(name) && !(opts.claimNames ?? []).includes(name)) errs.push({ type: "Duplicate", field: fieldPath(at, "volumes", i, "name"), value: name });
    }
    volumeNames.add(name);
  });
  const containers = asArr(spec.containers) ?? [];
  if (containers.length === 0) errs.push({ type: "Required", field: fieldPath(at, "containers") });
  const seen = new Set<string>();
  const check = (list: unknown[], field: string): void => list.forEach((c, i) => {
    const co = asObj(c) ?? {};
    const cAt = fieldPath(at, field, i);
    const name = asStr(co.name) ?? "";
    if (name === "") errs.push({ type: "Required", field: `${cAt}.name` });
    else {
      for (const msg of dns1123LabelErrors(name)) errs.push({ type: "Invalid", field: `${cAt}.name`, value: name, detail: msg });
      if (seen.has(name)) errs.push({ type: "Duplicate", field: `${cAt}.name`, value: name });
      seen.add(name);
    }
    if (opts.requireImage && !asStr(co.image)) errs.push({ type: "Required", field: `${cAt}.image` });
    validatePorts(co.ports, `${cAt}.ports`, errs);
    const mountPaths = new Set<string>();
    (asArr(co.volumeMounts) ?? []).forEach((vm, j) => {
      const m = asObj(vm) ?? {};
      const vmName = asStr(m.name) ?? "";
      if (vmName === "") errs.push({ type: "Required", field: fieldPath(cAt, "volumeMounts", j, "name") });
      else if (!volumeNames.has(vmName)) errs.push({ type: "NotFound", field: fieldPath(cAt, "volumeMounts", j, "name"), value: vmName });
      const mp = asStr(m.mountPath) ?? "";
      if (mp === "") errs.push({ type: "Required", field: fieldPath(cAt, "volumeMounts", j, "mountPath") });
      else if (mountPaths.has(mp)) errs.push({ type: "Invalid", field: fieldPath(cAt, "volumeMounts", j, "mountPath"), value: mp, detail: "must be unique" });
      mountPaths.add(mp);
    });
    (asArr(co.env) ?? []).forEach((e, j) => {
      if (!asStr(asObj(e)?.name)) errs.push({ type: "Required", field: fieldPath(cAt, "env", j, "name") });
    });
    const requests = asObj(asObj(co.resources)?.requests) ?? {};
    const limits = asObj(asObj(co.resources)?.limits) ?? {};
    for (const [res, req] of Object.entries(requests)) {
      const lim = limits[res];
      if (lim === undefined) continue;
      if (parseQuantity(req) > parseQuantity(lim)) {
        errs.push({ type: "Invalid", field: `${cAt}.resources.requests`, value: req, detail: `must be less than or equal to ${res} limit of ${String(lim)}` });
      }
    }
  });
  check(containers, "containers");
  check(asArr(spec.initContainers) ?? [], "initContainers");
  return errs;
}

function validateClaimSpec(spec: Obj, at: string): FieldError[] {
  const errs: FieldError[] = [];
  if ((asArr(spec.accessModes) ?? []).length === 0 && spec.dataSource === undefined) errs.push({ type: "Required", field: `${at}.accessModes`, detail: "at least 1 access mode is required" });
  const storage = asObj(asObj(spec.resources)?.requests)?.storage;
  if (storage === undefined) errs.push({ type: "Required", field: `${at}.resources[storage]` });
  else if (!(parseQuantity(storage) > 0)) errs.push({ type: "Invalid", field: `${at}.resources[storage]`, value: storage, detail: "must be greater than zero" });
  return errs;
}

function withoutKeys(o: unknown, keys: string[]): Obj {
  const out: Obj = { ...(asObj(o) ?? {}) };
  for (const k of keys) Reflect.deleteProperty(out, k);
  return out;
}

function dataSize(o: Obj): number {
  let n = 0;
  for (const [k, v] of Object.entries(asObj(o.data) ?? {})) n += k.length + String(v).length;
  for (const [k, v] of Object.entries(asObj(o.binaryData) ?? {})) n += k.length + Buffer.from(String(v), "base64").length;
  return n;
}

type KindRule = (obj: Obj, old: Obj | undefined) => FieldError[];

const KIND_RULES: Record<string, KindRule> = {
  Pod(obj, old) {
    const errs = validatePodSpec(asObj(obj.spec) ?? {}, "spec", { requireImage: true });
    if (old !== undefined) {
      const mask = (s: unknown): Obj => {
        const c = JSON.parse(JSON.stringify(s ?? {})) as Obj;
        for (const list of ["containers", "initContainers"]) for (const x of asArr(c[list]) ?? []) if (isObj(x)) delete x.image;
        delete c.activeDeadlineSeconds; delete c.tolerations; delete c.terminationGracePeriodSeconds; delete c.schedulingGates;
        return c;
      };
      if (!jsonEqual(mask(obj.spec), mask(old.spec))) {
        errs.push({ type: "Forbidden", field: "spec", detail: "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)" });
      }
    }
    return errs;
  },
  StatefulSet(obj, old) {
    const errs: FieldError[] = [];
    const spec = asObj(obj.spec) ?? {};
    if (typeof spec.replicas === "number" && spec.replicas < 0) errs.push({ type: "Invalid", field: "spec.replicas", value: spec.replicas, detail: "must be greater than or equal to 0" });
    const selector = asObj(spec.selector);
    const reqs = fromLabelSelectorObject(selector);
    if (selector !== undefined && reqs.length === 0) errs.push({ type: "Invalid", field: "spec.selector", value: selector, detail: "empty selector is invalid for statefulset" });
    if (selector !== undefined) errs.push(...validateLabels(selector.matchLabels, "spec.selector.matchLabels"));
    const template = asObj(spec.template) ?? {};
    const tLabels = asObj(asObj(template.metadata)?.labels) ?? {};
    errs.push(...validateLabels(tLabels, "spec.template.metadata.labels"));
    if (selector !== undefined && reqs.length > 0 && !matchesLabels(reqs, tLabels)) {
      errs.push({ type: "Invalid", field: "spec.template.metadata.labels", value: tLabels, detail: "`selector` does not match template `labels`" });
    }
    const tSpec = asObj(template.spec) ?? {};
    if (tSpec.restartPolicy !== undefined && tSpec.restartPolicy !== "Always") {
      errs.push({ type: "NotSupported", field: "spec.template.spec.restartPolicy", value: tSpec.restartPolicy, detail: 'supported values: "Always"' });
    }
    const claims = (asArr(spec.volumeClaimTemplates) ?? []).map((c) => asObj(c) ?? {});
    claims.forEach((c, i) => {
      const name = asStr(asObj(c.metadata)?.name) ?? "";
      if (name === "") errs.push({ type: "Required", field: `spec.volumeClaimTemplates[${i}].metadata.name` });
      errs.push(...validateClaimSpec(asObj(c.spec) ?? {}, `spec.volumeClaimTemplates[${i}].spec`));
    });
    errs.push(...validatePodSpec(tSpec, "spec.template.spec", { claimNames: claims.map((c) => asStr(asObj(c.metadata)?.name) ?? ""), requireImage: false }));
    const us = asObj(spec.updateStrategy);
    if (us !== undefined && us.type === "OnDelete" && us.rollingUpdate !== undefined) {
      errs.push({ type: "Invalid", field: "spec.updateStrategy.rollingUpdate", value: us.rollingUpdate, detail: "only allowed for updateStrategy 'RollingUpdate'" });
    }
    const partition = getPath(us, ["rollingUpdate", "partition"]);
    if (typeof partition === "number" && partition < 0) errs.push({ type: "Invalid", field: "spec.updateStrategy.rollingUpdate.partition", value: partition, detail: "must be greater than or equal to 0" });
    if (old !== undefined) {
      const mutable = ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"];
      if (!jsonEqual(withoutKeys(obj.spec, mutable), withoutKeys(old.spec, mutable))) {
        errs.push({ type: "Forbidden", field: "spec", detail: "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden" });
      }
    }
    return errs;
  },
  Service(obj, old) {
    const errs: FieldError[] = [];
    const spec = asObj(obj.spec) ?? {};
    const ports = asArr(spec.ports) ?? [];
    const headless = spec.clusterIP === "None";
    if (ports.length === 0 && !headless && spec.type !== "ExternalName") errs.push({ type: "Required", field: "spec.ports" });
    const names = new Set<string>();
    ports.forEach((p, i) => {
      const po = asObj(p) ?? {};
      const name = asStr(po.name);
      if (ports.length > 1 && !name) errs.push({ type: "Required", field: `spec.ports[${i}].name` });
      if (name) {
        for (const msg of dns1123LabelErrors(name)) errs.push({ type: "Invalid", field: `spec.ports[${i}].name`, value: name, detail: msg });
        if (names.has(name)) errs.push({ type: "Duplicate", field: `spec.ports[${i}].name`, value: name });
        names.add(name);
      }
      const port = po.port;
      if (typeof port !== "number" || port < 1 || port > 65535) errs.push({ type: "Invalid", field: `spec.ports[${i}].port`, value: port, detail: "must be between 1 and 65535, inclusive" });
      const tp = po.targetPort;
      if (typeof tp === "number" && (tp < 1 || tp > 65535)) errs.push({ type: "Invalid", field: `spec.ports[${i}].targetPort`, value: tp, detail: "must be between 1 and 65535, inclusive" });
      if (typeof tp === "string") for (const msg of portNameErrors(tp)) errs.push({ type: "Invalid", field: `spec.ports[${i}].targetPort`, value: tp, detail: msg });
    });
    errs.push(...validateLabels(spec.selector, "spec.selector"));
    if (old !== undefined) {
      const oldIp = getPath(old, ["spec", "clusterIP"]);
      if (oldIp !== undefined && spec.clusterIP !== oldIp) {
        errs.push({ type: "Invalid", field: "spec.clusterIPs[0]", value: spec.clusterIP ?? "", detail: "may not change once set" });
      }
    }
    return errs;
  },
  PodDisruptionBudget(obj) {
    const errs: FieldError[] = [];
    const spec = asObj(obj.spec) ?? {};
    if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
      errs.push({ type: "Invalid", field: "spec", value: spec, detail: "minAvailable and maxUnavailable cannot be both set" });
    }
    for (const f of ["minAvailable", "maxUnavailable"]) {
      const v = spec[f];
      if (typeof v === "number" && v < 0) errs.push({ type: "Invalid", field: `spec.${f}`, value: v, detail: "must be greater than or equal to 0" });
      if (typeof v === "string") {
        const m = v.match(/^(\d+)%$/);
        if (m === null) errs.push({ type: "Invalid", field: `spec.${f}`, value: v, detail: "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')" });
        else if (Number(m[1]) > 100) errs.push({ type: "Invalid", field: `spec.${f}`, value: v, detail: "must not be greater than 100%" });
      }
    }
    const sel = asObj(spec.selector);
    if (sel !== undefined) errs.push(...validateLabels(sel.matchLabels, "spec.selector.matchLabels"));
    return errs;
  },
  ConfigMap(obj, old) {
    const errs: FieldError[] = [];
    const data = asObj(obj.data) ?? {};
    const binary = asObj(obj.binaryData) ?? {};
    for (const k of Object.keys(data)) for (const msg of configKeyErrors(k)) errs.push({ type: "Invalid", field: "data", value: k, detail: msg });
    for (const k of Object.keys(binary)) {
      for (const msg of configKeyErrors(k)) errs.push({ type: "Invalid", field: "binaryData", value: k, detail: msg });
      if (k in data) errs.push({ type: "Invalid", field: "data", value: k, detail: "duplicate of key present in binaryData" });
    }
    if (dataSize(obj) > 1024 * 1024) errs.push({ type: "TooLong", field: "", detail: "must have at most 1048576 bytes" });
    errs.push(...immutableData(obj, old, ["data", "binaryData"]));
    return errs;
  },
  Secret(obj, old) {
    const errs: FieldError[] = [];
    for (const k of Object.keys(asObj(obj.data) ?? {})) for (const msg of configKeyErrors(k)) errs.push({ type: "Invalid", field: "data", value: k, detail: msg });
    if (dataSize({ binaryData: obj.data }) > 1024 * 1024) errs.push({ type: "TooLong", field: "data", detail: "must have at most 1048576 bytes" });
    if (old !== undefined && old.type !== obj.type) errs.push({ type: "Invalid", field: "type", value: obj.type, detail: "field is immutable" });
    errs.push(...immutableData(obj, old, ["data"]));
    return errs;
  },
  PersistentVolumeClaim(obj, old) {
    const errs = old === undefined ? validateClaimSpec(asObj(obj.spec) ?? {}, "spec") : [];
    if (old !== undefined) {
      const strip = (s: unknown): Obj => {
        const c = withoutKeys(s, ["volumeAttributesClassName"]);
        const r = withoutKeys(c.resources, ["requests"]);
        c.resources = r;
        return c;
      };
      if (!jsonEqual(strip(obj.spec), strip(old.spec))) {
        errs.push({ type: "Forbidden", field: "spec", detail: "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims" });
      }
      const before = parseQuantity(getPath(old, ["spec", "resources", "requests", "storage"]));
      const after = parseQuantity(getPath(obj, ["spec", "resources", "requests", "storage"]));
      if (after < before) errs.push({ type: "Forbidden", field: "spec.resources.requests.storage", detail: "field can not be less than previous value" });
    }
    return errs;
  },
  Lease(obj) {
    const errs: FieldError[] = [];
    const d = getPath(obj, ["spec", "leaseDurationSeconds"]);
    if (typeof d === "number" && d <= 0) errs.push({ type: "Invalid", field: "spec.leaseDurationSeconds", value: d, detail: "must be greater than 0" });
    const t = getPath(obj, ["spec", "leaseTransitions"]);
    if (typeof t === "number" && t < 0) errs.push({ type: "Invalid", field: "spec.leaseTransitions", value: t, detail: "must be greater than or equal to 0" });
    return errs;
  },
  Event(obj) {
    const errs: FieldError[] = [];
    const ns = asStr(asObj(obj.metadata)?.namespace) ?? "";
    const involvedNs = asStr(getPath(obj, ["involvedObject", "namespace"])) ?? "";
    if (obj.eventTime === undefined || obj.eventTime === null) {
      if (involvedNs === "" ? ns !== "" && ns !== "default" : ns !== involvedNs) {
        errs.push({ type: "Invalid", field: "involvedObject.namespace", value: involvedNs, detail: "does not match event.namespace" });
      }
    } else {
      if (involvedNs === "" && ns !== "default" && ns !== "kube-system") errs.push({ type: "Invalid", field: "involvedObject.namespace", value: involvedNs, detail: "does not match event.namespace" });
      const controller = asStr(obj.reportingComponent) ?? "";
      if (controller === "") errs.push({ type: "Required", field: "reportingComponent" });
      else for (const msg of qualifiedNameErrors(controller)) errs.push({ type: "Invalid", field: "reportingComponent", value: controller, detail: msg });
      const instance = asStr(obj.reportingInstance) ?? "";
      if (instance === "") errs.push({ type: "Required", field: "reportingInstance" });
      if (instance.length > 128) errs.push({ type: "Invalid", field: "reportingInstance", value: "", detail: "can have at most 128 characters" });
      const action = asStr(obj.action) ?? "";
      if (action === "") errs.push({ type: "Required", field: "action" });
      if (action.length > 128) errs.push({ type: "Invalid", field: "action", value: "", detail: "can have at most 128 characters" });
      const reason = asStr(obj.reason) ?? "";
      if (reason === "") errs.push({ type: "Required", field: "reason" });
      if (reason.length > 128) errs.push({ type: "Invalid", field: "reason", value: "", detail: "can have at most 128 characters" });
      if ((asStr(obj.message) ?? "").length > 1024) errs.push({ type: "Invalid", field: "message", value: "", detail: "can have at most 1024 characters" });
    }
    return errs;
  },
};

function immutableData(obj: Obj, old: Obj | undefined, fields: string[]): FieldError[] {
  if (old === undefined || old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push({ type: "Forbidden", field: "immutable", detail: "field is immutable when `immutable` is set" });
  for (const f of fields) if (!jsonEqual(obj[f], old[f])) errs.push({ type: "Forbidden", field: f, detail: "field is immutable when `immutable` is set" });
  return errs;
}

/** Stage 2 for a built-in kind: metadata and the kind's rules; `old` is set on updates. */
export function validateBuiltin(res: ResourceInfo, obj: Obj, old: Obj | undefined): FieldError[] {
  const errs = validateObjectMeta(res, obj);
  errs.push(...(KIND_RULES[res.kind]?.(obj, old) ?? []));
  return errs;
}
