import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { TransportError } from "./errors.ts";
import { PeerTransport } from "./peer-transport.ts";
import type { TlsFiles } from "./credentials.ts";
import { closeAll, heartbeat, removeTempDirs, startRecorder, tempDir, waitFor } from "./testing.ts";
import { executable } from "../../test-support/requirements.ts";

const run = promisify(execFile);
after(removeTempDirs);

// openssl makes the test certificates: in CI its absence fails the test (make debs installs it).
const skip = executable("openssl", "openssl").skip ?? false;

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
    "-days", "2", "-subj", `/CN=kingbus test ${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  return { cert, key };
}

/** A member certificate for 127.0.0.1, usable as server and as client, signed by `ca`. */
async function makeMember(dir: string, name: string, ca: { cert: string; key: string }, trust: string): Promise<TlsFiles> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n");
  await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${name}`]);
  await run("openssl", ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]);
  return { ca: trust, cert, key };
}

test("mutual TLS: members of one CA talk; a client with another CA's certificate, or none, is refused", { skip }, async () => {
  const dir = tempDir("tls");
  const ca1 = await makeCa(dir, "ca1");
  const ca2 = await makeCa(dir, "ca2");
  const [m1, m2, stranger] = await Promise.all([
    makeMember(dir, "m1", ca1, ca1.cert),
    makeMember(dir, "m2", ca1, ca1.cert),
    // Signed by CA 2 but trusting CA 1: it would accept the server, the server must refuse it.
    makeMember(dir, "stranger", ca2, ca1.cert),
  ]);
  const a = await startRecorder(1, { tls: m1 });
  const b = await startRecorder(2, { tls: m2 });
  const intruder = await startRecorder(3, { tls: stranger });
  const plain = await startRecorder(4);
  try {
    a.transport.addPeer(2, b.address);
    b.transport.addPeer(1, a.address);
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 1)]);
    await waitFor("messages over mutual TLS", () => a.count(2) === 1 && b.count(1) === 1);
    assert.deepEqual(b.received.get(1), [heartbeat(1, 2, 1)]);

    intruder.transport.addPeer(2, b.address);
    plain.transport.addPeer(2, b.address);
    intruder.transport.send([heartbeat(3, 2, 1)]);
    plain.transport.send([heartbeat(4, 2, 1)]);
    await waitFor("both refused", () => [intruder, plain].every((n) => n.reachability.some((r) => !r.reachable) && n.transport.stats().peers.get(2)!.failures >= 2));
    await sleep(100);
    assert.equal(b.count(3) + b.count(4), 0, "nothing from the refused clients was delivered");
    for (const n of [intruder, plain]) {
      assert.ok(n.reachability.every((r) => !r.reachable), "never reported reachable");
      assert.equal(n.transport.stats().peers.get(2)!.connects, 0);
    }
    assert.equal(a.transport.stats().peers.get(2)!.connects, 1, "the members' stream never broke");
  } finally {
    await closeAll([a, b, intruder, plain]);
  }
});

test("TLS files that cannot be read are a configuration error", () => {
  assert.throws(() => new PeerTransport({ id: 1, listen: "127.0.0.1:0", onMessages: () => undefined, tls: { ca: "/nonexistent/ca.pem", cert: "/nonexistent/c.pem", key: "/nonexistent/k" } }),
    (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_BAD_CONFIG" && /CA \/nonexistent\/ca.pem/.test(e.message));
});
