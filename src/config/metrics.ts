// fail2ban.conf's [metrics] section (in fail2ban.local or fail2ban.d/*.local): the HTTP listener
// for Prometheus metrics, the JSON API and the dashboard (src/metrics/). Off unless `listen` is set.
//
//   [metrics]
//   listen = 127.0.0.1:9191        (a port alone means 127.0.0.1; [::1]:9191 for IPv6)
//   token = a-long-random-string   (or token_file = /etc/f2b-fast/metrics.token)

import * as fs from 'node:fs';
import { F2bError } from '../errors';
import { ownSection } from './section';
import type { ConfigStore } from './store';
import type { MetricsSettings } from './types';
import { asBool } from './values';

const KEYS = ['enabled', 'listen', 'token', 'token_file'];

/** The [metrics] section, or undefined when the listener is off. */
export function readMetrics(store: ConfigStore | undefined): MetricsSettings | undefined {
  const section = ownSection(store, 'metrics', KEYS);
  if (!section) return undefined;
  const { get, where } = section;
  if (get('enabled') !== undefined && !asBool(get('enabled')!)) return undefined;
  const listen = get('listen');
  if (!listen) throw new F2bError('CONFIG_VALUE', '[metrics] needs listen = HOST:PORT (e.g. 127.0.0.1:9191), or enabled = false', where('listen'));
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen) ?? /^()()(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new F2bError('CONFIG_VALUE', `[metrics] listen must be HOST:PORT or PORT, not '${listen}'`, where('listen'));
  const settings: MetricsSettings = { host: m[1] || m[2] || '127.0.0.1', port };
  const file = get('token_file');
  let token = get('token');
  if (file) {
    if (token) throw new F2bError('CONFIG_VALUE', '[metrics] token and token_file: set one of them', where('token_file'));
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new F2bError('CONFIG_VALUE', `[metrics] token_file: cannot read ${file}: ${(e as Error).message}`, where('token_file'));
    }
  }
  if (token !== undefined) {
    if (token.length < 16) throw new F2bError('CONFIG_VALUE', '[metrics] token must be at least 16 characters', where(file ? 'token_file' : 'token'));
    settings.token = token;
  }
  return settings;
}
