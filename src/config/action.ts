// action.d/NAME as a jail's `action = NAME[k=v]` uses it: read with the jail's options and
// combined the way fail2ban's client hands it to the server.

import * as path from 'node:path';
import { F2bError } from '../errors';
import { mapBanaction } from '../firewall';
import { ACTION_KEYS, Definition } from './definition';
import type { Vars } from './interpolate';
import type { ReadContext } from './layers';
import type { Spec } from './spec';
import type { ActionDef } from './types';

/** Tags an action keeps for the moment of the ban (fail2ban's escaped tags, timeout, bantime). */
const LATE_TAGS = ['matches', 'ipmatches', 'ipjailmatches', 'timeout', 'bantime'];

export interface ResolvedAction {
  def: ActionDef;
  /** every option after tag substitution (for values such as the resolved `chain`) */
  combined?: Map<string, string>;
}

/** `name` defaults to the jail's; `actname` tells instances of one action apart. */
function actname(action: string, name: string, jail: string): string {
  if (name === jail) return action;
  return action + (name.startsWith(jail) ? name.slice(jail.length) : `-${name}`);
}

/** Resolves one item of a jail's action list. Throws F2bError(CONFIG_MISSING) when the
 *  action.d file does not exist, unless f2b-fast implements the action itself (nftables-*,
 *  iptables-*), which then resolves from its options alone. */
export function readAction(ctx: ReadContext, jail: string, spec: Spec, vars: Vars): ResolvedAction {
  const { name, options } = spec;
  if (name.endsWith('.py')) {
    // a Python action gets its options as keyword arguments; actname is taken out of them
    const { actname: given, ...rest } = options;
    return { def: { name, options: rest, actname: given ?? name.slice(0, -3), file: path.join(ctx.basedir, 'action.d', name) } };
  }
  const base = path.join(ctx.basedir, 'action.d', name);
  const store = ctx.set(base);
  if (!store) {
    // f2b-fast's own firewall actions need no action.d file (the bundled tree ships none)
    if (mapBanaction(name)) return { def: { name, options, actname: actname(name, options.name ?? jail, jail), file: '' } };
    throw new F2bError('CONFIG_MISSING', `action '${name}' not found (no action.d/${name}.conf or .local)`);
  }
  store.assertClean();
  const init: Record<string, string> = { ...options };
  init.name ??= jail;
  init.actname ??= actname(name, init.name, jail);
  const action = new Definition(store, ctx.files(base)[0], ACTION_KEYS, init);
  action.read(vars, false);
  const combined = action.combined(LATE_TAGS);
  const properties: Record<string, string> = {};
  for (const key of ACTION_KEYS) {
    const v = combined.get(key);
    if (v !== undefined) properties[key] = v;
  }
  for (const [k, v] of action.initOpts) {
    if (!k.startsWith('known/') && !(ACTION_KEYS as readonly string[]).includes(k)) properties[k] = v;
  }
  return { def: { name, options, actname: init.actname, file: action.file, properties }, combined };
}
