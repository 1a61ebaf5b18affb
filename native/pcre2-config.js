// Tells binding.gyp whether the system's PCRE2 (8-bit, with headers: Debian's libpcre2-dev) can
// be built against, and how. The native matcher (native/match) needs it; without it the addon
// is built without the matcher and f2b-fast matches in JavaScript (slower, same results).
//   node native/pcre2-config.js available  -> 1 or 0 (and a note on stderr when 0)
//   node native/pcre2-config.js cflags|libs -> pkg-config's flags, one per line
'use strict';
const { execFileSync } = require('child_process');

function pkgConfig(args) {
  try {
    return execFileSync('pkg-config', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const what = process.argv[2];
if (what === 'available') {
  const ok = pkgConfig(['--exists', 'libpcre2-8']) !== null;
  if (!ok) {
    process.stderr.write(
      'f2b-fast: PCRE2 development files not found (pkg-config libpcre2-8): building without the native ' +
        'matcher; `apt-get install libpcre2-dev` (or your system\'s PCRE2 package) and rebuild for full speed\n',
    );
  }
  console.log(ok ? 1 : 0);
} else if (what === 'cflags' || what === 'libs') {
  const out = pkgConfig([`--${what}`, 'libpcre2-8']);
  console.log((out ?? '').split(/\s+/).filter(Boolean).join('\n'));
} else {
  console.error('usage: node native/pcre2-config.js available|cflags|libs');
  process.exit(2);
}
