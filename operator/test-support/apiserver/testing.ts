/** Helpers for the fake API server's own tests. */
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import type { Obj } from "./json.ts";

/** The Status a client-node call failed with; fails the test when the call succeeds. */
export async function statusOf(call: Promise<unknown>): Promise<{ code: number; status: Obj }> {
  try {
    await call;
  } catch (e) {
    if (e instanceof ApiException) {
      const body = typeof e.body === "string" ? (JSON.parse(e.body) as Obj) : (e.body as Obj);
      return { code: e.code, status: body };
    }
    throw e;
  }
  assert.fail("expected the request to fail");
}

/** Fetch against the fake server with its token. */
export async function raw(url: string, token: string, init: RequestInit = {}): Promise<{ status: number; body: Obj; text: string }> {
  const res = await fetch(url, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  const text = await res.text();
  let body: Obj = {};
  try { body = JSON.parse(text) as Obj; } catch { /* not JSON */ }
  return { status: res.status, body, text };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until check returns true, or fails after timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(10);
  }
  assert.fail(`${what} not met within ${timeoutMs} ms`);
}

/** A KingbusCluster CRD for the fake server's own tests (the operator's real CRD is generated from its schema). */
export function kingbusClusterCrd(): Obj {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "kingbusclusters.kingbus.io" },
    spec: {
      group: "kingbus.io",
      scope: "Namespaced",
      names: { kind: "KingbusCluster", plural: "kingbusclusters", singular: "kingbuscluster", shortNames: ["kb"] },
      versions: [{
        name: "v1alpha1", served: true, storage: true, subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object", required: ["image"],
                properties: {
                  replicas: { type: "integer", format: "int32", minimum: 1, default: 3 },
                  image: { type: "string", minLength: 1 },
                  flavor: { type: "string", enum: ["mariadb", "mysql"], default: "mariadb" },
                  primary: { type: "object", properties: { host: { type: "string" }, port: { type: "integer", default: 3306 } } },
                  labels: { type: "object", additionalProperties: { type: "string" } },
                  extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
              status: {
                type: "object",
                properties: {
                  phase: { type: "string" },
                  observedGeneration: { type: "integer", format: "int64" },
                  leader: { type: "string" },
                  conditions: {
                    type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                    items: { type: "object", required: ["type", "status"], properties: { type: { type: "string" }, status: { type: "string" }, reason: { type: "string" }, message: { type: "string" }, lastTransitionTime: { type: "string", format: "date-time" } } },
                  },
                },
              },
            },
          },
        },
      }],
    },
  };
}
