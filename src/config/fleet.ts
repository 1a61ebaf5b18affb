// fail2ban.conf's [fleet] section (in fail2ban.local or fail2ban.d/*.local, like the server's
// other options): bans shared between hosts through Redis. Off unless `redis` (or `sentinels`)
// is set and `enabled` is not false.
//
//   [fleet]
//   redis = redis://:password@10.0.0.5:6379/0     (rediss:// for TLS)
//   tls_ca = /etc/f2b-fast/redis-ca.pem           (TLS: the server's CA; tls_cert, tls_key: a
//                                                  client certificate where Redis asks for one)
//   sentinels = 10.0.0.6:26379 10.0.0.7:26379    (instead of a host in redis: Sentinel)
//   sentinel_name = mymaster
//   prefix = f2b-fast:
//   host = web-07                                 (default: the host name)
//   publish = *                                   (jails whose bans go to the fleet)
//   apply = *                                     (jails that take the fleet's bans)
//   count = sshd                                  (jails whose failures count fleet-wide)
//   stream_length = 100000
//   queue_limit = 100000

import * as fs from 'node:fs';
import * as os from 'node:os';
import { F2bError } from '../errors';
import { ownSection } from './section';
import type { ConfigStore } from './store';
import type { FleetSettings } from './types';
import { asBool, asInt, splitWords } from './values';

const KEYS = ['enabled', 'redis', 'sentinels', 'sentinel_name', 'tls_ca', 'tls_cert', 'tls_key', 'prefix', 'host', 'publish', 'apply', 'count', 'stream_length', 'queue_limit'];

/** The [fleet] section of the fail2ban.* set, or undefined when fleet mode is off. */
export function readFleet(store: ConfigStore | undefined): FleetSettings | undefined {
  const section = ownSection(store, 'fleet', KEYS);
  if (!section) return undefined;
  const { get, where } = section;
  if (get('enabled') !== undefined && !asBool(get('enabled')!)) return undefined;
  const url = get('redis') || 'redis://127.0.0.1:6379';
  const sentinels = splitWords(get('sentinels') ?? '').map((s) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
    if (!m) throw new F2bError('CONFIG_VALUE', `[fleet] sentinels: '${s}' is not host:port`, where('sentinels'));
    return { host: m[1], port: Number(m[2]) };
  });
  if (!get('redis') && !sentinels.length) {
    throw new F2bError('CONFIG_VALUE', '[fleet] needs redis = redis://HOST:PORT (or sentinels = HOST:PORT ...), or enabled = false', where('redis'));
  }
  if (!/^rediss?:\/\//.test(url)) throw new F2bError('CONFIG_VALUE', `[fleet] redis must be a redis:// or rediss:// URL, not '${url}'`, where('redis'));
  const list = (key: string, dflt: string): string[] | '*' => {
    const words = splitWords(get(key) ?? dflt);
    return words.includes('*') ? '*' : words;
  };
  const host = get('host') || os.hostname();
  if (/\s/.test(host)) throw new F2bError('CONFIG_VALUE', `[fleet] host must be one word, not '${host}'`, where('host'));
  const int = (key: string, dflt: number) => {
    const v = get(key);
    const n = v === undefined ? dflt : asInt(v, `[fleet] ${key}`, where(key));
    if (n < 1) throw new F2bError('CONFIG_VALUE', `[fleet] ${key} must be at least 1`, where(key));
    return n;
  };
  const settings: FleetSettings = {
    url,
    prefix: get('prefix') ?? 'f2b-fast:',
    host,
    publish: list('publish', '*'),
    apply: list('apply', '*'),
    count: list('count', ''),
    streamLength: int('stream_length', 100_000),
    queueLimit: int('queue_limit', 100_000),
  };
  const tls: NonNullable<FleetSettings['tls']> = {};
  for (const [key, field] of [['tls_ca', 'ca'], ['tls_cert', 'cert'], ['tls_key', 'key']] as const) {
    const file = get(key);
    if (!file) continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch {
      throw new F2bError('CONFIG_VALUE', `[fleet] ${key}: cannot read ${file}`, where(key));
    }
    tls[field] = file;
  }
  if (!tls.cert !== !tls.key) throw new F2bError('CONFIG_VALUE', '[fleet] tls_cert and tls_key go together', where(tls.cert ? 'tls_cert' : 'tls_key'));
  if (Object.keys(tls).length) settings.tls = tls;
  if (sentinels.length) {
    settings.sentinels = sentinels;
    settings.sentinelName = get('sentinel_name') || 'mymaster';
  }
  return settings;
}
