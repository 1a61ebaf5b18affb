// fail2ban.conf's [firewall] section (in fail2ban.local or fail2ban.d/*.local): how f2b-fast
// watches and sizes the kernel sets it owns. Every option has a default; the section is optional.
//
//   [firewall]
//   check = 60s            (how often the tables, chains, sets and rules are checked; 0 = never)
//   ipset_maxelem = 1048576  (most elements of one ipset; a full set is re-created twice as large)

import { F2bError } from '../errors';
import { ownSection } from './section';
import type { ConfigStore } from './store';
import { str2seconds } from './timespec';
import type { FirewallSettings } from './types';
import { asInt } from './values';

const KEYS = ['check', 'ipset_maxelem'];

/** How often the firewall is checked when [firewall] does not say (seconds). */
export const DEFAULT_FIREWALL_CHECK_S = 60;

/** The [firewall] section with its defaults (also when no file has one). */
export function readFirewall(store: ConfigStore | undefined): FirewallSettings {
  const section = ownSection(store, 'firewall', KEYS);
  const settings: FirewallSettings = { checkMs: DEFAULT_FIREWALL_CHECK_S * 1000 };
  if (!section) return settings;
  const { get, where } = section;
  const check = get('check');
  if (check !== undefined && check !== '') {
    let s: number;
    try {
      s = str2seconds(check);
    } catch (e) {
      throw new F2bError('CONFIG_VALUE', `[firewall] check: ${(e as Error).message}`, where('check'));
    }
    if (!Number.isFinite(s) || s < 0 || (s > 0 && s < 1) || s > 86_400) {
      throw new F2bError('CONFIG_VALUE', `[firewall] check must be 0 (off) or from 1s to 1d, not '${check}'`, where('check'));
    }
    settings.checkMs = Math.round(s * 1000);
  }
  const maxelem = get('ipset_maxelem');
  if (maxelem !== undefined && maxelem !== '') {
    const n = asInt(maxelem, '[firewall] ipset_maxelem', where('ipset_maxelem'));
    if (n < 1 || n > 0xffffffff) throw new F2bError('CONFIG_VALUE', `[firewall] ipset_maxelem must be from 1 to 4294967295, not ${n}`, where('ipset_maxelem'));
    settings.ipsetMaxelem = n;
  }
  return settings;
}
