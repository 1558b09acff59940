/**
 * The native ESP fast path: OutboundSa / InboundSa (./sa.ts) over the N-API addon in
 * native/esp.c, which seals and opens packets with OpenSSL's EVP AEAD API, one call per batch.
 *
 * Same packets, byte for byte, as ./sa.ts (tunnel-mode ESP, RFC 4303, with AES-GCM per RFC 4106
 * or ChaCha20-Poly1305 per RFC 7634, 32-bit sequence numbers), the same counters and the same drop
 * reasons, checked in that order (RFC 4303 §3.4: length, SPI, replay check without side effects,
 * ICV, replay commit, padding, next header). ./sa.ts stays the reference and the fallback: the
 * factories return `undefined` when the addon is not built, cannot be loaded, is turned off, or
 * does not implement the transform, and the caller then builds the JavaScript SA.
 *
 * The replay window of an inbound SA lives in C (see native/esp.c for why); `replay` here is a
 * view of it with the interface of ReplayWindow.
 *
 * Memory: `sealBatch` / `openBatch` cross into C once, and the packets they return are views into
 * one ArrayBuffer per batch; `seal` / `open` return views into a 64 KiB slab per SA, as Buffer's
 * pool does (a fresh ArrayBuffer per packet costs more than AES-GCM on 1400 bytes). Retaining a
 * result retains its batch or slab; the other bytes there are this SA's packets (ciphertext
 * outbound, authenticated plaintext inbound; a packet whose ICV fails leaves zeros).
 */
import { createRequire } from 'node:module';
import { addonCandidates, noAddonReason } from '../native/addons.js';
import type { AddonCandidate } from '../native/addons.js';
import { ESP_DROP_REASONS, SEQ_SOFT_LIMIT } from './sa.js';
import type { EspDrop, EspSaParams } from './sa.js';

/** What `open` returns (InboundSa.open's type). */
export type EspOpenResult = { payload: Uint8Array; nextHeader: number } | EspDrop;

/** The outbound surface shared by OutboundSa and NativeOutboundSa. */
export interface OutboundEsp {
  readonly spi: number;
  /** Last sequence number used (0 before the first packet). */
  readonly seq: number;
  readonly packets: number;
  readonly bytes: number;
  readonly needsRekey: boolean;
  seal(payload: Uint8Array, nextHeader: number): Uint8Array | EspDrop;
  wipe(): void;
}

/** The inbound surface shared by InboundSa and NativeInboundSa. */
export interface InboundEsp {
  readonly spi: number;
  readonly replay: ReplayState;
  readonly packets: number;
  readonly bytes: number;
  open(esp: Uint8Array): EspOpenResult;
}

/** The anti-replay window's interface (ReplayWindow in ./replay.ts has it). */
export interface ReplayState {
  readonly size: number;
  readonly highest: number;
  check(seq: number): boolean;
  commit(seq: number): void;
}

/** Options of the loader and the factories. */
export interface NativeEspOptions {
  /**
   * `false`: never use the addon (the driver maps VPN_FAST_PATH=0 here; this module reads no
   * environment). Default true.
   */
  enabled?: boolean;
  /**
   * The addon file. Default: the first that loads of the package's prebuilt binary
   * (prebuilds/<platform>-<arch>/esp.napi.<libc>.node) and its local build
   * (build/Release/esp.node); see src/native/addons.ts.
   */
  addonPath?: string;
  /** The package root to search instead of the one above this module (tests). */
  root?: string;
}

/** The addon's exports (see the comment at the top of native/esp.c). */
export interface NativeEspAddon {
  readonly apiVersion: number;
  readonly opensslVersion: string;
  create(
    inbound: boolean,
    encrId: number,
    keymat: Uint8Array,
    spi: number,
    replayWindow: number,
  ): object | undefined;
  seal(
    sa: object,
    payload: Uint8Array,
    nextHeader: number,
    state: Float64Array,
    out: Uint8Array,
  ): number;
  sealBatch(
    sa: object,
    payloads: readonly Uint8Array[],
    nextHeaders: readonly number[] | number,
    meta: Int32Array,
    state: Float64Array,
  ): ArrayBuffer;
  open(sa: object, packet: Uint8Array, state: Float64Array, out: Uint8Array): number;
  openBatch(
    sa: object,
    packets: readonly Uint8Array[],
    meta: Int32Array,
    state: Float64Array,
  ): ArrayBuffer;
  setSequence(sa: object, seq: number, state: Float64Array): void;
  replayCheck(sa: object, seq: number): boolean;
  replayCommit(sa: object, seq: number, state: Float64Array): void;
  wipe(sa: object): void;
}

