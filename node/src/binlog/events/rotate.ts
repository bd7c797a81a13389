/** ROTATE_EVENT (4): u64 position in the next file, then the next file's name (no NUL). */
import { ByteReader, ByteWriter } from "../bytes.ts";

export interface RotateBody {
  kind: "rotate";
  position: bigint;
  nextFile: string;
}

export function decodeRotate(body: Buffer): RotateBody {
  const r = new ByteReader(body);
  const position = r.u64("rotate position");
  return { kind: "rotate", position, nextFile: r.rest().toString("utf8") };
}

export function encodeRotate(b: RotateBody): Buffer {
  return new ByteWriter().u64(b.position).bytes(Buffer.from(b.nextFile, "utf8")).toBuffer();
}
