/**
 * What is wrong with JSON text, without quoting it. V8's own messages quote the text around the
 * error ("Unexpected token 's', "{"token": s3cr..." is not valid JSON"), which would copy secrets
 * into error messages and logs, so only the position survives.
 */

function where(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line} column ${column}`;
}

/** Whether parsing `text` fails on something inside it (not merely at its end). */
function failsInside(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch (e) {
    const message = e instanceof Error ? e.message : "";
    if (/Unexpected end of JSON input/.test(message)) return false;
    const position = /at position (\d+)/.exec(message);
    return position === null || Number(position[1]) < text.length;
  }
}

/**
 * The offset of the first character that makes the text invalid: the shortest prefix that fails
 * inside itself ends there. Only called on text that failed to parse.
 */
function firstBadOffset(text: string): number | undefined {
  if (!failsInside(text)) return undefined;
  let lo = 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (failsInside(text.slice(0, mid))) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/** `not valid JSON (line L column C)`, or a reason without a position; never the text itself. */
export function describeJsonSyntaxError(e: unknown, text?: string): string {
  const message = e instanceof Error ? e.message : "";
  const position = /at position (\d+)/.exec(message);
  if (position && text !== undefined) return `not valid JSON (${where(text, Number(position[1]))})`;
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
  if (lineColumn) return `not valid JSON (line ${lineColumn[1]} column ${lineColumn[2]})`;
  if (/Unexpected end of JSON input/.test(message)) return "not valid JSON (it ends too early)";
  const offset = text === undefined ? undefined : firstBadOffset(text);
  return offset === undefined ? "not valid JSON" : `not valid JSON (${where(text!, offset)})`;
}
