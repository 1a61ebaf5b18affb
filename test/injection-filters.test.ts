// Log injection against every bundled filter: each sample file holds injection templates
// ("# injectJSON: {"host": ...}" before a line whose client-controlled part — a user name, a URL,
// a user agent, an SMTP HELO, ... — is {{U}}). Every hostile payload (helpers/payloads.ts) goes into {{U}}; the
// line must then blame the template's host or nothing, never an address the client wrote. A
// benign value must match, so that a template cannot pass by never matching. A template may name
// characters the service never lets into that field ("without"); payloads holding them are not
// tried there.
// Payloads with line breaks (NEWLINE_PAYLOADS) are pieces, not whole forged lines (a client that
// can put a raw line break in a log writes a whole line of its choosing, which no filter can tell
// from a real one; the services here escape them): each is tried as a log file holds it (the
// line cut there) and as the journal backend writes it (the break escaped).
// injection-stock.test.ts does the same for fail2ban's stock filters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFilter } from '../src/config';
import { FilterScanner, filterSpecOf } from '../src/filter/filter';
import { eventFailures, readInjections } from './helpers/samples';
import { BENIGN, NEWLINE_PAYLOADS, PAYLOADS, payloadForms } from './helpers/payloads';

const ROOT = path.resolve(__dirname, '../..');
const FILTER_DIR = path.join(ROOT, 'filters/filter.d');
const SAMPLES = path.join(ROOT, 'filters/samples');
const NOW = Date.parse('2024-06-01T00:00:00Z') / 1000;


const payloads = [...PAYLOADS, ...NEWLINE_PAYLOADS];
const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.log'));

for (const file of files) {
  const name = file.replace(/\.log$/, '');
  test(`injection: ${name} never blames an address the client wrote`, (t) => {
    const templates = readInjections(path.join(SAMPLES, file));
    assert.ok(templates.length >= 1, `${file} has no injectJSON template`);
    const problems: string[] = [];
    let tried = 0;
    let skipped = 0;
    for (const tpl of templates) {
      const opts = Object.entries(tpl.options).map(([k, v]) => `${k}=${v}`);
      const def = readFilter(FILTER_DIR, opts.length ? `${name}[${opts.join(', ')}]` : name);
      const scanner = new FilterScanner(filterSpecOf(def, { key: def.name, usedns: 'raw', logtimezone: 'UTC' }));
      const benign = eventFailures(scanner, [tpl.template.replaceAll('{{U}}', BENIGN)], NOW).map((f) => f.id);
      if (benign.length !== 1 || benign[0] !== tpl.host) problems.push(`${file}:${tpl.lineNo}: the benign value gives [${benign.join(', ')}], not ${tpl.host}`);
      for (const p of payloads) {
        if (tpl.without && [...tpl.without].some((c) => p.includes(c))) {
          skipped++;
          continue;
        }
        tried++;
        for (const { form, lines } of payloadForms([tpl.template], p, NOW)) {
          const wrong = eventFailures(scanner, lines, NOW).map((f) => f.id).filter((id) => id !== tpl.host);
          if (wrong.length) problems.push(`${file}:${tpl.lineNo} (${form}): payload ${JSON.stringify(p.slice(0, 60))} blames ${wrong.join(', ')}`);
        }
      }
    }
    t.diagnostic(`${name}: ${templates.length} templates × ${payloads.length} payloads: ${tried} tried, ${skipped} not allowed in their spot`);
    assert.deepEqual(problems, []);
    assert.equal(tried + skipped, templates.length * payloads.length);
    assert.ok(tried >= skipped, `${file}: ${skipped} payloads left out, ${tried} tried`);
  });
}
