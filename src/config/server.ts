// fail2ban.conf (+ fail2ban.d/, .local): the server's own options, read through [Definition]
// (Debian keeps them in [DEFAULT]). Missing options take fail2ban's defaults; a syntax error
// in these files is thrown (fail2ban will not start either).

import * as path from 'node:path';
import { F2bError } from '../errors';
import { readFirewall } from './firewall';
import { readFleet } from './fleet';
import { readMetrics } from './metrics';
import type { ReadContext } from './layers';
import { getOption } from './interpolate';
import { str2seconds } from './timespec';
import type { ServerDef } from './types';
import { asInt } from './values';

const DEFAULTS = {
  loglevel: 'INFO',
  logtarget: 'STDERR',
  syslogsocket: 'auto',
  allowipv6: 'auto',
  socket: '/var/run/fail2ban/fail2ban.sock',
  pidfile: '/var/run/fail2ban/fail2ban.pid',
  dbfile: '/var/lib/fail2ban/fail2ban.sqlite3',
  dbpurgeage: '1d',
};

function seconds(v: string, where: { file?: string; line?: number }): number {
  try {
    return str2seconds(v);
  } catch (e) {
    throw new F2bError('CONFIG_VALUE', `dbpurgeage: ${(e as Error).message}`, where);
  }
}

export function readServer(ctx: ReadContext): ServerDef {
  const store = ctx.set(path.join(ctx.basedir, 'fail2ban'));
  store?.assertClean();
  const get = (key: keyof typeof DEFAULTS | 'dbmaxmatches') =>
    store ? getOption(store, 'Definition', key) : undefined;
  const value = (key: keyof typeof DEFAULTS) => get(key) ?? DEFAULTS[key];
  const where = (key: string) => store?.entry('Definition', key) ?? {};
  const server: ServerDef = {
    loglevel: value('loglevel'),
    logtarget: value('logtarget'),
    socket: value('socket'),
    pidfile: value('pidfile'),
    dbfile: value('dbfile'),
    dbpurgeage: seconds(value('dbpurgeage'), where('dbpurgeage')),
    syslogsocket: value('syslogsocket'),
    allowipv6: value('allowipv6'),
    firewall: readFirewall(store),
  };
  const maxmatches = get('dbmaxmatches');
  if (maxmatches !== undefined) server.dbmaxmatches = asInt(maxmatches, 'dbmaxmatches', where('dbmaxmatches'));
  const fleet = readFleet(store);
  if (fleet) server.fleet = fleet;
  const metrics = readMetrics(store);
  if (metrics) server.metrics = metrics;
  return server;
}
