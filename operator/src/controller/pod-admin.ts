/**
 * How the controller reaches the pods: the admin gRPC service (kingbus.v1.Admin, the one
 * `kingbus ctl` speaks) of each member, at an address a PodNetwork gives for the member's
 * ordinal. In a cluster that is the member's DNS name under the peer Service; tests point it at
 * loopback processes. The connector is injectable so that controller tests can use a fake.
 */
import { AdminGrpcClient } from "../../../node/src/admin/grpc-admin.ts";
import type { AdminMethodName, AdminRequest, AdminResponse } from "../../../node/src/transport/admin-types.ts";
import { PEER_PORT, type KingbusCluster } from "../api/kingbus-cluster.ts";
import { memberAddress, memberHost, type AddressOptions } from "../desired/names.ts";

/** The calls the controller makes on one member. */
export interface PodAdmin {
  call<M extends AdminMethodName>(method: M, request: AdminRequest<M>, options?: { deadlineMs?: number }): Promise<AdminResponse<M>>;
}

/** A PodAdmin for `target` (host:port) presenting `token`. */
export interface AdminConnector {
  connect(target: string, token: string): PodAdmin;
  /** Closes every connection. */
  close(): void;
}

/** Where a member is. */
export interface PodNetwork {
  /** host:port of the member's admin gRPC service (its peer port). */
  adminTarget(cluster: KingbusCluster, ordinal: number): string;
  /** The URLs the member is known by in the Raft membership (what AddLearner records). */
  memberUrls(cluster: KingbusCluster, ordinal: number): { peerUrl: string; adminUrl: string };
}

/** Members by their DNS names under the peer Service: what the pods advertise (desired/config.ts). */
export function dnsPodNetwork(options: AddressOptions = {}): PodNetwork {
  return {
    adminTarget: (cluster, ordinal) => `${memberHost(cluster, ordinal, options)}:${PEER_PORT}`,
    memberUrls: (cluster, ordinal) => {
      const a = memberAddress(cluster, ordinal, options);
      return { peerUrl: a.peerUrl, adminUrl: a.adminUrl };
    },
  };
}

/** gRPC clients, one per target and token, kept open between passes. */
export function grpcAdminConnector(): AdminConnector {
  const clients = new Map<string, AdminGrpcClient>();
  return {
    connect(target, token) {
      const key = `${target}\0${token}`;
      let client = clients.get(key);
      if (client === undefined) {
        // A token rotated or a member gone: drop the clients of this target made with another one.
        for (const [k, c] of clients) {
          if (k.startsWith(`${target}\0`)) {
            c.close();
            clients.delete(k);
          }
        }
        client = new AdminGrpcClient(target, { token, channelOptions: { "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2_000 } });
        clients.set(key, client);
      }
      const c = client;
      return { call: (method, request, options) => c.call(method, request, options?.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }) };
    },
    close() {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
