/**
 * The process the crash test kills: appends batches (and now and then truncates a suffix) to a
 * store as fast as it can, announcing each operation on stdout before it starts ("begin ...") and
 * after it is durable ("ack"). stdout is a pipe, written synchronously, so every announced line
 * reaches the parent even when SIGKILL comes right after.
 *
 *   node storage-crash-writer.ts DIR SEED SEGMENT_BYTES TERM
 */
import { writeSync } from "node:fs";
import { LogStore } from "../src/storage/log-store.ts";
import { entries } from "./storage.ts";

const [dir, seedText, segmentText, termText] = process.argv.slice(2);
let seed = Number(seedText);
const random = (): number => {
  // mulberry32: a seeded generator, so a failing run can be replayed.
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};

const store = await LogStore.open(dir!, { segmentBytes: Number(segmentText) });
const term = Number(termText);
say(`open ${store.firstIndex()} ${store.lastIndex()}`);
for (;;) {
  const last = store.lastIndex();
  if (last > 5 && random() < 0.1) {
    const from = last - Math.floor(random() * 5);
    say(`begin trunc ${from}`);
    await store.truncateSuffix(from);
  } else {
    const count = 1 + Math.floor(random() * 48);
    const size = 16 + Math.floor(random() * 1500);
    say(`begin append ${last + 1} ${count} ${term} ${size}`);
    await store.append(entries(last + 1, count, term, size));
  }
  say("ack");
}
