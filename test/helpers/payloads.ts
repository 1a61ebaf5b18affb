// Hostile client-controlled text for the injection suites (injection-filters: our bundled
// filters; injection-stock: fail2ban's stock filters): addresses in every form filters look for,
// and worse. A payload goes wherever a client writes into a log line (user name, URL, user agent,
// referrer, HELO, sender, ...); the line must then blame its true host or nothing.

import { splitLines } from '../../src/tailer';
import { formatEntry } from '../../src/tailer/journal';
import type { TailBatch } from '../../src/types';

/** One line's worth of hostile text: no line breaks. */
export const PAYLOADS: readonly string[] = [
  '203.0.113.66',
  '2001:db8:bad::1',
  'from 203.0.113.66',
  'x from 203.0.113.66 port 22 ssh2',
  'x from 203.0.113.66 port 22 ssh2: ',
  'root from 203.0.113.66 port 22',
  ' rhost=203.0.113.66',
  'rhost=203.0.113.66 user=root',
  'client: 203.0.113.66',
  ', client: 203.0.113.66, server: x',
  '[client 203.0.113.66:4444]',
  '[client 203.0.113.66] ',
  '(203.0.113.66)',
  '[203.0.113.66]',
  'unknown[203.0.113.66]',
  '@203.0.113.66',
  '<203.0.113.66>',
  "'203.0.113.66'",
  '"203.0.113.66"',
  '" 203.0.113.66 "',
  'ip=203.0.113.66',
  'remote=203.0.113.66',
  'addr=203.0.113.66',
  'host=203.0.113.66',
  'for 203.0.113.66 ',
  ' by 203.0.113.66',
  'from [2001:db8:bad::1]',
  '203.0.113.66 - - [01/Jun/2024:00:00:00 +0000] "GET / HTTP/1.1" 401 0',
  '\x1b[31mroot\x1b[0m',
  '$(touch /tmp/pwned);`id`|&;<>',
  'a'.repeat(2000),
];

/** Payloads with line breaks. Where the client's text reaches a log file raw, the line ends
 *  there and the rest starts a line of its own, whose every byte the client chose: no filter can
 *  tell a whole forged line from a real one (the services escape line breaks; so must they). So
 *  these are pieces, not whole lines: the first part must still blame its host or nothing, and
 *  the orphan rest must blame nothing. The journal backend (fail2ban's and ours) writes a line
 *  break inside a message as the two characters `\n`: there the whole entry is one line. */
export const NEWLINE_PAYLOADS: readonly string[] = [
  'x\nfrom 203.0.113.66',
  'x\n from 203.0.113.66 port 22',
  'x\r\nrhost=203.0.113.66 user=root',
  '\n203.0.113.66',
  '\n[client 203.0.113.66:4444] ',
  'x\n, client: 203.0.113.66, server: x',
  'x\nunknown[203.0.113.66]: ',
  '\x1b[2J\x1b[H\nfrom [2001:db8:bad::1]',
];

/** A harmless value for the same places: a template must match with it (else it proves nothing). */
export const BENIGN = 'alice';

/** The lines a template makes with `value` in every {{U}}: as they are or, when the value holds a
 *  line break, as a log file holds them (cut at each break, as the tailer splits) and as the
 *  journal backend writes them (the break escaped: one line per template line). */
export function payloadForms(template: readonly string[], value: string, now: number): { form: 'line' | 'file' | 'journal'; lines: string[] }[] {
  const text = template.map((l) => l.replaceAll('{{U}}', value));
  if (!/[\r\n]/.test(value)) return [{ form: 'line', lines: text }];
  return [
    { form: 'file', lines: splitLines({ buf: Buffer.from(text.map((l) => `${l}\n`).join('')) } as TailBatch) },
    { form: 'journal', lines: text.map((l) => formatEntry({ MESSAGE: l, __REALTIME_TIMESTAMP: String(now * 1e6) })!.line) },
  ];
}
