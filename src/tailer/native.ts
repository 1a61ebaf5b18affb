// Loads the f2b_native addon (binding.gyp) and describes the part the tailer uses.
// Works from the sources (src/tailer) and from the compiled tree (dist/src/tailer).
// F2B_NATIVE_ADDON=/abs/path/f2b_native.node loads another build instead: native/test-sanitized.sh
// runs the tailer suite against an ASan/UBSan build that way.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TailBatch, TailEvent } from '../types';

export interface NativeTailer {
  readonly backend: 'inotify' | 'poll';
  add(path: string, start: 'head' | 'tail' | number): number;
  remove(fileId: number): void;
  close(): Promise<void>;
}

export interface NativeAddon {
  Tailer: new (
    backend: 'auto' | 'inotify' | 'poll',
    pollIntervalMs: number,
    onBatch: (batch: TailBatch) => void,
    onEvent: (event: TailEvent) => void,
  ) => NativeTailer;
  tailerLimits: { batchBytes: number; batchLines: number; maxLineBytes: number };
}

const ADDON = path.join('build', 'Release', 'f2b_native.node');
// The repository root, seen from src/tailer and from dist/src/tailer.
const CANDIDATES = [path.join(__dirname, '..', '..', ADDON), path.join(__dirname, '..', '..', '..', ADDON)];

let loaded: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  const override = process.env.F2B_NATIVE_ADDON;
  if (override !== undefined && override !== '') {
    if (!path.isAbsolute(override) || !fs.existsSync(override)) {
      throw new Error(`F2B_NATIVE_ADDON=${override}: expected the absolute path of an existing f2b_native.node`);
    }
    loaded = require(override) as NativeAddon;
    return loaded;
  }
  const file = CANDIDATES.find((candidate) => fs.existsSync(candidate));
  if (!file) {
    throw new Error(`f2b_native addon not found (looked for ${CANDIDATES.join(' and ')}); build it with: npx node-gyp rebuild`);
  }
  loaded = require(file) as NativeAddon;
  return loaded;
}