/**
 * The interface version this wrapper speaks (API_VERSION in native/esp_core.h). 3: the threaded
 * data plane's exports (native/dataplane.c, wrapped by src/fastpath/dataplane.ts), and an SA
 * installed in a data plane refuses every call here (ERR_ESP_SA_INSTALLED).
 */
const API_VERSION = 3;

/** Encryption transform IDs the addon implements (IANA, as in src/crypto/aead.ts), → ICV length. */
const NATIVE_ICV_LENGTH: ReadonlyMap<number, number> = new Map([
  [18, 8], // ENCR_AES_GCM_8 (RFC 4106)
  [19, 12], // ENCR_AES_GCM_12
  [20, 16], // ENCR_AES_GCM_16
  [28, 16], // ENCR_CHACHA20_POLY1305 (RFC 7634)
]);

/** ESP header (SPI, sequence number) and IV (RFC 4303 §2, RFC 4106 §3.1). */
const HEADER_AND_IV = 16;
const SEQ_MAX = 0xffffffff;
const SLAB_SIZE = 64 * 1024;

/** A drop code of native/esp.c (1, 2, …: native/esp_drops.h); anything unknown is malformed. */
function drop(code: number): EspDrop {
  return { drop: ESP_DROP_REASONS[code - 1] ?? 'malformed' };
}

/** Status of the addon at one path: loaded, or why not. */
export type NativeEspStatus =
  | {
      available: true;
      path: string;
      /** Where `path` comes from: prebuilds/, build/Release/, or options.addonPath. */
      source: AddonCandidate['source'] | 'path';
      opensslVersion: string;
    }
  | { available: false; reason: string };

const loaded = new Map<string, { addon: NativeEspAddon; path: string } | { reason: string }>();
const req = createRequire(import.meta.url);
/** The default addon (no addonPath, no root), once one has loaded. */
let defaultStatus: NativeEspStatus | undefined;

/** Does this file exist? `require.resolve` of an absolute path stats it (no node:fs in the core). */
function exists(path: string): boolean {
  try {
    req.resolve(path);
    return true;
  } catch {
    return false;
  }
}

/** Loads the addon (once per path) and reports what happened; never throws. */
export function nativeEspStatus(options: NativeEspOptions = {}): NativeEspStatus {
  if (options.enabled === false) return { available: false, reason: 'turned off' };
  const byDefault = options.addonPath === undefined && options.root === undefined;
  // Once found, the default addon stays (no directory listing per SA).
  if (byDefault && defaultStatus) return defaultStatus;
  const candidates: { source: AddonCandidate['source'] | 'path'; path: string }[] =
    options.addonPath !== undefined
      ? [{ source: 'path', path: options.addonPath }]
      : addonCandidates('esp', options.root);
  if (candidates.length === 0)
    return { available: false, reason: noAddonReason('esp', options.root) };
  // The first candidate that loads and speaks our version: a prebuild older than the sources
  // gives way to a local build.
  const reasons: string[] = [];
  for (const { source, path } of candidates) {
    let entry = loaded.get(path);
    if (!entry) {
      entry = tryLoad(path);
      loaded.set(path, entry);
    }
    if ('addon' in entry) {
      const st = {
        available: true as const,
        path,
        source,
        opensslVersion: entry.addon.opensslVersion,
      };
      if (byDefault) defaultStatus = st;
      return st;
    }
    reasons.push(entry.reason);
  }
  return { available: false, reason: reasons.join('; ') };
}

