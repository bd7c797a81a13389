/**
 * The gRPC peer transport of `kingbus node`: serves the Raft service, keeps one PeerSender per
 * peer, routes outgoing messages to them and streams snapshots. See docs/transport.md.
 */
import { Client, Metadata, Server, status, type ChannelOptions, type ServerReadableStream, type sendUnaryData } from "@grpc/grpc-js";
import { rm } from "node:fs/promises";
import { MessageType, type Message, type SnapshotMessage } from "../raft/messages.ts";
import { transportCredentials, type TlsFiles, type TransportCredentials } from "./credentials.ts";
import { TransportError } from "./errors.ts";
import { checkIdentity, identityMetadata } from "./identity.ts";
import { peerTarget } from "./peer-address.ts";
import { PeerSender, type PeerStats } from "./peer-sender.ts";
import { kingbusProto } from "./proto.ts";
import { decodeMessage, encodeMessage, messageWireBytes } from "./raft-codec.ts";
import { receiveSnapshot, removeIncompleteSnapshots, sendSnapshot, type SnapshotSource } from "./snapshot-stream.ts";
import type { WireMessageBatch, WireRaftMessage, WireSendResponse, WireSnapshotChunk, WireSnapshotResponse } from "./wire-types.ts";

export interface SnapshotOptions {
  /** Where received snapshots are written (one `snap-*` directory each). */
  dir: string;
  /** The files to stream for an outgoing MsgSnap. */
  source: (message: SnapshotMessage) => Promise<SnapshotSource>;
  /**
   * A received snapshot, complete and verified in `dir`. It now belongs to the callee, which
   * installs it and steps `message` into Raft. If it throws, the directory is removed and the
   * sender told the snapshot failed.
   */
  onSnapshot: (message: SnapshotMessage, dir: string) => Promise<void>;
  /** The outcome of an outgoing snapshot: for Raft's reportSnapshot(peer, error === undefined). */
  onSent?: (peer: number, message: SnapshotMessage, error?: TransportError) => void;
  chunkBytes?: number;
  stallTimeoutMs?: number;
}

export interface TransportLimits {
  /** Messages waiting per peer before the oldest non-essential ones are dropped. */
  queueMessages: number;
  /** Bytes waiting per peer, likewise. At least `messageBytes`. */
  queueBytes: number;
  /** Size of one stream write; a larger message goes alone. */
  batchBytes: number;
  /** Largest message (and batch) on the wire: the gRPC message limit on both sides. */
  messageBytes: number;
}

export interface PeerTransportOptions {
  id: number;
  /** host:port to serve the Raft service on; port 0 picks a free one (see `address`). */
  listen: string;
  /** Peers refuse calls from another cluster id. */
  clusterId?: string;
  tls?: TlsFiles;
  /** Batches from one peer, in the order that peer sent them. A returned promise holds back the next batch from that peer. */
  onMessages: (messages: Message[], from: number) => void | Promise<void>;
  /** Transitions of a peer between reachable and not (Raft's reportUnreachable, metrics). */
  onReachability?: (peer: number, reachable: boolean, cause?: TransportError) => void;
  /** Problems worth a log line: batches refused, messages too large to send, snapshots refused. */
  onError?: (error: Error) => void;
  snapshots?: SnapshotOptions;
  limits?: Partial<TransportLimits>;
  backoff?: { initialMs?: number; maxMs?: number };
  connectTimeoutMs?: number;
  /** HTTP/2 keepalive: a connection that does not answer a ping within timeoutMs is dropped. */
  keepalive?: { intervalMs?: number; timeoutMs?: number };
  /** Test hooks; never set in production. */
  testing?: { tamperSnapshotChunk?: (file: string, offset: number, data: Buffer) => Buffer };
}

export interface TransportStats {
  peers: Map<number, PeerStats>;
  messagesReceived: number;
  batchesReceived: number;
  /** Messages for a node that is not a peer (not added yet, or removed). */
  droppedUnknownPeer: number;
  /** Messages larger than `limits.messageBytes`. */
  droppedOversize: number;
  snapshotsSent: number;
  snapshotsSendFailed: number;
  snapshotsReceived: number;
  snapshotsReceiveFailed: number;
}

