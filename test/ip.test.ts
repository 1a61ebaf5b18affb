import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAddress, parseSubnet, subnetContains, formatSubnet } from '../src/net/ip';
import { expandRegexTags, globalToScopedFlags } from '../src/filter/tags';

test('addresses are normalised to one canonical text', () => {
  assert.equal(normalizeAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeAddress('[2001:DB8::0:1]'), '2001:db8::1');
  assert.equal(normalizeAddress('::ffff:192.0.2.9'), '192.0.2.9');
  assert.equal(normalizeAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(normalizeAddress('fe80::'), 'fe80::');
  assert.equal(normalizeAddress('999.1.1.1'), undefined);
  assert.equal(normalizeAddress('host.example'), undefined);
});

test('subnets: CIDR, dotted masks, membership', () => {
  const n = parseSubnet('192.0.2.77/24')!;
  assert.equal(formatSubnet(n), '192.0.2.0/24');
  assert.ok(subnetContains(n, '192.0.2.200'));
  assert.ok(!subnetContains(n, '192.0.3.1'));
  assert.equal(formatSubnet(parseSubnet('10.0.0.0/255.0.0.0')!), '10.0.0.0/8');
  assert.equal(parseSubnet('10.0.0.0/255.0.255.0'), undefined);
  assert.equal(parseSubnet('10.0.0.0/33'), undefined);
  assert.ok(subnetContains(parseSubnet('2001:db8::/32')!, '2001:db8:ffff::1'));
  assert.ok(!subnetContains(parseSubnet('2001:db8::/32')!, '192.0.2.1'));
  assert.ok(subnetContains(parseSubnet('0.0.0.0/0')!, '203.0.113.1'));
});

test('regex tags expand to named groups; unknown and unopened tags stay literal', () => {
  const r = expandRegexTags('^<F-USER>\\S+</F-USER> from <HOST> <F-ID>x</F-ID> <F-PORT/> </F-NOPE> <other>');
  assert.match(r, /\(\?P<user>\\S\+\)/);
  assert.match(r, /\(\?P<ip4>/);
  assert.match(r, /\(\?P<ip6>/);
  assert.match(r, /\(\?P<dns>/);
  assert.match(r, /\(\?P<fid>x\)/);
  assert.match(r, /\(\?P<fport>\\w\+\)/);
  assert.match(r, /<\/F-NOPE> <other>$/);
  assert.doesNotMatch(expandRegexTags('<HOST>', 'no'), /\(\?P<dns>/);
  assert.equal(expandRegexTags('a<SKIPLINES>b<SKIPLINES>'), 'a\\n(?P<skiplines0>(?:(?:.*\\n)*?))b\\n(?P<skiplines1>(?:(?:.*\\n)*?))');
  assert.equal(globalToScopedFlags('x((?i)abc)y(?:(?i)d)'), 'x(?i:abc)y(?i:d)');
});
