/**
 * Encodes one workflow event as an SSE frame (DESIGN §5): `id`, `event` and one `data` line, LF only.
 * JSON text never contains a raw newline, so a single `data:` line is always enough.
 * @module
 */

const encoder = new TextEncoder();

/** `id: <seq>\nevent: <type>\ndata: <json>\n\n` as bytes. */
export function encodeFrame(seq: number, type: string, data: unknown): Uint8Array {
  return encoder.encode(`id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}
