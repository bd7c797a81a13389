/**
 * Who the members are beyond their Raft ids: name, peer URL (for the transport) and admin URL (for
 * forwarding). Bootstrapped from the configuration, extended by the context of AddLearner entries,
 * and saved beside the log so a restart (or a node that joined) knows every address at once.
 */
import { readAtomicFile, writeAtomicFile } from "../storage/atomic-file.ts";
import { KingbusError } from "../errors.ts";

export interface MemberInfo {
  id: number;
  name: string;
  peerUrl: string;
  adminUrl: string;
}

const FILE = "members";

export class MemberDirectory {
  private readonly byId = new Map<number, MemberInfo>();
  private readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async load(dir: string, initial: readonly MemberInfo[]): Promise<MemberDirectory> {
    const d = new MemberDirectory(dir);
    for (const m of initial) d.byId.set(m.id, { ...m });
    const saved = (await readAtomicFile(dir, FILE)) as MemberInfo[] | undefined;
    for (const m of saved ?? []) d.byId.set(m.id, m);
    return d;
  }

  get(id: number): MemberInfo | undefined {
    return this.byId.get(id);
  }

  byName(name: string): MemberInfo | undefined {
    return [...this.byId.values()].find((m) => m.name === name);
  }

  all(): MemberInfo[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  async set(m: MemberInfo): Promise<void> {
    this.byId.set(m.id, { ...m });
    await writeAtomicFile(this.dir, FILE, this.all());
  }

  async remove(id: number): Promise<void> {
    this.byId.delete(id);
    await writeAtomicFile(this.dir, FILE, this.all());
  }
}

/** The context of an AddLearner entry: the new member's name and addresses. */
export function encodeMemberContext(m: MemberInfo): Uint8Array {
  return Buffer.from(JSON.stringify({ name: m.name, peerUrl: m.peerUrl, adminUrl: m.adminUrl }), "utf8");
}

export function decodeMemberContext(id: number, context: Uint8Array | undefined): MemberInfo | undefined {
  if (!context || context.length === 0) return undefined;
  try {
    const v = JSON.parse(Buffer.from(context).toString("utf8")) as Partial<MemberInfo>;
    if (typeof v.name !== "string" || typeof v.peerUrl !== "string") return undefined;
    return { id, name: v.name, peerUrl: v.peerUrl, adminUrl: typeof v.adminUrl === "string" ? v.adminUrl : "" };
  } catch (cause) {
    throw new KingbusError("MEMBER_CONTEXT_CORRUPT", `membership change for node ${id} carries an unreadable context`, { cause });
  }
}

/** A stable id for a member added by name only (the original API has no ids): FNV-1a of the name. */
export function idForName(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name, "utf8")) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}
