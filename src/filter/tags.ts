// fail2ban's regex tags (<HOST>, <ADDR>, <F-USER>...</F-USER>, <SKIPLINES>, ...) expanded into
// Python-syntax regex text. The result goes to PyRegExp. Config tags (<known/x>, <mode>, ...) were
// already substituted by the config reader; any tag we do not know stays as literal text, as in
// fail2ban.

/** Dotted-quad IPv4, as loose as fail2ban's (octets are not range-checked). */
const IPV4 = String.raw`\d{1,3}(?:\.\d{1,3}){3}`;
/** IPv6 in any compressed form. The last alternative `:` stands where fail2ban writes a
 *  lookbehind `(?<=:):`: every repetition before it ends with ':' already, so both mean the same,
 *  and ours stays RE2-compatible (regex-compat.md rule R1). */
const IPV6 = String.raw`(?:[0-9a-fA-F]{1,4}:{1,2}|::){1,7}(?:[0-9a-fA-F]{1,4}|:)`;

const G_IP4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IPV4})`;
const G_IP6 = `(?P<ip6>${IPV6})`;
const G_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`;
const G_CIDR = String.raw`(?P<cidr>\d+)`;
const G_ADDR = String.raw`\[?(?:${G_IP4}|${G_IP6})\]?`;
const G_SUBNET = String.raw`\[?(?:${G_IP4}|${G_IP6})(?:/${G_CIDR})?\]?`;

const STATIC_TAGS: Record<string, string> = {
  IP4: G_IP4,
  'F-IP4/': G_IP4,
  IP6: G_IP6,
  'F-IP6/': G_IP6,
  ADDR: G_ADDR,
  'F-ADDR/': G_ADDR,
  CIDR: G_CIDR,
  'F-CIDR/': G_CIDR,
  SUBNET: G_SUBNET,
  'F-SUBNET/': G_SUBNET,
  DNS: G_DNS,
  'F-DNS/': G_DNS,
  'F-ID/': String.raw`(?P<fid>\S+)`,
  'F-PORT/': String.raw`(?P<fport>\w+)`,
};

/** <F-ID> captures into `fid`, <F-PORT> into `fport`; every other F-NAME into `name`. */
export function groupNameForTag(tag: string): string {
  const lower = tag.toLowerCase();
  if (lower === 'id') return 'fid';
  if (lower === 'port') return 'fport';
  return lower;
}

const TAG_RE = /<\/?[\w-]+\/?>/g;
const CUSTOM_RE = /^(\/?)F-([A-Z0-9_-]+)$/;

/**
 * Expand fail2ban's regex tags. `usedns = no` drops the DNS alternative of <HOST>.
 * Closing tags that were never opened stay literal, like fail2ban.
 */
export function expandRegexTags(regex: string, usedns: string = 'warn'): string {
  const open = new Set<string>();
  let skiplines = 0;
  return regex.replace(TAG_RE, (tag) => {
    const name = tag.slice(1, -1);
    if (name === 'HOST') return usedns === 'no' ? G_ADDR : `(?:${G_ADDR}|${G_DNS})`;
    if (name === 'SKIPLINES') return String.raw`\n(?P<skiplines${skiplines++}>(?:(?:.*\n)*?))`;
    const fixed = STATIC_TAGS[name];
    if (fixed !== undefined) return fixed;
    const custom = CUSTOM_RE.exec(name);
    if (!custom) return tag;
    const [, closing, tagName] = custom;
    if (closing) return open.has(tagName) ? ')' : tag;
    open.add(tagName);
    return `(?P<${groupNameForTag(tagName)}>`;
  });
}

/** Groups that identify a failure, in the order fail2ban picks the id. */
export const FAILURE_ID_GROUPS = ['fid', 'ip4', 'ip6', 'dns'] as const;

/** fail2ban rewrites `((?i)X)` and `(?:(?i)X)` to the scoped `(?i:X)` before compiling. */
export function globalToScopedFlags(regex: string): string {
  return regex.replace(/(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)/g, '$1:');
}