export const DEFAULT_LIMITS: TransportLimits = { queueMessages: 4096, queueBytes: 64 << 20, batchBytes: 1 << 20, messageBytes: 64 << 20 };

/**
 * Dropped last when a queue is full: losing one of these costs an election timeout (or a failed
 * leadership transfer), and there are only a few of them.
 */
function isEssential(m: Message): boolean {
  return m.type === MessageType.Vote || m.type === MessageType.VoteResp || m.type === MessageType.PreVote
    || m.type === MessageType.PreVoteResp || m.type === MessageType.TimeoutNow;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TransportError("TRANSPORT_BAD_CONFIG", `${what} must be a positive integer, not ${value}`);
  return value;
}

export class PeerTransport {
  readonly #options: PeerTransportOptions;
  readonly #id: number;
  readonly #cluster: string;
  readonly #limits: TransportLimits;
  readonly #credentials: TransportCredentials;
  readonly #channelOptions: ChannelOptions;
  readonly #server: Server;
  readonly #peers = new Map<number, PeerSender>();
  readonly #outgoingSnapshots = new Map<number, { abort: AbortController; done: Promise<void> }>();
  readonly #incomingSnapshots = new Set<Promise<unknown>>();
  #address: string | undefined;
  #closing: Promise<void> | undefined;
  #messagesReceived = 0;
  #batchesReceived = 0;
  #droppedUnknownPeer = 0;
  #droppedOversize = 0;
  #snapshotsSent = 0;
  #snapshotsSendFailed = 0;
  #snapshotsReceived = 0;
  #snapshotsReceiveFailed = 0;

