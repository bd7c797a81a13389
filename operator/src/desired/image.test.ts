/**
 * The image (Dockerfile, .dockerignore) without building it: everything `bin/kingbus` runs is
 * copied into the image and left in the build context, every package it imports is a runtime
 * dependency (the image installs no dev dependencies), and the image runs as non-root with
 * bin/kingbus as its entry point. The pods' start-up script runs `kingbus` from the PATH.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { REPO_ROOT } from "../api/generated-files.ts";

const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
const dockerignore = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8");

/** Instructions of the Dockerfile's last stage, continuation lines joined. */
function finalStage(): string[] {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const from = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0);
  return lines.slice(from.at(-1));
}

/** Sources of the last stage's COPY instructions from the build context. */
function copiedSources(): string[] {
  return finalStage()
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
    .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((w) => !w.startsWith("--")))
    .map((s) => s.replace(/^\.\//, "").replace(/\/$/, ""));
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether .dockerignore keeps the path out of the build context (the last matching line decides; a line matches a path or any parent). */
function ignored(path: string): boolean {
  let out = false;
  const parts = path.split("/");
  for (const raw of dockerignore.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    const re = globToRegExp((negate ? line.slice(1) : line).replace(/\/$/, ""));
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join("/")))) out = !negate;
  }
  return out;
}

function inImage(path: string): boolean {
  return !ignored(path) && copiedSources().some((src) => path === src || path.startsWith(`${src}/`));
}

/** Every file reachable by static imports from the entry, and the bare package names imported. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(REPO_ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(REPO_ROOT, file);
    if (files.has(rel)) continue;
    files.add(rel);
    for (const imported of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      const spec = imported.fileName;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        assert.ok(existsSync(target), `${rel} imports ${spec}, which does not exist`);
        queue.push(target);
      } else if (!spec.startsWith("node:") && !builtinModules.includes(spec)) {
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
      }
    }
  }
  return { files, packages };
}

describe("the image", () => {
  it("copies everything bin/kingbus runs, and the build context keeps it", () => {
    const { files } = importGraph("node/src/cli/main.ts");
    assert.ok(files.size > 20, `only ${files.size} files reached: the scan is broken`);
    const runtime = [...files, "bin/kingbus", "scripts/project-node.sh", "node/proto/kingbus.proto", "package.json", "package-lock.json"];
    assert.deepEqual(runtime.filter((f) => !inImage(f)), [], "files the image would lack");
    for (const src of copiedSources()) assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}: no such file`);
  });

  it("tests and test data stay out of the image (the checks above can fail)", () => {
    assert.equal(inImage("node/src/cli/main.ts"), true);
    assert.equal(inImage("node/src/cli/node.test.ts"), false);
    assert.equal(inImage("operator/src/desired/testdata/full.yaml"), false);
    assert.equal(inImage("operator/src/desired/testing/manifest-checks.ts"), false);
    assert.equal(inImage("node/test-support/mariadb.ts"), false);
    assert.equal(inImage("README.md"), false);
  });

  it("imports only runtime dependencies (the image installs no dev dependencies)", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const { packages } = importGraph("node/src/cli/main.ts");
    assert.deepEqual([...packages].filter((p) => !(p in pkg.dependencies)), []);
    assert.ok(/npm ci\b[^\n]*--omit=dev/.test(dockerfile));
  });

  it("the operator's desired-state code imports only runtime dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const { files, packages } = importGraph("operator/src/desired/index.ts");
    for (const entry of ["operator/src/api/index.ts"]) for (const p of importGraph(entry).packages) packages.add(p);
    assert.deepEqual([...packages].filter((p) => !(p in pkg.dependencies)), []);
    assert.deepEqual([...files].filter((f) => !inImage(f)), []);
  });

  it("runs as non-root with bin/kingbus as its entry point, on Node 24", () => {
    const stage = finalStage();
    assert.match(stage[0]!, /^FROM\s+\$\{NODE_IMAGE\}/);
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24[-.\w]*$/m);
    const user = stage.filter((l) => /^USER\s/i.test(l)).at(-1);
    assert.ok(user !== undefined, "no USER");
    assert.doesNotMatch(user, /^USER\s+(0|root)(:|$)/i);
    assert.match(user, /^USER\s+1000:1000$/, "the uid the operator's manifests run the pods as");
    assert.ok(stage.includes('ENTRYPOINT ["/app/bin/kingbus"]'));
    assert.ok(stage.some((l) => /ln -s \/app\/bin\/kingbus \/usr\/local\/bin\/kingbus/.test(l)), "the start-up script runs kingbus from the PATH");
  });
});
