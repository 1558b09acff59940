/** Loads test vector files from test/vectors (source tree, not dist). */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR = fileURLToPath(new URL('../../../test/vectors/', import.meta.url));

export function vectorBytes(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(VECTORS_DIR + rel));
}

/** Every *.bin capture of strongSwan traffic, by name. */
export function captures(): Map<string, Uint8Array> {
  const dir = VECTORS_DIR + 'captures/';
  const out = new Map<string, Uint8Array>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort())
    if (f.endsWith('.bin')) out.set(f, vectorBytes(`captures/${f}`));
  return out;
}
