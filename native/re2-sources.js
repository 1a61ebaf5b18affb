// Prints, for binding.gyp, the RE2 and Abseil sources that the installed `re2` npm package
// compiles (its own binding.gyp lists them; we build the same list from its vendor/ folder into
// a static library, so nothing third-party is copied into this repository).
//   node native/re2-sources.js sources   -> the .cc files, relative to the repository root
//   node native/re2-sources.js includes  -> the include directories
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const pkg = path.dirname(require.resolve('re2/package.json', { paths: [root] }));
const rel = (p) => path.relative(root, path.join(pkg, p)).split(path.sep).join('/');

const what = process.argv[2];
if (what === 'includes') {
  console.log([rel('vendor/re2'), rel('vendor/abseil-cpp')].join('\n'));
} else if (what === 'sources') {
  const gyp = fs.readFileSync(path.join(pkg, 'binding.gyp'), 'utf8');
  // the target's first "sources" list: the portable ones (the Windows-only files sit in its
  // "conditions")
  const list = /"sources"\s*:\s*\[([^\]]*)\]/.exec(gyp);
  if (!list) throw new Error(`re2-sources: no "sources" list in ${pkg}/binding.gyp`);
  const sources = [...list[1].matchAll(/"(vendor\/[^"]+\.cc)"/g)].map((m) => m[1]);
  if (sources.length < 20) throw new Error(`re2-sources: only ${sources.length} vendor sources in ${pkg}/binding.gyp`);
  for (const s of sources) if (!fs.existsSync(path.join(pkg, s))) throw new Error(`re2-sources: missing ${pkg}/${s}`);
  console.log(sources.map(rel).join('\n'));
} else {
  console.error('usage: node native/re2-sources.js sources|includes');
  process.exit(2);
}
