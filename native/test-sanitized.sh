#!/usr/bin/env bash
# Builds the addon with ASan + UBSan (binding.gyp's sanitize=1) and runs the addon's suites
# (dist/test/tailer.test.js, dist/test/scan.test.js, dist/test/match.test.js and the fuzzing of
# every native entry point, dist/test/fuzz-native.test.js: run `npx tsc -p .` first) against that
# build. Fails if a suite fails or a sanitizer reports anything.
#
# The build happens in a scratch copy of binding.gyp + native/ (node-gyp always builds into
# <module>/build, and build/Release/f2b_native.node must stay the normal build: other tests load
# it); the suite loads the sanitized one through F2B_NATIVE_ADDON (src/native.ts).
#
# Exit status: 0 clean, 1 failed, 77 (automake's "skipped") when g++ or gcc's libasan/libubsan is
# missing. F2B_SANITIZED_KEEP=1 keeps the scratch directory (its path is printed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Run from a test under `node --test`, this says "report to your parent runner", which would turn
# the inner run's TAP into a binary stream.
unset NODE_TEST_CONTEXT

skip() {
  echo "test-sanitized: skipped: $*" >&2
  exit 77
}
command -v g++ >/dev/null || skip "g++ is not installed"
command -v gcc >/dev/null || skip "gcc is not installed"
# gcc prints the bare name back when it has no such library.
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
[[ "$asan" == /* && -e "$asan" ]] || skip "gcc has no libasan.so (Debian: apt-get install libasan8)"
[[ "$ubsan" == /* && -e "$ubsan" ]] || skip "gcc has no libubsan.so (Debian: apt-get install libubsan1)"
suites=("$repo/dist/test/tailer.test.js" "$repo/dist/test/scan.test.js" "$repo/dist/test/match.test.js" "$repo/dist/test/fuzz-native.test.js")
for suite in "${suites[@]}"; do
  [[ -e "$suite" ]] || { echo "test-sanitized: $suite is missing: run npx tsc -p . first" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/f2b-sanitized.XXXXXX")"
if [[ "${F2B_SANITIZED_KEEP:-0}" == 1 ]]; then
  echo "test-sanitized: keeping $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

cp -R "$repo/binding.gyp" "$repo/native" "$work/"
# binding.gyp finds node-addon-api with require() from its own directory.
ln -s "$repo/node_modules" "$work/node_modules"

started=$SECONDS
# npx: node-gyp then sees npm's configuration (nodedir and the like) as `npm install` would.
# RE2 and Abseil are not our code: link the normal build's library rather than compile them again.
re2="$repo/build/Release/obj.target/re2_lib.a"
[[ -e "$re2" ]] || { echo "test-sanitized: $re2 is missing: run npx node-gyp rebuild first" >&2; exit 1; }
if ! npx --no-install node-gyp rebuild -C "$work" -j max -- -Dsanitize=1 -Dre2_archive="$re2" >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "test-sanitized: the sanitized build failed" >&2
  exit 1
fi
addon="$work/build/Release/f2b_native.node"
# Proof that this is the instrumented build, not a copy of the normal one. (Not `nm | grep -q`:
# grep quitting early would fail nm with SIGPIPE under pipefail.)
nm -D "$addon" >"$work/symbols"
if ! grep -q '__asan_init' "$work/symbols"; then
  echo "test-sanitized: $addon is not instrumented (no __asan_init)" >&2
  exit 1
fi
echo "test-sanitized: built in $((SECONDS - started)) s" >&2

started=$SECONDS
status=0
# node itself is not instrumented, so its allocations at exit would read as leaks: no leak check.
# halt_on_error: the first report ends the process with a failure instead of scrolling past.
F2B_NATIVE_ADDON="$addon" \
  LD_PRELOAD="$asan $ubsan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=66${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=67${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  node --test --test-concurrency=1 --test-reporter=tap "${suites[@]}" >"$work/test.log" 2>&1 || status=$?
echo "test-sanitized: ran the tailer, scan, match and native fuzz suites in $((SECONDS - started)) s" >&2

# A report can come from a test's child process whose failure the suite tolerated: look for one too.
if grep -E -q 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$work/test.log"; then
  cat "$work/test.log" >&2
  echo "test-sanitized: the sanitizers reported a problem (above)" >&2
  exit 1
fi
if [[ $status != 0 ]]; then
  cat "$work/test.log" >&2
  echo "test-sanitized: a suite failed under the sanitizers (exit status $status)" >&2
  exit 1
fi
# the totals, the tailer's backends, and each fuzz target's seed, runs and counts
grep -E '^# (tests|pass|fail|skip) |^ *# (inotify|poll): |^ *# (seed |[0-9]+ |results by)|^ *(not )?ok .*fuzz: ' "$work/test.log" >&2 || true
echo "test-sanitized: clean" >&2
