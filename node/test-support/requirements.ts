/**
 * What a test needs from outside the repository (the ../shared folder beside the clone, a real
 * server binary). In CI (CI=true) a missing requirement fails the test; elsewhere the test is
 * skipped with a message that says what is missing and how to get it.
 */
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const inCI = process.env.CI === "true" || process.env.CI === "1";

/** A reason to skip, or undefined when the requirement is met. Throws in CI. */
export type Requirement = string | undefined;

function unmet(what: string): Requirement {
  if (inCI) throw new Error(`missing in CI: ${what}`);
  return `skipped: ${what}`;
}

/** The shared folder beside the repository (fixtures, protocol notes), or a skip reason. */
export function sharedDir(): { dir: string; skip: Requirement } {
  const dir = resolve(repoRoot, "..", "shared");
  if (existsSync(join(dir, "fixtures"))) return { dir, skip: undefined };
  return { dir, skip: unmet(`${dir} (the shared fixtures beside the clone) is not there`) };
}

/** Path of an executable found on PATH or in the usual sbin folders, or a skip reason. */
export function executable(name: string, debianPackage: string): { path: string; skip: Requirement } {
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return { path: candidate, skip: undefined };
  }
  try {
    const path = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    if (path) return { path, skip: undefined };
  } catch {
    // not on PATH either
  }
  return { path: name, skip: unmet(`${name} is not installed (apt-get install ${debianPackage}, or make debs)`) };
}
