/**
 * The ServiceMonitor CRD as prometheus-operator installs it (monitoring.coreos.com/v1), reduced to
 * the fields an operator sets; like the real one it prunes fields it does not declare.
 */
import type { Obj } from "./json.ts";

const preserve = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
const labelSelector = {
  type: "object",
  properties: {
    matchLabels: { type: "object", additionalProperties: { type: "string" } },
    matchExpressions: {
      type: "array",
      items: {
        type: "object", required: ["key", "operator"],
        properties: { key: { type: "string" }, operator: { type: "string" }, values: { type: "array", items: { type: "string" } } },
      },
    },
  },
  "x-kubernetes-map-type": "atomic",
};

export function serviceMonitorCrd(): Obj {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "servicemonitors.monitoring.coreos.com" },
    spec: {
      group: "monitoring.coreos.com",
      names: { kind: "ServiceMonitor", listKind: "ServiceMonitorList", plural: "servicemonitors", singular: "servicemonitor", shortNames: ["smon"], categories: ["prometheus-operator"] },
      scope: "Namespaced",
      versions: [{
        name: "v1", served: true, storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object", required: ["spec"],
            properties: {
              apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" },
              spec: {
                type: "object", required: ["selector"],
                properties: {
                  jobLabel: { type: "string" },
                  targetLabels: { type: "array", items: { type: "string" } },
                  podTargetLabels: { type: "array", items: { type: "string" } },
                  sampleLimit: { type: "integer", format: "int64" },
                  selector: labelSelector,
                  namespaceSelector: { type: "object", properties: { any: { type: "boolean" }, matchNames: { type: "array", items: { type: "string" } } } },
                  endpoints: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        port: { type: "string" },
                        targetPort: { anyOf: [{ type: "integer" }, { type: "string" }], "x-kubernetes-int-or-string": true },
                        path: { type: "string" },
                        scheme: { type: "string", enum: ["http", "https", "HTTP", "HTTPS"] },
                        interval: { type: "string", pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$" },
                        scrapeTimeout: { type: "string", pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$" },
                        honorLabels: { type: "boolean" },
                        honorTimestamps: { type: "boolean" },
                        params: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
                        relabelings: { type: "array", items: preserve },
                        metricRelabelings: { type: "array", items: preserve },
                        tlsConfig: preserve,
                        bearerTokenSecret: preserve,
                        basicAuth: preserve,
                        authorization: preserve,
                      },
                    },
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