function tryLoad(path: string): { addon: NativeEspAddon; path: string } | { reason: string } {
  if (!exists(path)) return { reason: `${path} is not built` };
  try {
    const addon = req(path) as NativeEspAddon;
    if (addon.apiVersion !== API_VERSION) {
      return {
        reason: `${path} speaks version ${String(addon.apiVersion)}, expected ${API_VERSION} (rebuild it)`,
      };
    }
    return { addon, path };
  } catch (e) {
    return { reason: `cannot load ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The addon, or undefined (not built, not loadable, turned off). Never throws. */
export function loadNativeEsp(options: NativeEspOptions = {}): NativeEspAddon | undefined {
  const status = nativeEspStatus(options);
  if (!status.available) return undefined;
  const entry = loaded.get(status.path);
  return entry && 'addon' in entry ? entry.addon : undefined;
}

/** Can the native fast path be used? Never throws. */
export function nativeEspAvailable(options: NativeEspOptions = {}): boolean {
  return nativeEspStatus(options).available;
}

/** Does the addon implement this encryption transform? (Then the factories succeed.) */
export function nativeEspSupports(encrId: number): boolean {
  return NATIVE_ICV_LENGTH.has(encrId);
}

/**
 * Per-SA memory shared with C for one call at a time: state [seq or highest, packets, bytes, next
 * header, payload length], the batch results (meta) and the slab single packets are written to.
 */
class Shared {
  readonly state = new Float64Array(5);
  private meta = new Int32Array(3 * 64);
  private slab = new Uint8Array(0);
  private used = 0;

  /**
   * `n` bytes of the slab never handed out before (zeros, or what C wrote there for a packet that
   * was then not returned: a drop leaves zeros, only a failed OpenSSL call leaves ciphertext); a
   * fresh slab when this one is full.
   */
  take(n: number): Uint8Array {
    if (this.used + n > this.slab.length) {
      this.slab = new Uint8Array(Math.max(SLAB_SIZE, n));
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + n);
    this.used += (n + 7) & ~7; // 8-byte aligned packets
    return view;
  }

  /** Gives back the last `take` (nothing was written to it). */
  untake(view: Uint8Array): void {
    if (view.buffer === this.slab.buffer) this.used = view.byteOffset;
  }

  /** The meta array for a batch of n (grown, never shrunk; results are read before reuse). */
  metaFor(n: number): Int32Array {
    if (this.meta.length < 3 * n)
      this.meta = new Int32Array(3 * Math.max(n, (2 * this.meta.length) / 3));
    return this.meta;
  }
}

/** OutboundSa (./sa.ts) on the native path, plus `sealBatch`. */
export class NativeOutboundSa implements OutboundEsp {
  readonly spi: number;
  private readonly addon: NativeEspAddon;
  private readonly handle: object;
  private readonly shared = new Shared();
  private readonly icv: number;

  private constructor(addon: NativeEspAddon, handle: object, spi: number, icv: number) {
    this.addon = addon;
    this.handle = handle;
    this.spi = spi;
    this.icv = icv;
  }

  /**
   * A native outbound SA, or undefined when the fast path cannot take it (addon missing or off,
   * transform not implemented): build an OutboundSa then.
   * @throws RangeError for a keymat that does not fit the transform, as OutboundSa does.
   */
  static create(p: EspSaParams, options: NativeEspOptions = {}): NativeOutboundSa | undefined {
    if (!NATIVE_ICV_LENGTH.has(p.encrId)) return undefined;
    const addon = loadNativeEsp(options);
    if (!addon) return undefined;
    const spi = p.spi >>> 0;
    const handle = addon.create(false, p.encrId, p.keymat, spi, 0);
    const icv = NATIVE_ICV_LENGTH.get(p.encrId)!;
    return handle ? new NativeOutboundSa(addon, handle, spi, icv) : undefined;
  }

  /** Last sequence number used (0 before the first packet). */
  get seq(): number {
    return this.shared.state[0]!;
  }

  get packets(): number {
    return this.shared.state[1]!;
  }

  get bytes(): number {
    return this.shared.state[2]!;
  }

  get needsRekey(): boolean {
    return this.seq >= SEQ_SOFT_LIMIT;
  }

  /** Encapsulates one inner packet; never reuses a sequence number (RFC 4303 §3.3.3). */
  seal(payload: Uint8Array, nextHeader: number): Uint8Array | EspDrop {
    const shared = this.shared;
    if (shared.state[0]! >= SEQ_MAX) return drop(8); // seq-exhausted, before any work
    const len = payload.length;
    const out = shared.take(HEADER_AND_IV + len + ((4 - ((len + 2) & 3)) & 3) + 2 + this.icv);
    let code: number;
    try {
      code = this.addon.seal(this.handle, payload, nextHeader, shared.state, out);
    } catch (e) {
      shared.untake(out);
      throw e;
    }
    if (code === 0) return out;
    shared.untake(out);
    return drop(code);
  }

  /**
   * Encapsulates a batch: the same as `seal` on each payload in order (one next header for all,
   * or one per payload). The packets are views into one ArrayBuffer.
   */
  sealBatch(
    payloads: readonly Uint8Array[],
    nextHeaders: readonly number[] | number,
  ): (Uint8Array | EspDrop)[] {
    const n = payloads.length;
    const meta = this.shared.metaFor(n);
    const buf = this.addon.sealBatch(this.handle, payloads, nextHeaders, meta, this.shared.state);
    const out: (Uint8Array | EspDrop)[] = [];
    for (let i = 0; i < n; i++) {
      const off = meta[3 * i]!;
      out.push(off < 0 ? drop(-off) : new Uint8Array(buf, off, meta[3 * i + 1]));
    }
    return out;
  }

  /** Test hook: start the counter elsewhere (exhaustion tests). */
  setSequenceForTest(seq: number): void {
    this.addon.setSequence(this.handle, seq, this.shared.state);
  }

  /** Frees the cipher context and zeroes the key material; the SA cannot be used afterwards. */
  wipe(): void {
    this.addon.wipe(this.handle);
  }
}

/** InboundSa (./sa.ts) on the native path, plus `openBatch` and `wipe`. */
export class NativeInboundSa implements InboundEsp {
  readonly spi: number;
  readonly replay: ReplayState;
  private readonly addon: NativeEspAddon;
  private readonly handle: object;
  private readonly shared = new Shared();
  private readonly icv: number;

  private constructor(
    addon: NativeEspAddon,
    handle: object,
    spi: number,
    size: number,
    icv: number,
  ) {
    this.addon = addon;
    this.handle = handle;
    this.spi = spi;
    this.icv = icv;
    const state = this.shared.state;
    this.replay = {
      size,
      get highest() {
        return state[0]!;
      },
      check: (seq) => addon.replayCheck(handle, seq),
      commit: (seq) => {
        // As ReplayWindow.commit: anything that is not a sequence number cannot be committed.
        if (Number.isInteger(seq) && seq >= 1 && seq <= 0xffffffff) {
          addon.replayCommit(handle, seq, state);
        }
      },
    };
  }

  /**
   * A native inbound SA, or undefined when the fast path cannot take it (build an InboundSa
   * then).
   * @throws RangeError for a keymat that does not fit the transform or a replay window that is
   *   not a power of two ≥ 32, as InboundSa does.
   */
  static create(p: EspSaParams, options: NativeEspOptions = {}): NativeInboundSa | undefined {
    if (!NATIVE_ICV_LENGTH.has(p.encrId)) return undefined;
    const addon = loadNativeEsp(options);
    if (!addon) return undefined;
    const spi = p.spi >>> 0;
    const size = p.replayWindow ?? 1024;
    if (!Number.isInteger(size) || size < 32 || (size & (size - 1)) !== 0) {
      throw new RangeError(`"size" expected a power of two ≥ 32, got ${size}`);
    }
    const handle = addon.create(true, p.encrId, p.keymat, spi, size);
    const icv = NATIVE_ICV_LENGTH.get(p.encrId)!;
    return handle ? new NativeInboundSa(addon, handle, spi, size, icv) : undefined;
  }

  get packets(): number {
    return this.shared.state[1]!;
  }

  get bytes(): number {
    return this.shared.state[2]!;
  }

  /**
   * Decapsulates one ESP packet (RFC 4303 §3.4): length checks → replay check (no side effects)
   * → ICV verification and decryption → replay commit → padding and next header checks.
   */
  open(esp: Uint8Array): EspOpenResult {
    const shared = this.shared;
    const ctLength = esp.length - HEADER_AND_IV - this.icv;
    // Shorter than header, IV, trailer and ICV (and not a Uint8Array at all: let C refuse it).
    if (ctLength < 2 && esp instanceof Uint8Array) return drop(1);
    const out = shared.take(Math.max(ctLength, 0));
    let code: number;
    try {
      code = this.addon.open(this.handle, esp, shared.state, out);
    } catch (e) {
      shared.untake(out);
      throw e;
    }
    if (code !== 0) {
      // Drops before the ICV check wrote nothing; an ICV failure left zeros; after it, the
      // plaintext is authentic: all may be handed out again.
      shared.untake(out);
      return drop(code);
    }
    return { payload: out.subarray(0, shared.state[4]), nextHeader: shared.state[3]! };
  }

  /**
   * Decapsulates a batch: the same as `open` on each packet in order (a duplicate later in the
   * batch is a replay). The payloads are views into one ArrayBuffer.
   */
  openBatch(packets: readonly Uint8Array[]): EspOpenResult[] {
    const n = packets.length;
    const meta = this.shared.metaFor(n);
    const buf = this.addon.openBatch(this.handle, packets, meta, this.shared.state);
    const out: EspOpenResult[] = [];
    for (let i = 0; i < n; i++) {
      const off = meta[3 * i]!;
      out.push(
        off < 0
          ? drop(-off)
          : { payload: new Uint8Array(buf, off, meta[3 * i + 1]), nextHeader: meta[3 * i + 2]! },
      );
    }
    return out;
  }

  /** Frees the cipher context and zeroes the key material; the SA cannot be used afterwards. */
  wipe(): void {
    this.addon.wipe(this.handle);
  }
}

/** NativeOutboundSa.create as a function. */
export function createNativeOutboundSa(
  p: EspSaParams,
  options: NativeEspOptions = {},
): NativeOutboundSa | undefined {
  return NativeOutboundSa.create(p, options);
}

/** NativeInboundSa.create as a function. */
export function createNativeInboundSa(
  p: EspSaParams,
  options: NativeEspOptions = {},
): NativeInboundSa | undefined {
  return NativeInboundSa.create(p, options);
}
