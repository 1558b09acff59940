/** Monotonic time in milliseconds, injected into the core so tests control it. */
export interface Clock {
  now(): number;
}