  constructor(options: PeerTransportOptions) {
    this.#options = options;
    this.#id = positiveInteger(options.id, "the node id");
    this.#cluster = options.clusterId ?? "";
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [key, value] of Object.entries(this.#limits)) positiveInteger(value, `limits.${key}`);
    if (this.#limits.queueBytes < this.#limits.messageBytes || this.#limits.batchBytes > this.#limits.messageBytes) {
      throw new TransportError("TRANSPORT_BAD_CONFIG", "limits must satisfy batchBytes <= messageBytes <= queueBytes: a batch must fit in a gRPC message, any message in the queue");
    }
    const chunkBytes = options.snapshots?.chunkBytes;
    if (chunkBytes !== undefined && positiveInteger(chunkBytes, "snapshots.chunkBytes") > this.#limits.messageBytes) {
      throw new TransportError("TRANSPORT_BAD_CONFIG", "snapshots.chunkBytes must not exceed limits.messageBytes");
    }
    this.#credentials = transportCredentials(options.tls);
    const keepalive = { "grpc.keepalive_time_ms": options.keepalive?.intervalMs ?? 10_000, "grpc.keepalive_timeout_ms": options.keepalive?.timeoutMs ?? 5_000 };
    this.#channelOptions = {
      ...keepalive,
      // A batch is at most batchBytes, or one message of at most messageBytes; plus its framing.
      "grpc.max_send_message_length": this.#limits.messageBytes + 1024,
      "grpc.max_receive_message_length": 1 << 20,
      // A channel per attempt (see PeerSender): nothing shared, nothing buffered for retries.
      "grpc.use_local_subchannel_pool": 1,
      "grpc.enable_retries": 0,
      // Even without retries grpc-js keeps up to 1 MiB of a call's messages for a transparent
      // retry and reports such a write done at once, before HTTP/2 took it. With no such buffer a
      // write's callback means the batch is on the HTTP/2 stream: the sender's one-batch-at-a-time
      // pacing then follows the peer's flow control, and a batch's buffer is free for the next one.
      "grpc.per_rpc_retry_buffer_size": 0,
    };
    this.#server = new Server({ ...keepalive, "grpc.max_receive_message_length": this.#limits.messageBytes + 1024 });
    this.#server.addService(kingbusProto().raftService, {
      Send: (call: ServerReadableStream<WireMessageBatch, WireSendResponse>, callback: sendUnaryData<WireSendResponse>) => this.#serveSend(call, callback),
      SendSnapshot: (call: ServerReadableStream<WireSnapshotChunk, WireSnapshotResponse>, callback: sendUnaryData<WireSnapshotResponse>) =>
        void this.#serveSnapshot(call, callback),
    });
  }

  /** Serves the Raft service; resolves with the address it listens on. */
  /** The gRPC server, for services that share the peer port (the admin service). */
  get server(): Server {
    return this.#server;
  }

  async start(): Promise<string> {
    if (this.#closing !== undefined) throw new TransportError("TRANSPORT_CLOSED", "the transport is closed");
    if (this.#address !== undefined) return this.#address;
    const listen = peerTarget(this.#options.listen);
    if (this.#options.snapshots !== undefined) await removeIncompleteSnapshots(this.#options.snapshots.dir);
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(listen, this.#credentials.server, (error, bound) => (error ? reject(new TransportError("TRANSPORT_BAD_CONFIG", `cannot listen on ${listen}`, { cause: error })) : resolve(bound)));
    });
    this.#address = `${listen.slice(0, listen.lastIndexOf(":"))}:${port}`;
    return this.#address;
  }

  /** host:port the transport listens on, once started. */
  get address(): string | undefined {
    return this.#address;
  }

  addPeer(id: number, url: string): void {
    this.#checkOpen();
    positiveInteger(id, "a peer id");
    if (id === this.#id) throw new TransportError("TRANSPORT_BAD_CONFIG", `node ${id} cannot be its own peer`);
    if (this.#peers.has(id)) throw new TransportError("TRANSPORT_UNKNOWN_PEER", "already a peer", { peer: id });
    const limits = this.#limits;
    this.#peers.set(id, new PeerSender({
      localId: this.#id,
      peerId: id,
      target: peerTarget(url),
      clusterId: this.#cluster,
      credentials: this.#credentials.client,
      channelOptions: this.#channelOptions,
      queue: { maxMessages: limits.queueMessages, maxBytes: limits.queueBytes },
      maxBatchBytes: limits.batchBytes,
      backoff: { initialMs: this.#options.backoff?.initialMs ?? 100, maxMs: this.#options.backoff?.maxMs ?? 5_000 },
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 5_000,
      onReachability: (peer, reachable, cause) => this.#options.onReachability?.(peer, reachable, cause),
    }));
  }

  /** A new URL for a peer (membership update): its stream is reopened there at once. */
  updatePeer(id: number, url: string): void {
    this.#checkOpen();
    const peer = this.#peers.get(id);
    if (peer === undefined) throw new TransportError("TRANSPORT_UNKNOWN_PEER", "not a peer", { peer: id });
    const target = peerTarget(url);
    if (target === peer.target) return;
    this.#outgoingSnapshots.get(id)?.abort.abort();
    peer.retarget(target);
  }

  /** Forgets a peer: its queue is discarded, its stream and any snapshot to it cancelled. */
  removePeer(id: number): void {
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    this.#peers.delete(id);
    this.#outgoingSnapshots.get(id)?.abort.abort();
    peer.close();
  }

  /**
   * Hands messages to their peers' queues and returns at once. Every message is checked and
   * encoded before any is queued: a malformed one (a bug in the caller) throws and sends nothing.
   * MsgSnap starts a snapshot transfer whose outcome goes to `snapshots.onSent`.
   */
  send(messages: readonly Message[]): void {
    this.#checkOpen();
    const encoded: WireRaftMessage[] = messages.map((m) => {
      if (m.from !== this.#id) throw new TransportError("TRANSPORT_BAD_MESSAGE", `message from node ${m.from} handed to the transport of node ${this.#id}`);
      return encodeMessage(m);
    });
    const touched = new Set<PeerSender>();
    messages.forEach((m, i) => {
      if (m.type === MessageType.Snap) {
        this.#startSnapshot(m);
        return;
      }
      const peer = this.#peers.get(m.to);
      if (peer === undefined) {
        this.#droppedUnknownPeer++;
        return;
      }
      const bytes = messageWireBytes(m);
      if (bytes > this.#limits.messageBytes) {
        this.#droppedOversize++;
        this.#options.onError?.(new TransportError("TRANSPORT_OVERSIZE", `${m.type} of ${bytes} bytes is over the ${this.#limits.messageBytes}-byte message limit: dropped`, { peer: m.to }));
        return;
      }
      peer.enqueue(encoded[i]!, bytes, isEssential(m));
      touched.add(peer);
    });
    for (const peer of touched) peer.flush();
  }

  stats(): TransportStats {
    return {
      peers: new Map([...this.#peers].map(([id, peer]) => [id, peer.stats()])),
      messagesReceived: this.#messagesReceived,
      batchesReceived: this.#batchesReceived,
      droppedUnknownPeer: this.#droppedUnknownPeer,
      droppedOversize: this.#droppedOversize,
      snapshotsSent: this.#snapshotsSent,
      snapshotsSendFailed: this.#snapshotsSendFailed,
      snapshotsReceived: this.#snapshotsReceived,
      snapshotsReceiveFailed: this.#snapshotsReceiveFailed,
    };
  }

  /**
   * Stops everything: queued messages are discarded, streams and snapshot transfers cancelled
   * (their incoming directories removed), the server shut down. Resolves when nothing is left.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const peer of this.#peers.values()) peer.close();
      this.#peers.clear();
      for (const { abort } of this.#outgoingSnapshots.values()) abort.abort();
      // tryShutdown reports when the listeners and sessions are closed; forceShutdown makes that
      // happen now, cancelling incoming streams that would otherwise never end.
      const serverClosed = new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
      this.#server.forceShutdown();
      await serverClosed;
      await Promise.allSettled([...[...this.#outgoingSnapshots.values()].map((s) => s.done), ...this.#incomingSnapshots]);
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new TransportError("TRANSPORT_CLOSED", "the transport is closed");
  }

  #refuse(error: unknown, code: status): { code: status; details: string } {
    const details = error instanceof TransportError ? `${error.code}: ${error.message}` : String(error);
    this.#options.onError?.(error instanceof Error ? error : new Error(details));
    return { code, details };
  }

  /** The peer a stream comes from, or undefined after refusing a stream meant for another node or cluster. */
  #identify(metadata: Metadata, callback: (error: { code: status; details: string }) => void): number | undefined {
    try {
      return checkIdentity(metadata, { id: this.#id, cluster: this.#cluster });
    } catch (e) {
      callback(this.#refuse(e, status.FAILED_PRECONDITION));
      return undefined;
    }
  }

  #serveSend(call: ServerReadableStream<WireMessageBatch, WireSendResponse>, callback: sendUnaryData<WireSendResponse>): void {
    const from = this.#identify(call.metadata, callback);
    if (from === undefined) return;
    // Response headers now: the sender's sign that this end accepted the stream.
    call.sendMetadata(new Metadata());
    let failed = false;
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      call.removeAllListeners("data");
      // A cancelled call is the sender going away (or this transport closing): nothing to answer.
      if (call.cancelled) return;
      callback(this.#refuse(e, e instanceof TransportError ? status.INVALID_ARGUMENT : status.INTERNAL));
    };
    // 'data' rather than an async iterator: a batch reaches the Raft loop in the same turn it was
    // decoded, without the iterator's promise hops on the path of every append.
    call.on("data", (batch: WireMessageBatch) => {
      if (failed) return;
      try {
        const messages = batch.messages.map((w) => {
          const m = decodeMessage(w);
          if (m.from !== from || m.to !== this.#id) throw new TransportError("TRANSPORT_BAD_MESSAGE", `message ${m.from}->${m.to} on the stream from node ${from} to node ${this.#id}`);
          return m;
        });
        this.#batchesReceived++;
        this.#messagesReceived += messages.length;
        const handled = this.#options.onMessages(messages, from);
        if (handled instanceof Promise) {
          // An asynchronous receiver gets batches one at a time, in order.
          call.pause();
          handled.then(() => call.resume(), fail);
        }
      } catch (e) {
        fail(e);
      }
    });
    call.on("error", fail);
    call.on("end", () => {
      if (!failed) callback(null, {});
    });
  }

  async #serveSnapshot(call: ServerReadableStream<WireSnapshotChunk, WireSnapshotResponse>, callback: sendUnaryData<WireSnapshotResponse>): Promise<void> {
    const from = this.#identify(call.metadata, callback);
    if (from === undefined) return;
    const snapshots = this.#options.snapshots;
    if (snapshots === undefined) {
      callback(this.#refuse(new TransportError("TRANSPORT_REFUSED", `node ${this.#id} is not configured to take snapshots`, { peer: from }), status.FAILED_PRECONDITION));
      return;
    }
    const job = (async () => {
      const received = await receiveSnapshot(call as AsyncIterable<WireSnapshotChunk>, snapshots.dir, { from, to: this.#id });
      try {
        await snapshots.onSnapshot(received.message, received.dir);
      } catch (e) {
        await rm(received.dir, { recursive: true, force: true });
        throw e;
      }
      return received;
    })();
    this.#incomingSnapshots.add(job);
    try {
      const received = await job;
      this.#snapshotsReceived++;
      callback(null, { bytes: received.bytes, files: received.files });
    } catch (e) {
      this.#snapshotsReceiveFailed++;
      if (call.cancelled) return;
      callback(this.#refuse(e, e instanceof TransportError ? status.INVALID_ARGUMENT : status.INTERNAL));
    } finally {
      this.#incomingSnapshots.delete(job);
    }
  }

  #startSnapshot(message: SnapshotMessage): void {
    const peer = this.#peers.get(message.to);
    const snapshots = this.#options.snapshots;
    const fail = (error: TransportError): void => {
      this.#snapshotsSendFailed++;
      this.#options.onError?.(error);
      snapshots?.onSent?.(message.to, message, error);
    };
    if (snapshots === undefined) return fail(new TransportError("SNAPSHOT_FAILED", "this transport is not configured to send snapshots", { peer: message.to }));
    if (peer === undefined) return fail(new TransportError("TRANSPORT_UNKNOWN_PEER", "snapshot for a node that is not a peer", { peer: message.to }));
    if (this.#outgoingSnapshots.has(message.to)) return fail(new TransportError("SNAPSHOT_BUSY", "a snapshot to this peer is already being sent", { peer: message.to }));
    // Registered before the transfer starts, so that a failure on its first step finds it to remove.
    const transfer = { abort: new AbortController(), done: Promise.resolve() };
    this.#outgoingSnapshots.set(message.to, transfer);
    transfer.done = (async () => {
      const client = new Client(peer.target, this.#credentials.client, this.#channelOptions);
      try {
        const source = await snapshots.source(message);
        await sendSnapshot({
          client,
          metadata: identityMetadata({ from: this.#id, to: message.to, cluster: this.#cluster }),
          message,
          source,
          chunkBytes: snapshots.chunkBytes,
          stallTimeoutMs: snapshots.stallTimeoutMs,
          signal: transfer.abort.signal,
          tamper: this.#options.testing?.tamperSnapshotChunk,
        });
        this.#snapshotsSent++;
        snapshots.onSent?.(message.to, message);
      } catch (e) {
        fail(e instanceof TransportError ? e : new TransportError("SNAPSHOT_FAILED", "the snapshot's files could not be listed", { peer: message.to, cause: e }));
      } finally {
        client.close();
        if (this.#outgoingSnapshots.get(message.to) === transfer) this.#outgoingSnapshots.delete(message.to);
      }
    })();
  }
}
