// Where f2b-fast finds its configuration when none is given.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The bundled config tree (filters/ at the package root). */
export const BUNDLED_CONFIG = path.resolve(__dirname, '../../../filters');

/** /etc/fail2ban when it holds a jail.conf, else the bundled tree. */
export function defaultConfigDir(): string {
  return fs.existsSync('/etc/fail2ban/jail.conf') ? '/etc/fail2ban' : BUNDLED_CONFIG;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
