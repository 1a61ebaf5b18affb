// Where f2b-fast finds its configuration when none is given.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLED_CONFIG } from '../config/overlay';

export { BUNDLED_CONFIG };

/** --config's help, the same for every command that reads a tree. */
export const CONFIG_HELP =
  'fail2ban configuration directory; one without jail.conf (a jail.local, jail.d/), or a single jail.local file, is laid over the bundled tree ' +
  '(default: /etc/fail2ban if it has a jail.conf, else /etc/f2b-fast if it has a jail.local or jail.d/, else the bundled filters/)';

/** f2b-fast's own directory for a host without fail2ban: its jail.local and jail.d/ are laid
 *  over the bundled tree. */
export const OWN_CONFIG = '/etc/f2b-fast';

/** /etc/fail2ban when it holds a jail.conf; else /etc/f2b-fast when it holds a jail.local or a
 *  jail.d/ (laid over the bundled tree); else the bundled tree alone. */
export function defaultConfigDir(): string {
  if (fs.existsSync('/etc/fail2ban/jail.conf')) return '/etc/fail2ban';
  if (fs.existsSync(path.join(OWN_CONFIG, 'jail.local')) || fs.existsSync(path.join(OWN_CONFIG, 'jail.d'))) return OWN_CONFIG;
  return BUNDLED_CONFIG;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
