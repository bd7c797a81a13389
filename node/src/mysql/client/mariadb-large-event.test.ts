/**
 * Events of 16 MiB and more from a real MariaDB 10.11 primary: the primary splits the packet
 * (payloads of 0xFFFFFF bytes continue in the next packet; a payload of exactly 0xFFFFFF is followed
 * by an empty one). mysql2's packet parser joins the pieces (lib/packet_parser.js keeps
 * `largePacketParts` until a packet shorter than 0xFFFFFF) and the stream must yield each event
 * whole, byte-identical to the primary's file, with a valid CRC, and go on normally afterwards.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { verifyEventChecksum } from "../../binlog/checksum.ts";
import { EventType } from "../../binlog/event-type.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { readEventHeader } from "../../binlog/header.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../../test-support/mariadb.ts";
import { MAX_PACKET_PAYLOAD } from "./packets.ts";
import { binaryLogs, binlogEvents, Collector, connectTo } from "./test-helpers.ts";

const skip = mariadbSkip();
after(() => stopAllMariadb());

test("row events of exactly 0xFFFFFF payload bytes and of 20 MiB arrive whole and byte-identical", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 41, name: "client-large", extraArgs: ["--max-allowed-packet=1G"] });
  await server.query("CREATE DATABASE big");
  await server.query("CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB");
  // The value is built on the server from a random 4 KiB pattern, so the client sends no 20 MiB
  // statement; the row event still carries every byte.
  const pattern = randomBytes(4096).toString("hex");
  const insert = (id: number, size: number) => server.query(`INSERT INTO big.t VALUES (${id}, LEFT(REPEAT('${pattern}', ${Math.ceil(size / pattern.length)}), ${size}))`);

  // Calibrate: the row event's size is the value's size plus a fixed overhead.
  await insert(1, 1000);
  const calibrate = binlogEvents(server, (await binaryLogs(server)).map((l) => l.name)).filter((e) => e.bytes[4] === EventType.WRITE_ROWS_V1);
  const overhead = calibrate.at(-1)!.bytes.length - 1000;
  // Packet payload = 0x00 + event: an event of 0xFFFFFE bytes fills one packet exactly.
  const exactSize = MAX_PACKET_PAYLOAD - 1 - overhead;
  const twentyMiB = 20 * 1024 * 1024;
  await insert(2, exactSize);
  await insert(3, twentyMiB);
  await insert(4, 10);

  const logs = await binaryLogs(server);
  const files = binlogEvents(server, logs.map((l) => l.name));
  const large = files.filter((e) => e.bytes.length >= 16 * 1024 * 1024 - 64);
  assert.deepEqual(large.map((e) => e.bytes.length), [MAX_PACKET_PAYLOAD - 1, twentyMiB + overhead]);

  const conn = await connectTo(server, { serverId: 4101 });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  const last = logs.at(-1)!;
  await collector.until((e) => e.file === last.name && e.position === last.size && !e.artificial, 30_000, "the end of the binlog");
  await stream.close();

  const sent = collector.events.filter((e) => !e.artificial);
  assert.equal(sent.length, files.length);
  files.forEach((f, i) => {
    const wire = sent[i]!.bytes;
    // The FDE of the file being written differs in its IN_USE flag only.
    if (f.bytes[4] === EventType.FORMAT_DESCRIPTION) assert.ok(wire.subarray(19).equals(f.bytes.subarray(19)));
    else assert.ok(wire.equals(f.bytes), `event ${i} at ${f.offset} (${f.bytes.length} bytes) byte-identical`);
  });
  const sentLarge = sent.filter((e) => e.bytes.length >= 16 * 1024 * 1024 - 64);
  assert.equal(sentLarge.length, 2);
  for (const e of sentLarge) {
    assert.ok(verifyEventChecksum(e.bytes), "CRC32 of the joined event");
    assert.equal(readEventHeader(e.bytes).eventSize, e.bytes.length);
  }
  // The small insert after them arrived too: the stream stayed in step.
  const writes = sent.filter((e) => e.bytes[4] === EventType.WRITE_ROWS_V1);
  assert.equal(writes.length, 4);
  assert.equal(writes.at(-1)!.bytes.length, 10 + overhead);
});
