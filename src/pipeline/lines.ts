// Lines as the tailer hands them over: one string of complete lines, each ending in '\n'.

/**
 * The lines of `text` (every line, the last one too, ends with '\n'), each without its '\n' and
 * one trailing '\r'. '\n' is never part of a multi-byte sequence, so decoding a whole buffer and
 * splitting it gives the strings that decoding it line by line would, much faster.
 */
export function splitText(text: string): string[] {
  const lines = text.split('\n');
  lines.pop(); // after the last '\n'
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  return lines;
}

/** Where each of `lines` (ascending line numbers) starts in `text` (as splitText reads it). */
export function lineOffsets(text: string, lines: number[]): number[] {
  const out: number[] = [];
  let at = 0;
  let line = 0;
  for (const want of lines) {
    while (line < want) {
      at = text.indexOf('\n', at) + 1;
      line++;
    }
    out.push(at);
  }
  return out;
}
