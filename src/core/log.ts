/** Subsystem-tagged logger injected into the core. Never log keys or secrets at info level. */
export type Subsystem = 'ike' | 'esp' | 'net' | 'tun' | 'cfg' | 'cli' | 'eap';

export interface Logger {
  debug(sub: Subsystem, msg: string, fields?: Record<string, unknown>): void;
  info(sub: Subsystem, msg: string, fields?: Record<string, unknown>): void;
  warn(sub: Subsystem, msg: string, fields?: Record<string, unknown>): void;
  error(sub: Subsystem, msg: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => undefined;
export const NOOP_LOGGER: Logger = { debug: noop, info: noop, warn: noop, error: noop };
