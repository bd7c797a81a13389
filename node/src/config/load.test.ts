import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { KingbusError } from "../errors.ts";
import { ConfigError, envVarName, EXIT_CONFIG_INVALID, flagName, loadNodeConfig, loadNodeConfigForCommand, NODE_FIELDS, registerNodeOptions, Secret, type LoadNodeConfigInput, type NodeConfig } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "kingbus-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;

function writeFile(content: string, name = `f${++fileCounter}`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function writeConfig(config: object): string {
  return writeFile(JSON.stringify(config), `config-${++fileCounter}.json`);
}

const MEMBERS = [
  { id: 1, name: "kb-0", peerUrl: "http://kb-0.kb:9696", adminUrl: "http://kb-0.kb:9595" },
  { id: 2, name: "kb-1", peerUrl: "http://kb-1.kb:9696", adminUrl: "http://kb-1.kb:9595" },
  { id: 3, name: "kb-2", peerUrl: "http://kb-2.kb:9696", adminUrl: "http://kb-2.kb:9595" },
];

/** A valid bootstrap configuration for node 1; `over` replaces top-level fields (undefined removes). */
function base(over: Record<string, unknown> = {}): Record<string, unknown> {
  const merged: Record<string, unknown> = { id: 1, name: "kb-0", dataDir: "/var/lib/kingbus", initialCluster: MEMBERS, ...over };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined));
}

function load(config: Record<string, unknown>, input: Omit<LoadNodeConfigInput, "file"> = {}): NodeConfig {
  return loadNodeConfig({ argv: [], env: {}, ...input, file: writeConfig(config) });
}

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the configuration to be refused");
}

