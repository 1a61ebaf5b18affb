// The log tailer: the first stage of the pipeline. A native thread follows log files
// (inotify or polling; rotation, copytruncate and deletion aware) and hands complete lines to
// onBatch in batches (TailBatch), and what happened to each file to onEvent (TailEvent).
//
//   const tailer = new Tailer({ onBatch: (b) => ..., onEvent: (e) => ... });
//   (onBatch may return a promise: the batch counts against maxBytesInFlight until it settles)
//   const id = tailer.add('/var/log/auth.log', 'tail');
//   ...
//   await tailer.close();

import * as path from 'node:path';
import { configError } from '../errors';
import { splitText } from '../pipeline/lines';
import type { TailBatch, TailEvent } from '../types';
import { loadNative, type NativePrefilter, type NativeTailer, type TailFlow } from '../native';

export type { TailFlow };

export type TailBackendName = 'auto' | 'inotify' | 'poll';

/** Where add() starts reading an existing file: its start, after its last line, or a saved
 *  position (used only if the file is that long and, when firstLineHash is given, still starts
 *  with the same line: the hash an 'opened' event reported; else reading starts at 0). */
export type TailStart = 'head' | 'tail' | number | { offset: number; firstLineHash?: string };

export interface TailerOptions {
  /** 'auto' (default): inotify on Linux, polling elsewhere or if inotify is unavailable */
  backend?: TailBackendName;
  /** poll backend only: how often every file is stat()ed; default 250 */
  pollIntervalMs?: number;
  /** complete lines of one file (with a prefilter: only its candidates, with masks); called on
   *  the main thread, never once per line. A promise returned keeps the batch's bytes in flight
   *  until it settles. */
  onBatch(batch: TailBatch): unknown;
  /** the tail thread hands over no batch while this many bytes of lines (buf lengths) are in
   *  flight: handed over and their onBatch promise not settled; it stops reading meanwhile. A
   *  batch larger than this goes alone. A file with half of it in flight is not read further
   *  until some is released; the other files are. 0 = no limit. Default
   *  DEFAULT_MAX_BYTES_IN_FLIGHT. */
  maxBytesInFlight?: number;
  /** opened / rotated / truncated / missing / error */
  onEvent?(event: TailEvent): void;
}

const BACKENDS: readonly string[] = ['auto', 'inotify', 'poll'];
const DEFAULT_POLL_INTERVAL_MS = 250;
/** 4 full batches: enough to keep the matcher threads busy; more only fills the heap and feeds
 *  the garbage collector (at 8 MiB, 200,000 lines/s of live load ran about 2 s behind; at 4 MiB it
 *  keeps up: bench/README.md, "load") */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

/**
 * The native reader's caps: a batch holds at most `batchLines` lines and is handed over once it
 * reaches `batchBytes`; a line longer than `maxLineBytes` is delivered truncated to that length
 * ('\n' included) with an 'error' event, and the rest of it is skipped.
 */
export function tailLimits(): { batchBytes: number; batchLines: number; maxLineBytes: number } {
  return { ...loadNative().tailerLimits };
}

export class Tailer {
  /** the backend in use ('auto' resolved) */
  readonly backend: 'inotify' | 'poll';
  readonly #native: NativeTailer;
  readonly #onBatch: (batch: TailBatch) => unknown;
  readonly #onEvent: (event: TailEvent) => void;
  /** ids added and not removed: output for other ids (still in flight) is dropped */
  readonly #active = new Set<number>();
  #closed: Promise<void> | undefined;

