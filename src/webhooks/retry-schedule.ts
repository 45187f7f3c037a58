/**
 * When a failed delivery is tried again (spec 6.2): after about 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 14 h, 20 h and 24 h, about three days in all, each delay jittered by up to ±10 % so
 * that deliveries failed together do not return together.
 */
const DELAYS_S = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];
const JITTER = 0.1;

/** Attempts a delivery gets in all: the first and one per delay. */
export const MAX_ATTEMPTS = DELAYS_S.length + 1;

/**
 * The wait in milliseconds after failed attempt number `attempt` (1-based), or undefined when
 * it was the last. A receiver's Retry-After (seconds) is honoured when it asks for longer.
 */
export function retryDelayMs(attempt: number, retryAfterSeconds?: number, random: () => number = Math.random): number | undefined {
  const base = DELAYS_S[attempt - 1];
  if (base === undefined) return undefined;
  const jittered = base * 1_000 * (1 - JITTER + 2 * JITTER * random());
  const asked = retryAfterSeconds === undefined ? 0 : Math.min(retryAfterSeconds, DELAYS_S[DELAYS_S.length - 1]!) * 1_000;
  return Math.round(Math.max(jittered, asked));
}
