// What the firewall backends' tests share: a services table instead of /etc/services, and
// short ways to write a jail's spec and a ban entry.

import assert from 'node:assert/strict';
import { F2bError } from '../../src/errors';
import type { FirewallJailSpec } from '../../src/firewall/backend';
import type { ServiceTable } from '../../src/firewall/jailspec';
import type { FirewallEntry } from '../../src/types';

export const services: ServiceTable = new Map([
  ['ssh', new Map([['tcp', 22]])],
  ['http', new Map([['tcp', 80]])],
  ['https', new Map([['tcp', 443], ['udp', 443]])],
  ['ftp-data', new Map([['tcp', 20]])],
  ['domain', new Map([['tcp', 53], ['udp', 53]])],
]);

/** A jail on ssh/tcp unless `more` says otherwise. */
export const spec = (jail: string, more: Partial<FirewallJailSpec> = {}): FirewallJailSpec => ({
  jail,
  port: 'ssh',
  protocol: 'tcp',
  allports: false,
  ...more,
});

/** A ban of `ip` in `jail` for `timeout` seconds (null: permanent). */
export const entry = (ip: string, timeout: number | null = 600, jail = 'sshd'): FirewallEntry => ({ jail, ip, timeout });

/** `p` rejects with an F2bError of `code` whose message matches `re`. */
export async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof F2bError, `not an F2bError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  });
}
