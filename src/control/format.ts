// The human output of `f2b-fast client`: what fail2ban-client prints for each command's result
// (fail2ban's client/beautifier.py, then Python's print). Results fail2ban's client does not
// reshape are printed as Python prints them (str() of the value: 600, True, None,
// ['192.0.2.1'], [{'sshd': []}]), so scripts written against fail2ban-client keep working.

import type { FleetStatus } from '../fleet/link';
import { formatLogTime } from '../log/logger';

/** Python's repr() of a JSON value. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyStrRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** Python's str(): a string as it is, anything else as repr(). */
export function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n);
}

// Python quotes with ' unless the text holds ' and no ", and escapes what is not printable.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0)!;
      if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

const LEVEL_NAMES: Record<number, string> = { 50: 'CRITICAL', 40: 'ERROR', 30: 'WARNING', 25: 'NOTICE', 20: 'INFO', 18: 'MSG', 10: 'DEBUG', 7: 'TRACEDEBUG', 5: 'HEAVYDEBUG', 0: 'NOTSET' };

const str = (v: unknown) => pyStr(v);
const joinValue = (v: unknown) => (Array.isArray(v) ? v.map(str).join(' ') : str(v));

/** `|- a\n|- b\n`- c`: the list fail2ban prints under a heading. */
function tree(items: unknown[]): string {
  return items.map((x, i) => `${i === items.length - 1 ? '`-' : '|-'} ${str(x)}`).join('\n');
}

function statusTree(cmd: string[], result: unknown): string {
  const rows = result as [string, unknown][];
  if (cmd.length > 1) {
    const msg = [`Status for the jail: ${cmd[1]}`];
    rows.forEach(([name, sub], n) => {
      const last = n === rows.length - 1;
      msg.push(`${last ? '`-' : '|-'} ${name}`);
      const indent = last ? '   ' : '|  ';
      const items = sub as [string, unknown][];
      items.forEach(([k, v], m) => msg.push(`${indent}${m === items.length - 1 ? '`-' : '|-'} ${k}:\t${joinValue(v)}`));
    });
    return msg.join('\n');
  }
  const msg = ['Status'];
  rows.forEach(([k, v], n) => msg.push(`${n === rows.length - 1 ? '`-' : '|-'} ${k}:\t${joinValue(v)}`));
  return msg.join('\n');
}

/** What fail2ban-client prints for `result`, the answer to `cmd` (without the final newline). */
export function formatResult(cmd: string[], result: unknown): string {
  try {
    return beautify(cmd, result);
  } catch {
    // a result of an unexpected shape: print it as it is rather than nothing
    return pyStr(result);
  }
}

function beautify(cmd: string[], r: unknown): string {
  const [c0, c1, c2] = cmd;
  switch (c0) {
    case 'ping':
      return `Server replied: ${str(r)}`;
    case 'version':
      return str(r);
    case 'start':
      return 'Jail started';
    case 'stop':
      if (r === null) return cmd.length === 1 ? 'Shutdown successful' : 'Jail stopped';
      return str(r);
    case 'add':
      return `Added jail ${str(r)}`;
    case 'flushlogs':
      return `logs: ${str(r)}`;
    case 'echo':
      return (r as unknown[]).map(str).join(' ');
    case 'status':
      return statusTree(cmd, r);
    case 'fleet':
      return fleetText(r as FleetStatus);
  }
  if (cmd.length < 2) return str(r);
  switch (c1) {
    case 'syslogsocket':
      return `Current syslog socket is:\n\`- ${str(r)}`;
    case 'logtarget':
      return `Current logging target is:\n\`- ${str(r)}`;
    case 'loglevel':
      return `Current logging level is ${pyRepr(typeof r === 'number' ? LEVEL_NAMES[r] ?? `Level ${r}` : r)}`;
    case 'dbfile':
      return r === null ? 'Database currently disabled' : `Current database file is:\n\`- ${str(r)}`;
    case 'dbpurgeage':
      return r === null ? 'Database currently disabled' : `Current database purge age is:\n\`- ${Math.trunc(r as number)}seconds`;
  }
  if (cmd.length < 3) return str(r);
  const list = r as unknown[];
  switch (c2) {
    case 'logpath':
    case 'addlogpath':
    case 'dellogpath':
      return list.length === 0 ? 'No file is currently monitored' : `Current monitored log file(s):\n${tree(list)}`;
    case 'logencoding':
      return `Current log encoding is set to:\n${str(r)}`;
    case 'journalmatch':
    case 'addjournalmatch':
    case 'deljournalmatch':
      return list.length === 0 ? 'No journal match filter set' : `Current match filter:\n${(list as unknown[][]).map((m) => m.map(str).join(' ')).join(' + ')}`;
    case 'datepattern': {
      const p = r as [string | null, string] | null;
      if (p === null) return 'Current date pattern set to: Not set/required';
      return `Current date pattern set to: ${p[0] === null ? str(p[1]) : `${str(p[0])} (${str(p[1])})`}`;
    }
    case 'ignoreip':
    case 'addignoreip':
    case 'delignoreip':
      return list.length === 0 ? 'No IP address/network is ignored' : `These IP addresses/networks are ignored:\n${tree(list)}`;
    case 'failregex':
    case 'addfailregex':
    case 'delfailregex':
    case 'ignoreregex':
    case 'addignoreregex':
    case 'delignoreregex':
      if (list.length === 0) return 'No regular expression is defined';
      return `The following regular expression are defined:\n${list.map((x, i) => `${i === list.length - 1 ? '`-' : '|-'} [${i}]: ${str(x)}`).join('\n')}`;
    case 'actions':
      return list.length === 0 ? `No actions for jail ${c1}` : `The jail ${c1} has the following actions:\n${list.map(str).join(', ')}`;
    case 'actionproperties':
    case 'actionmethods': {
      const what = c2 === 'actionproperties' ? 'properties' : 'methods';
      if (list.length === 0) return `No ${what} for jail ${c1} action ${cmd[3]}`;
      return `The jail ${c1} action ${cmd[3]} has the following ${what}:\n${list.map(str).join(', ')}`;
    }
    case 'banip':
      if (c0 === 'get' && Array.isArray(r)) {
        const sep = cmd.length <= 3 ? ' ' : cmd[3] === '--with-time' ? '\n' : cmd[3];
        return r.map(str).join(sep);
      }
  }
  return str(r);
}

/** `fleet status` as text: the link, then one line per peer. */
function fleetText(s: FleetStatus): string {
  const when = (t: number) => formatLogTime(Math.round(t * 1000)).slice(0, 19);
  const lines = [
    `Fleet: ${s.url} as ${s.host}: ${s.connected ? 'connected' : `not connected${s.error ? ` (${s.error})` : ''}`}`,
    `|- published: ${s.published}, received: ${s.received}, queued: ${s.queued}`,
    `|- last event: ${s.lastEvent ? `${s.lastEvent.kind} ${s.lastEvent.ip} in ${s.lastEvent.jail} from ${s.lastEvent.origin} at ${when(s.lastEvent.time)}, received ${when(s.lastEvent.receivedAt)} (lag ${(s.lag ?? 0).toFixed(3)} s)` : 'none'}`,
    `\`- peers: ${s.peers.length}`,
    ...s.peers.map((p, i) => `   ${i === s.peers.length - 1 ? '`' : '|'}- ${p.host}: last seen ${when(p.lastSeen)}`),
  ];
  return lines.join('\n');
}