  constructor(options: TailerOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('Expected options to be an object');
    const { backend = 'auto', pollIntervalMs = DEFAULT_POLL_INTERVAL_MS, onBatch, onEvent, maxBytesInFlight = DEFAULT_MAX_BYTES_IN_FLIGHT } = options;
    if (typeof backend !== 'string' || !BACKENDS.includes(backend)) {
      throw new TypeError("Expected options.backend to be 'auto', 'inotify' or 'poll'");
    }
    if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 10 || pollIntervalMs > 60000) {
      throw new TypeError('Expected options.pollIntervalMs to be an integer from 10 to 60000');
    }
    if (typeof onBatch !== 'function') throw new TypeError('Expected options.onBatch to be a function');
    if (onEvent !== undefined && typeof onEvent !== 'function') {
      throw new TypeError('Expected options.onEvent to be a function');
    }
    if (!Number.isSafeInteger(maxBytesInFlight) || maxBytesInFlight < 0) {
      throw new TypeError('Expected options.maxBytesInFlight to be a non-negative safe integer');
    }
    this.#onBatch = onBatch.bind(options);
    this.#onEvent = onEvent ? onEvent.bind(options) : () => {};
    const { Tailer: NativeTailerClass } = loadNative();
    this.#native = new NativeTailerClass(
      backend,
      pollIntervalMs,
      (batch) => this.#deliver(batch),
      (event) => {
        if (this.#closed === undefined && this.#active.has(event.fileId)) this.#onEvent(event);
      },
      maxBytesInFlight,
    );
    this.backend = this.#native.backend;
  }

  /** Hands a batch to onBatch (unless its file was removed) and releases its bytes once done. */
  #deliver(batch: TailBatch): void {
    const bytes = batch.buf.length;
    let done: unknown;
    try {
      if (this.#closed === undefined && this.#active.has(batch.fileId)) done = this.#onBatch(batch);
    } finally {
      const release = (): void => {
        if (bytes > 0) this.#native.release(batch.fileId, bytes);
      };
      if (isPromiseLike(done)) done.then(release, release);
      else release();
    }
  }

  /** The back-pressure now: bytes in flight, the limit, whether the tail thread waits. */
  flow(): TailFlow {
    return this.#native.flow();
  }

  /**
   * Follows `file` (resolved against the current directory) and returns its id. `start` applies
   * if the file exists now; a file that appears later, or replaces this one, is read from 0.
   */
  add(file: string, start: TailStart, prefilter?: NativePrefilter): number {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('Expected path to be a non-empty string');
    if (file.includes('\0')) throw new TypeError('Expected path to contain no NUL bytes');
    const offset = typeof start === 'object' && start !== null ? start.offset : start;
    if (offset !== 'head' && offset !== 'tail' && !(Number.isSafeInteger(offset) && (offset as number) >= 0)) {
      throw new TypeError("Expected start to be 'head', 'tail', a non-negative safe integer or { offset, firstLineHash }");
    }
    if (this.#closed !== undefined) throw new Error('The tailer is closed');
    const id = this.#native.add(path.resolve(file), start, prefilter);
    this.#active.add(id);
    return id;
  }

  /** Stops following a file; nothing more is delivered for it. Unknown ids are ignored. */
  remove(fileId: number): void {
    if (!Number.isInteger(fileId) || fileId < 1 || fileId > 0xffffffff) {
      throw new TypeError('Expected fileId to be a positive integer');
    }
    if (!this.#active.delete(fileId)) return;
    this.#native.remove(fileId);
  }

  /**
   * Stops the thread: nothing is delivered once close() is called, and the promise resolves when
   * the thread has exited; the process can then exit. Every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#native.close();
    return this.#closed;
  }
}

function isPromiseLike(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as PromiseLike<unknown>).then === 'function';
}

/**
 * The lines of a batch as strings: UTF-8 (invalid bytes become U+FFFD), without the '\n' and
 * without one trailing '\r'.
 */
export function splitLines(batch: TailBatch): string[] {
  return splitText(batch.buf.toString('utf8'));
}

/** backend = systemd (with or without options): the jail reads the journal (src/tailer/journal.ts). */
export function isSystemdBackend(backend: string): boolean {
  return backend.replace(/\[.*\]\s*$/s, '').trim().toLowerCase() === 'systemd';
}

/**
 * fail2ban's `backend =` value to ours (file backends; systemd jails read the journal instead). auto -> auto (inotify where available, else polling);
 * pyinotify and gamin -> inotify on Linux (auto elsewhere); polling -> poll. Anything else
 * (systemd journal jails) is a configuration error. Options in brackets (`auto[...]`) are ignored.
 */
export function mapBackend(fail2banBackend: string): TailBackendName {
  if (typeof fail2banBackend !== 'string') throw new TypeError('Expected backend to be a string');
  const name = fail2banBackend.replace(/\[.*\]\s*$/s, '').trim().toLowerCase();
  switch (name) {
    case 'auto':
      return 'auto';
    case 'pyinotify':
    case 'gamin':
      return process.platform === 'linux' ? 'inotify' : 'auto';
    case 'polling':
      return 'poll';
  }
  const hint = name === 'systemd' ? 'the journal is not a file (the daemon follows it with journalctl)' : 'use auto, pyinotify, gamin, polling or systemd';
  throw configError('CONFIG_VALUE', `unsupported backend = ${fail2banBackend}: ${hint}`);
}