/** Refused with exactly one issue at `path` whose message matches. */
function assertRefused(fn: () => unknown, path: string, message: RegExp): ConfigError {
  const e = refusal(fn);
  const issue = e.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue at ${path}: ${e.message}`);
  assert.match(issue.message, message);
  return e;
}

describe("loadNodeConfig: defaults and result", () => {
  it("fills the defaults and derives the advertised URLs from this node's entry", () => {
    const c = load(base());
    assert.equal(c.id, 1);
    assert.equal(c.name, "kb-0");
    assert.deepEqual(c.listen, { peer: { host: "0.0.0.0", port: 9696 }, admin: { host: "0.0.0.0", port: 9696 }, http: { host: "0.0.0.0", port: 9595 } });
    assert.deepEqual(c.advertise, { peerUrl: "http://kb-0.kb:9696", adminUrl: "http://kb-0.kb:9595" });
    assert.deepEqual(c.raft, { tickMs: 100, electionTicks: 10, heartbeatTicks: 1 });
    assert.deepEqual(c.storage, { segmentBytes: 64 * 1024 * 1024, retentionMaxBytes: undefined, retentionMaxAgeMs: undefined, syncMode: "dsync", verifyServedRecords: "auto" });
    assert.equal(c.testWriteApi, false);
    assert.equal(c.logLevel, "info");
    assert.equal(c.adminToken, undefined);
    assert.equal(c.peerTls, undefined);
    assert.equal(c.join, undefined);
    assert.equal(c.initialCluster?.length, 3);
  });

  it("is frozen all the way down", () => {
    const c = load(base());
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.raft) && Object.isFrozen(c.listen.http) && Object.isFrozen(c.initialCluster) && Object.isFrozen(c.initialCluster![0]));
    assert.throws(() => {
      (c.raft as { tickMs: number }).tickMs = 1;
    }, TypeError);
  });

  it("parses IPv6 listen addresses and keeps a separate admin port", () => {
    const c = load(base({ listen: { peer: "[::]:9696", admin: "[::1]:9697", http: "127.0.0.1:0" } }));
    assert.deepEqual(c.listen, { peer: { host: "::", port: 9696 }, admin: { host: "::1", port: 9697 }, http: { host: "127.0.0.1", port: 0 } });
  });

  it("joins through a member with advertised URLs", () => {
    const c = load(base({ initialCluster: undefined, id: 4, name: "kb-3", join: "http://kb-0.kb:9595", advertise: { peerUrl: "http://kb-3.kb:9696", adminUrl: "http://kb-3.kb:9595" } }));
    assert.equal(c.join, "http://kb-0.kb:9595");
    assert.equal(c.initialCluster, undefined);
    assert.deepEqual(c.advertise, { peerUrl: "http://kb-3.kb:9696", adminUrl: "http://kb-3.kb:9595" });
  });
});

describe("loadNodeConfig: the memory budget", () => {
  it("has defaults, takes each field from the file, the environment or a flag, and refuses values out of range", () => {
    const MIB = 1024 * 1024;
    assert.deepEqual(load(base()).memory, { raftInflightBytes: 8 * MIB, recentEntriesBytes: 8 * MIB, syncerInflightBytes: 8 * MIB, syncerBufferBytes: 4 * MIB, serverCacheBytes: 16 * MIB });
    const c = load(base({ memory: { serverCacheBytes: 0 } }), { env: { KINGBUS_MEMORY_RAFT_INFLIGHT_BYTES: String(2 * MIB) }, argv: ["--memory-syncer-buffer-bytes", String(MIB)] });
    assert.equal(c.memory.serverCacheBytes, 0);
    assert.equal(c.memory.raftInflightBytes, 2 * MIB);
    assert.equal(c.memory.syncerBufferBytes, MIB);
    assert.equal(c.memory.recentEntriesBytes, 8 * MIB);
    const e = refusal(() => load(base({ memory: { syncerInflightBytes: 1000 } })));
    assert.match(e.message, /memory\.syncerInflightBytes/);
  });
});

describe("loadNodeConfig: precedence", () => {
  const file = () => writeConfig(base({ raft: { tickMs: 200, electionTicks: 20 }, logLevel: "warn", storage: { segmentBytes: 2 * 1024 * 1024 } }));

  it("flags over environment over file over defaults, field by field", () => {
    const path = file();
    const fromFile = loadNodeConfig({ file: path, argv: [], env: {} });
    assert.deepEqual(fromFile.raft, { tickMs: 200, electionTicks: 20, heartbeatTicks: 1 });
    assert.equal(fromFile.logLevel, "warn");

    const env = { KINGBUS_RAFT_TICK_MS: "300", KINGBUS_LOG_LEVEL: "debug" };
    const fromEnv = loadNodeConfig({ file: path, argv: [], env });
    assert.deepEqual(fromEnv.raft, { tickMs: 300, electionTicks: 20, heartbeatTicks: 1 }, "a sibling from the file survives");
    assert.equal(fromEnv.logLevel, "debug");
    assert.equal(fromEnv.storage.segmentBytes, 2 * 1024 * 1024);

    const fromFlags = loadNodeConfig({ file: path, argv: ["--raft-tick-ms", "400"], env });
    assert.equal(fromFlags.raft.tickMs, 400);
    assert.equal(fromFlags.storage.syncMode, "dsync");
    assert.equal(loadNodeConfig({ file: path, argv: [], env: { KINGBUS_STORAGE_SYNC_MODE: "fdatasync" } }).storage.syncMode, "fdatasync");
    assert.equal(loadNodeConfig({ file: path, argv: ["--storage-sync-mode", "fdatasync"], env: {} }).storage.syncMode, "fdatasync");
    assert.equal(loadNodeConfig({ file: path, argv: ["--storage-verify-served-records", "always"], env: {} }).storage.verifyServedRecords, "always");
    assert.equal(loadNodeConfig({ file: path, argv: [], env: { KINGBUS_STORAGE_VERIFY_SERVED_RECORDS: "always" } }).storage.verifyServedRecords, "always");
    assert.equal(fromFlags.logLevel, "debug", "the environment still shows through where no flag is given");
  });

  it("replaces arrays whole: the environment's initialCluster is the cluster", () => {
    const env = { KINGBUS_INITIAL_CLUSTER: JSON.stringify([MEMBERS[0]]) };
    const c = loadNodeConfig({ file: file(), argv: [], env });
    assert.deepEqual(c.initialCluster, [MEMBERS[0]]);
  });

  it("finds the file from input.file, else --config, else KINGBUS_CONFIG", () => {
    const a = writeConfig(base({ logLevel: "error" }));
    const b = writeConfig(base({ logLevel: "trace" }));
    const c = writeConfig(base({ logLevel: "fatal" }));
    assert.equal(loadNodeConfig({ argv: [], env: { KINGBUS_CONFIG: c } }).logLevel, "fatal");
    assert.equal(loadNodeConfig({ argv: ["--config", b], env: { KINGBUS_CONFIG: c } }).logLevel, "trace");
    assert.equal(loadNodeConfig({ file: a, argv: ["--config", b], env: { KINGBUS_CONFIG: c } }).logLevel, "error");
    assert.equal(loadNodeConfig({ file: a, argv: [], env: {} }).configFile, a);
  });

  it("works from flags and environment alone, without a file", () => {
    const c = loadNodeConfig({
      argv: ["--id", "2", "--name", "kb-1", "--initial-cluster", JSON.stringify(MEMBERS), "--listen-http", "127.0.0.1:8080", "--test-write-api"],
      env: { KINGBUS_DATA_DIR: "/data" },
    });
    assert.equal(c.id, 2);
    assert.equal(c.dataDir, "/data");
    assert.deepEqual(c.listen.http, { host: "127.0.0.1", port: 8080 });
    assert.equal(c.testWriteApi, true);
    assert.equal(c.configFile, undefined);
  });

  it("turns a boolean off from the command line over the environment", () => {
    const env = { KINGBUS_TEST_WRITE_API: "true" };
    assert.equal(load(base(), { env }).testWriteApi, true);
    assert.equal(load(base(), { env, argv: ["--no-test-write-api"] }).testWriteApi, false);
    assert.equal(load(base(), { env: { KINGBUS_TEST_WRITE_API: "0" } }).testWriteApi, false);
  });

  it("treats empty variables as unset and ignores unknown KINGBUS_* names (Kubernetes service links)", () => {
    const c = load(base({ logLevel: "warn" }), { env: { KINGBUS_LOG_LEVEL: "", KINGBUS_SERVICE_HOST: "10.0.0.1", KINGBUS_PORT: "tcp://10.0.0.1:9595", KINGBUS_KEEP_TMP: "1" } });
    assert.equal(c.logLevel, "warn");
  });

  it("accepts what commander parsed on a command set up by registerNodeOptions", () => {
    const command = registerNodeOptions(new Command("node")).exitOverride();
    command.parse(["--raft-election-ticks", "30", "--storage-retention-max-age-ms", "86400000"], { from: "user" });
    const c = loadNodeConfig({ flags: command.opts(), env: {}, file: writeConfig(base()) });
    assert.equal(c.raft.electionTicks, 30);
    assert.equal(c.storage.retentionMaxAgeMs, 86_400_000);
  });
});

describe("loadNodeConfig: every rule", () => {
  it("names the field, the reason and the values: the documented example", () => {
    const e = refusal(() => load(base({ raft: { electionTicks: 2, heartbeatTicks: 5 } })));
    assert.equal(e.message, "invalid configuration: raft.electionTicks: must be greater than raft.heartbeatTicks (got 2 <= 5)");
    assert.equal(e.code, "CONFIG_INVALID");
    assert.ok(e instanceof KingbusError);
    assert.equal(EXIT_CONFIG_INVALID, 2);
  });

  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["id missing", base({ id: undefined }), "id", /^is required$/],
    ["id zero", base({ id: 0 }), "id", /^must be an integer from 1 to 9007199254740991 \(got 0\)$/],
    ["id fractional", base({ id: 1.5 }), "id", /^must be an integer from 1 to .* \(got 1\.5\)$/],
    ["id a string", base({ id: "1" }), "id", /^must be an integer \(got string\)$/],
    ["id beyond 2^53", base({ id: 2 ** 60 }), "id", /^must be an integer from 1 to 9007199254740991/],
    ["name with a space", base({ name: "kb 0" }), "name", /^must be 1 to 63 letters, digits/],
    ["name missing", base({ name: undefined }), "name", /^is required$/],
    ["dataDir empty", base({ dataDir: "" }), "dataDir", /^must be a directory path$/],
    ["listen without port", base({ listen: { peer: "0.0.0.0" } }), "listen.peer", /^must be host:port/],
    ["listen port too large", base({ listen: { http: "0.0.0.0:70000" } }), "listen.http", /^must be host:port/],
    ["listen IPv6 unbracketed", base({ listen: { http: ":::9595" } }), "listen.http", /^must be host:port/],
    ["http on the peer port", base({ listen: { peer: "0.0.0.0:9000", http: "10.0.0.1:9000" } }), "listen.http", /^must not use the port of listen\.peer/],
    ["http on the admin port", base({ listen: { admin: "127.0.0.1:9001", http: "127.0.0.1:9001" } }), "listen.http", /^must not use the port of listen\.admin/],
    ["neither initialCluster nor join", base({ initialCluster: undefined }), "initialCluster", /^is required unless join is set/],
    ["both initialCluster and join", base({ join: "http://kb-1.kb:9595" }), "join", /^cannot be combined with initialCluster/],
    ["empty initialCluster", base({ initialCluster: [] }), "initialCluster", /^must list at least one member$/],
    ["initialCluster not an array", base({ initialCluster: "kb-0" }), "initialCluster", /^must be an array/],
    ["member without peerUrl", base({ initialCluster: [{ id: 1, name: "kb-0", adminUrl: "http://a:1" }] }), "initialCluster[0].peerUrl", /^is required$/],
    ["member peerUrl without port", base({ initialCluster: [{ ...MEMBERS[0], peerUrl: "http://kb-0.kb" }] }), "initialCluster[0].peerUrl", /^must name its port explicitly/],
    ["member URL with a path", base({ initialCluster: [{ ...MEMBERS[0], adminUrl: "http://kb-0.kb:9595/admin" }] }), "initialCluster[0].adminUrl", /^must be a base URL without a path/],
    ["member URL with credentials", base({ initialCluster: [{ ...MEMBERS[0], adminUrl: "http://u:p@kb-0.kb:9595" }] }), "initialCluster[0].adminUrl", /^must not contain a user name or password$/],
    ["member URL not http", base({ initialCluster: [{ ...MEMBERS[0], adminUrl: "grpc://kb-0.kb:9595" }] }), "initialCluster[0].adminUrl", /^must be an http:\/\/ or https:\/\/ URL$/],
    ["duplicate id", base({ initialCluster: [MEMBERS[0], { ...MEMBERS[1], id: 1 }] }), "initialCluster[1].id", /^duplicates initialCluster\[0\]\.id \(1\)$/],
    ["duplicate name", base({ initialCluster: [MEMBERS[0], { ...MEMBERS[1], name: "kb-0" }] }), "initialCluster[1].name", /^duplicates initialCluster\[0\]\.name/],
    ["duplicate peerUrl", base({ initialCluster: [MEMBERS[0], { ...MEMBERS[1], peerUrl: "http://kb-0.kb:9696/" }] }), "initialCluster[1].peerUrl", /^duplicates initialCluster\[0\]\.peerUrl/],
    ["duplicate adminUrl", base({ initialCluster: [MEMBERS[0], { ...MEMBERS[1], adminUrl: MEMBERS[0]!.adminUrl }] }), "initialCluster[1].adminUrl", /^duplicates/],
    ["this node not in initialCluster", base({ id: 9 }), "initialCluster", /^must include this node \(no member has id 9\)$/],
    ["name not this node's entry", base({ name: "kb-1" }), "name", /^must equal the name of this node's entry initialCluster\[0\]/],
    ["advertise differs from the entry", base({ advertise: { peerUrl: "http://elsewhere:9696" } }), "advertise.peerUrl", /^must equal initialCluster\[0\]\.peerUrl/],
    ["join without advertise", base({ initialCluster: undefined, join: "http://kb-0.kb:9595" }), "advertise.peerUrl", /^is required with join/],
    ["join not a URL", base({ initialCluster: undefined, join: "kb-0.kb:9595", advertise: { peerUrl: "http://a:1", adminUrl: "http://a:2" } }), "join", /^must be an http:\/\/ or https:\/\/ URL$/],
    ["token and token file", base({ adminToken: "abc", adminTokenFile: "/run/secrets/token" }), "adminTokenFile", /^cannot be combined with adminToken/],
    ["partial TLS", base({ peerTls: { ca: "/ca.pem", cert: "/cert.pem" } }), "peerTls.key", /^is required when peerTls is set \(mutual TLS/],
    ["http peer URLs under TLS", base({ peerTls: { ca: "/ca", cert: "/c", key: "/k" } }), "initialCluster[0].peerUrl", /^must use https:\/\/ when peerTls is set$/],
    ["https peer URLs without TLS", base({ initialCluster: [{ ...MEMBERS[0], peerUrl: "https://kb-0.kb:9696" }] }), "initialCluster[0].peerUrl", /^must use http:\/\/ when peerTls is not set$/],
    ["tick of zero", base({ raft: { tickMs: 0 } }), "raft.tickMs", /^must be an integer from 1 to 60000 \(got 0\)$/],
    ["election equal to heartbeat", base({ raft: { electionTicks: 3, heartbeatTicks: 3 } }), "raft.electionTicks", /^must be greater than raft\.heartbeatTicks \(got 3 <= 3\)$/],
    ["heartbeat of zero", base({ raft: { heartbeatTicks: 0 } }), "raft.heartbeatTicks", /^must be an integer from 1/],
    ["raft not an object", base({ raft: 5 }), "raft", /^must be an object \(got number\)$/],
    ["tiny segments", base({ storage: { segmentBytes: 1000 } }), "storage.segmentBytes", /^must be an integer from 1048576 to 17179869184 \(got 1000\)$/],
    ["retention below a segment", base({ storage: { segmentBytes: 4194304, retentionMaxBytes: 2097152 } }), "storage.retentionMaxBytes", /^must be at least storage\.segmentBytes \(got 2097152 < 4194304\)$/],
    ["retention age below a second", base({ storage: { retentionMaxAgeMs: 10 } }), "storage.retentionMaxAgeMs", /^must be an integer from 1000/],
    ["testWriteApi a string", base({ testWriteApi: "yes" }), "testWriteApi", /^must be true or false \(got string\)$/],
    ["unknown log level", base({ logLevel: "verbose" }), "logLevel", /^must be one of fatal, error, warn, info, debug, trace, silent$/],
    ["unknown sync mode", base({ storage: { syncMode: "osync" } }), "storage.syncMode", /^must be one of dsync, fdatasync$/],
    ["unknown record check", base({ storage: { verifyServedRecords: "never" } }), "storage.verifyServedRecords", /^must be one of always, auto$/],
  ];
  for (const [what, config, path, message] of cases) {
    it(`refuses ${what}: ${path}`, () => {
      assertRefused(() => load(config), path, message);
    });
  }

  it("refuses unknown fields by name, at any depth", () => {
    const e = refusal(() => load(base({ raft: { electonTicks: 5 }, dataDirectory: "/x", initialCluster: [{ ...MEMBERS[0], role: "voter" }], listen: { grpc: "0.0.0.0:1" } })));
    const unknown = e.issues.filter((i) => i.message === "unknown field").map((i) => i.path).sort();
    assert.deepEqual(unknown, ["dataDirectory", "initialCluster[0].role", "listen.grpc", "raft.electonTicks"]);
    assert.match(e.message, /raft\.electonTicks: unknown field/);
  });

  it("lists every field-level issue at once", () => {
    const e = refusal(() => load(base({ id: 0, name: "", raft: { tickMs: -1 } })));
    assert.deepEqual(e.issues.map((i) => i.path).sort(), ["id", "name", "raft.tickMs"]);
  });

  it("names the variable or flag a bad value came from", () => {
    assertRefused(() => load(base(), { env: { KINGBUS_RAFT_TICK_MS: "fast" } }), "raft.tickMs", /^must be an integer \(got "fast"\) \(from KINGBUS_RAFT_TICK_MS\)$/);
    assertRefused(() => load(base(), { env: { KINGBUS_RAFT_TICK_MS: "0" } }), "raft.tickMs", /\(got 0\) \(from KINGBUS_RAFT_TICK_MS\)$/);
    assertRefused(() => load(base(), { argv: ["--raft-tick-ms", "0"] }), "raft.tickMs", /\(from --raft-tick-ms\)$/);
    assertRefused(() => load(base(), { env: { KINGBUS_TEST_WRITE_API: "maybe" } }), "testWriteApi", /^must be true or false \(got "maybe"\) \(from KINGBUS_TEST_WRITE_API\)$/);
    assertRefused(() => load(base(), { env: { KINGBUS_INITIAL_CLUSTER: "[{" } }), "initialCluster", /^is not valid JSON.*\(from KINGBUS_INITIAL_CLUSTER\)$/);
    assertRefused(() => load(base(), { env: { KINGBUS_INITIAL_CLUSTER: `[{"id":1}]` } }), "initialCluster[0].name", /^is required \(from KINGBUS_INITIAL_CLUSTER\)$/);
  });

  it("refuses unknown flags and stray arguments", () => {
    assertRefused(() => load(base(), { argv: ["--bogus", "1"] }), "command line", /^unknown option '--bogus'/);
    assertRefused(() => load(base(), { argv: ["extra"] }), "command line", /too many arguments/);
    assertRefused(() => load(base(), { argv: ["--admin-token", "x"] }), "command line", /^unknown option '--admin-token'/);
  });

  it("refuses a configuration file that is missing, not JSON or not an object", () => {
    const missing = join(dir, "does-not-exist.json");
    assertRefused(() => loadNodeConfig({ file: missing, argv: [], env: {} }), missing, /^cannot read the configuration file \(ENOENT\)$/);
    const broken = writeFile(`{"id": 1,\n "name": }`);
    assertRefused(() => loadNodeConfig({ file: broken, argv: [], env: {} }), broken, /^configuration file is not valid JSON \(line 2 column 10\)$/);
    const array = writeFile("[]");
    assertRefused(() => loadNodeConfig({ file: array, argv: [], env: {} }), array, /^configuration file must hold a JSON object$/);
  });

  it("checks that the TLS files can be read", () => {
    const ca = writeFile("ca");
    const cert = writeFile("cert");
    const tls = (key: string) =>
      base({ peerTls: { ca, cert, key }, initialCluster: MEMBERS.map((m) => ({ ...m, peerUrl: m.peerUrl.replace("http:", "https:") })) });
    const missing = join(dir, "no-key.pem");
    assertRefused(() => load(tls(missing)), "peerTls.key", new RegExp(`^cannot read ${missing} \\(ENOENT\\)$`));
    const key = writeFile("key");
    const c = load(tls(key));
    assert.deepEqual(c.peerTls, { ca, cert, key });
    assert.equal(c.advertise.peerUrl, "https://kb-0.kb:9696");
  });
});

describe("loadNodeConfig: the admin token", () => {
  const TOKEN = "Tok3n-Value-5b9e0d";

  it("comes from the file, the environment or a token file, as a Secret", () => {
    assert.equal(load(base({ adminToken: TOKEN })).adminToken?.reveal(), TOKEN);
    assert.equal(load(base(), { env: { KINGBUS_ADMIN_TOKEN: TOKEN } }).adminToken?.reveal(), TOKEN);
    // A mounted Secret usually ends with a newline; it is not part of the token.
    const tokenFile = writeFile(`${TOKEN}\n`);
    assert.equal(load(base({ adminTokenFile: tokenFile })).adminToken?.reveal(), TOKEN);
    assert.equal(load(base(), { argv: ["--admin-token-file", tokenFile] }).adminToken?.reveal(), TOKEN);
    assert.equal(load(base(), { env: { KINGBUS_ADMIN_TOKEN_FILE: tokenFile } }).adminToken?.reveal(), TOKEN);
  });

  it("never shows as text: JSON, inspect, String", () => {
    const c = load(base({ adminToken: TOKEN }));
    for (const text of [JSON.stringify(c), inspect(c, { depth: 10 }), String(c.adminToken), `${c.adminToken as Secret}`]) {
      assert.ok(!text.includes(TOKEN), text);
      assert.ok(text.includes("******"), text);
    }
    assert.ok(c.adminToken instanceof Secret);
  });

  it("refuses an unreadable, empty or malformed token file", () => {
    const missing = join(dir, "no-token");
    assertRefused(() => load(base({ adminTokenFile: missing })), "adminTokenFile", new RegExp(`^cannot read ${missing} \\(ENOENT\\)$`));
    const empty = writeFile("\n");
    assertRefused(() => load(base({ adminTokenFile: empty })), "adminTokenFile", /is empty$/);
    if (process.getuid?.() !== 0) {
      const locked = writeFile(TOKEN);
      chmodSync(locked, 0o000);
      assertRefused(() => load(base({ adminTokenFile: locked })), "adminTokenFile", /\(EACCES\)$/);
    }
  });

  it("never puts a secret in an error message, whatever is wrong", () => {
    const secret = "Very Secret Token-8c1a";
    const attempts: (() => unknown)[] = [
      // Malformed tokens, from each source.
      () => load(base({ adminToken: secret })),
      () => load(base(), { env: { KINGBUS_ADMIN_TOKEN: secret } }),
      () => load(base({ adminTokenFile: writeFile(`${secret}\n`) })),
      // A valid token beside another mistake, with the token quoted by nothing but the input.
      () => load(base({ adminToken: secret.replace(/ /g, "-"), raft: { tickMs: 0 } })),
      () => load(base({ adminToken: secret.replace(/ /g, "-"), adminTokenFile: "/x" })),
      // The parser's own message would quote the file around the error.
      () => loadNodeConfig({ file: writeFile(`{"adminToken": "${secret}" "id": 1}`), argv: [], env: {} }),
      () => loadNodeConfig({ file: writeFile(`{"adminToken": ${secret}}`), argv: [], env: {} }),
      // A token of the wrong type.
      () => load(base({ adminToken: 123456789 })),
    ];
    for (const attempt of attempts) {
      const e = refusal(attempt);
      for (const part of [secret, secret.replace(/ /g, "-"), "Very Secret", "Token-8c1a", "123456789"]) {
        assert.ok(!e.message.includes(part), e.message);
        assert.ok(!inspect(e).includes(part), inspect(e));
      }
    }
  });
});

describe("loadNodeConfigForCommand", () => {
  it("gives the kingbus node line and exit status 2 for a refused configuration", () => {
    const outcome = loadNodeConfigForCommand({ file: writeConfig(base({ raft: { electionTicks: 2, heartbeatTicks: 5 } })), argv: [], env: {} });
    assert.deepEqual(outcome, { ok: false, exitCode: 2, message: "kingbus node: invalid configuration: raft.electionTicks: must be greater than raft.heartbeatTicks (got 2 <= 5)" });
  });
  it("gives the configuration when it is valid", () => {
    const outcome = loadNodeConfigForCommand({ file: writeConfig(base()), argv: [], env: {} });
    assert.ok(outcome.ok);
    assert.equal(outcome.config.name, "kb-0");
  });
});

describe("registerNodeOptions", () => {
  it("adds a flag for every field but the secret one, and --config", () => {
    const command = registerNodeOptions(new Command("node"));
    const flags = command.options.map((o) => o.long);
    for (const field of NODE_FIELDS) {
      if (field.secret) assert.ok(!flags.includes(flagName(field.path)), `${field.path} must have no flag`);
      else assert.ok(flags.includes(flagName(field.path)), `${flagName(field.path)} is missing`);
    }
    assert.ok(flags.includes("--config"));
    assert.ok(flags.includes("--no-test-write-api"));
    assert.match(command.helpInformation(), /KINGBUS_RAFT_ELECTION_TICKS/);
  });

  it("derives names from the path", () => {
    assert.equal(envVarName("raft.electionTicks"), "KINGBUS_RAFT_ELECTION_TICKS");
    assert.equal(flagName("raft.electionTicks"), "--raft-election-ticks");
    assert.equal(envVarName("peerTls.ca"), "KINGBUS_PEER_TLS_CA");
    assert.equal(flagName("advertise.peerUrl"), "--advertise-peer-url");
  });
});

describe("docs/configuration.md", () => {
  it("documents every field with its variable and flag", () => {
    const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    for (const field of NODE_FIELDS) {
      assert.ok(doc.includes(`\`${field.path}\``), `${field.path} is missing`);
      assert.ok(doc.includes(`\`${envVarName(field.path)}\``), `${envVarName(field.path)} is missing`);
      if (!field.secret) assert.ok(doc.includes(`\`${flagName(field.path)}\``), `${flagName(field.path)} is missing`);
    }
  });
});
