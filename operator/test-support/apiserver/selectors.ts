/**
 * Label selectors (the ?labelSelector= syntax of k8s.io/apimachinery/pkg/labels: `a=b`, `a==b`,
 * `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated, all of which must
 * hold), metav1.LabelSelector objects, and field selectors (`f=v`, `f==v`, `f!=v` over the fields
 * each kind supports; others are refused with 400, as the API server does).
 */
import { badRequest } from "./errors.ts";
import { asArr, asObj, asStr, getPath, type Obj } from "./json.ts";
import { labelValueErrors, qualifiedNameErrors } from "./names.ts";

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export type LabelSelector = Requirement[];

function fail(message: string): never {
  throw badRequest(`unable to parse requirement: ${message}`);
}

/** Splits at commas outside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) { parts.push(cur); cur = ""; continue; }
    cur += ch;
  }
  parts.push(cur);
  return parts;
}

function checkKey(key: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length > 0) fail(`<nil>: Invalid value: ${JSON.stringify(key)}: ${errs.join("; ")}`);
}

function checkValue(v: string): void {
  const errs = labelValueErrors(v);
  if (errs.length > 0) fail(`values[0][${v}]: Invalid value: ${JSON.stringify(v)}: ${errs.join("; ")}`);
}

export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined || text.trim() === "") return [];
  const reqs: Requirement[] = [];
  for (const rawPart of splitTop(text)) {
    const part = rawPart.trim();
    if (part === "") fail("found '', expected: !, identifier, or 'end of string'");
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/)) !== null) {
      checkKey(m[1]!); reqs.push({ key: m[1]!, op: "!", values: [] }); continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/)) !== null) {
      checkKey(m[1]!);
      const values = m[3]!.split(",").map((v) => v.trim());
      if (values.length === 1 && values[0] === "" && m[2] === "in") fail("for 'in', 'notin' operators, values set can't be empty");
      values.forEach(checkValue);
      reqs.push({ key: m[1]!, op: m[2] as "in" | "notin", values });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/)) !== null) {
      checkKey(m[1]!);
      const op = m[2]!;
      const value = m[3]!;
      if (op === ">" || op === "<") {
        if (!/^-?\d+$/.test(value)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key: m[1]!, op: op === ">" ? "gt" : "lt", values: [value] });
        continue;
      }
      checkValue(value);
      reqs.push({ key: m[1]!, op: op === "!=" ? "!=" : "=", values: [value] });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)$/)) !== null) {
      checkKey(m[1]!); reqs.push({ key: m[1]!, op: "exists", values: [] }); continue;
    }
    fail(`found '${part}', expected: identifier, !, in, notin, =, ==, !=, gt, lt`);
  }
  return reqs;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, unknown> | undefined): boolean {
  const l = labels ?? {};
  for (const r of selector) {
    const has = Object.hasOwn(l, r.key);
    const v = has ? String(l[r.key]) : undefined;
    switch (r.op) {
      case "=": case "in": if (v === undefined || !r.values.includes(v)) return false; break;
      case "!=": case "notin": if (v !== undefined && r.values.includes(v)) return false; break;
      case "exists": if (!has) return false; break;
      case "!": if (has) return false; break;
      case "gt": case "lt": {
        if (v === undefined || !/^-?\d+$/.test(v)) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        if (r.op === "gt" ? !(n > bound) : !(n < bound)) return false;
        break;
      }
    }
  }
  return true;
}

/** A metav1.LabelSelector object as requirements; an empty selector matches everything. */
export function fromLabelSelectorObject(sel: unknown): LabelSelector {
  const o = asObj(sel) ?? {};
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(asObj(o.matchLabels) ?? {})) reqs.push({ key: k, op: "=", values: [String(v)] });
  for (const e of asArr(o.matchExpressions) ?? []) {
    const x = asObj(e) ?? {};
    const key = asStr(x.key) ?? "";
    const values = (asArr(x.values) ?? []).map(String);
    switch (x.operator) {
      case "In": reqs.push({ key, op: "in", values }); break;
      case "NotIn": reqs.push({ key, op: "notin", values }); break;
      case "Exists": reqs.push({ key, op: "exists", values: [] }); break;
      case "DoesNotExist": reqs.push({ key, op: "!", values: [] }); break;
      default: break;
    }
  }
  return reqs;
}

export interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

function unescapeField(v: string): string {
  return v.replace(/\\(.)/g, "$1");
}

/** Fields each kind can be selected on, beyond metadata.name and metadata.namespace. */
const FIELD_LABELS: Record<string, string[]> = {
  Pod: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
  Event: ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"],
  Secret: ["type"],
  Namespace: ["status.phase"],
};

export function parseFieldSelector(text: string | undefined, kind: string): FieldRequirement[] {
  if (text === undefined || text.trim() === "") return [];
  const out: FieldRequirement[] = [];
  for (const part of text.split(/(?<!\\),/)) {
    const m = part.trim().match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (m === null) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1]!;
    const allowed = field === "metadata.name" || field === "metadata.namespace" || (FIELD_LABELS[kind]?.includes(field) ?? false);
    if (!allowed) throw badRequest(`field label not supported: ${field}`);
    out.push({ field, value: unescapeField(m[3]!), negate: m[2] === "!=" });
  }
  return out;
}

function fieldValue(obj: Obj, field: string): string {
  if (field === "source") return String(getPath(obj, ["source", "component"]) ?? "");
  const v = getPath(obj, field.split("."));
  return v === undefined || v === null ? "" : String(v);
}

export function matchesFields(reqs: FieldRequirement[], obj: Obj): boolean {
  for (const r of reqs) {
    const v = fieldValue(obj, r.field);
    if (r.negate ? v === r.value : v !== r.value) return false;
  }
  return true;
}
