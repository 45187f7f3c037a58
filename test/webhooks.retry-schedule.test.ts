import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, retryDelayMs } from '../src/webhooks/retry-schedule.js';

/**
 * The webhook retry schedule (spec 6.2) as a pure rule: the documented delays, ±10 % jitter,
 * the end of the schedule, and the receiver's Retry-After. `random` is always injected.
 */

const SECOND = 1_000;
const HOUR = 3_600 * SECOND;
const DAY = 24 * HOUR;
/** Spec 6.2, written out here rather than imported: ≈ 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
const DOCUMENTED_MS = [5 * SECOND, 5 * 60 * SECOND, 30 * 60 * SECOND, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR];
const CAP_MS = 24 * HOUR;

const fixed = (value: number) => () => value;
const lowest = fixed(0);
const middle = fixed(0.5);
const highest = fixed(1);

describe('the documented schedule', () => {
  it('gives one attempt per delay plus the first', () => {
    expect(MAX_ATTEMPTS).toBe(DOCUMENTED_MS.length + 1);
  });

  it.each(DOCUMENTED_MS.map((ms, i) => [i + 1, ms] as const))('after failed attempt %i waits %i ms at random = 0.5, exactly', (attempt, ms) => {
    expect(retryDelayMs(attempt, undefined, middle)).toBe(ms);
  });

  it.each(DOCUMENTED_MS.map((ms, i) => [i + 1, ms] as const))('after failed attempt %i stays within ±10 %% of %i ms at the ends of the jitter', (attempt, ms) => {
    const low = retryDelayMs(attempt, undefined, lowest)!;
    const high = retryDelayMs(attempt, undefined, highest)!;
    expect(low).toBe(Math.round(ms * 0.9));
    expect(high).toBe(Math.round(ms * 1.1));
    // The jitter really spreads deliveries that failed together.
    expect(high).toBeGreaterThan(low);
  });

  it('has no delay after the last attempt, whatever the receiver asks', () => {
    expect(retryDelayMs(MAX_ATTEMPTS, undefined, middle)).toBeUndefined();
    expect(retryDelayMs(MAX_ATTEMPTS + 1, undefined, middle)).toBeUndefined();
    expect(retryDelayMs(MAX_ATTEMPTS, 60, middle)).toBeUndefined();
    expect(retryDelayMs(MAX_ATTEMPTS, 10 ** 9, highest)).toBeUndefined();
  });

  it('retries for about three days in all', () => {
    const total = (random: () => number) => DOCUMENTED_MS.reduce((sum, _ms, i) => sum + retryDelayMs(i + 1, undefined, random)!, 0);
    expect(total(middle) / DAY).toBeCloseTo(272_105 / 86_400, 6);
    for (const random of [lowest, middle, highest, Math.random]) {
      expect(total(random)).toBeGreaterThan(2.5 * DAY);
      expect(total(random)).toBeLessThan(3.5 * DAY);
    }
  });

  it('uses Math.random when no random is given, still within the jitter', () => {
    for (let i = 0; i < 200; i++) {
      const delay = retryDelayMs(2)!;
      expect(delay).toBeGreaterThanOrEqual(270 * SECOND);
      expect(delay).toBeLessThanOrEqual(330 * SECOND);
    }
  });
});

describe('Retry-After', () => {
  it('wins when it asks for longer than the scheduled delay', () => {
    expect(retryDelayMs(1, 3_600, middle)).toBe(3_600 * SECOND);
    expect(retryDelayMs(2, 301, lowest)).toBe(301 * SECOND);
    // Inside the jitter band: longer than the jittered delay is enough.
    expect(retryDelayMs(1, 5, lowest)).toBe(5 * SECOND);
  });

  it('does not shorten the scheduled delay', () => {
    expect(retryDelayMs(1, 1, middle)).toBe(5 * SECOND);
    expect(retryDelayMs(2, 60, middle)).toBe(300 * SECOND);
    expect(retryDelayMs(9, 3_600, lowest)).toBe(Math.round(24 * HOUR * 0.9));
  });

  it.each([0, -5])('of %i seconds leaves the schedule as it is', (seconds) => {
    expect(retryDelayMs(1, seconds, middle)).toBe(5 * SECOND);
  });

  it.each([86_401, 10 ** 6, 10 ** 9, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY])('of %s seconds is capped at 24 h', (seconds) => {
    expect(retryDelayMs(1, seconds, middle)).toBe(CAP_MS);
    expect(retryDelayMs(5, seconds, highest)).toBe(CAP_MS);
    // The last delay's own jitter may exceed the cap; the schedule still wins then.
    expect(retryDelayMs(9, seconds, highest)).toBe(Math.round(CAP_MS * 1.1));
    expect(retryDelayMs(9, seconds, lowest)).toBe(CAP_MS);
  });
});

describe('properties', () => {
  const attempt = fc.integer({ min: 1, max: MAX_ATTEMPTS - 1 });
  const random = fc.double({ min: 0, max: 1, noNaN: true });
  const retryAfter = fc.option(fc.integer({ min: 0, max: 10 ** 9 }), { nil: undefined });

  it('every delay is within ±10 % of its documented delay, or the capped Retry-After when that is longer', () => {
    fc.assert(
      fc.property(attempt, random, retryAfter, (n, r, asked) => {
        const delay = retryDelayMs(n, asked, () => r)!;
        const documented = DOCUMENTED_MS[n - 1]!;
        const askedMs = Math.min(asked ?? 0, 86_400) * SECOND;
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(Math.max(Math.floor(documented * 0.9), askedMs));
        expect(delay).toBeLessThanOrEqual(Math.max(Math.ceil(documented * 1.1), askedMs));
        expect(delay).toBeLessThanOrEqual(Math.ceil(CAP_MS * 1.1));
      }),
    );
  });

  it('at a fixed random (and Retry-After), delays never shrink as attempts go on', () => {
    fc.assert(
      fc.property(attempt, attempt, random, retryAfter, (a, b, r, asked) => {
        const [first, later] = a <= b ? [a, b] : [b, a];
        expect(retryDelayMs(first, asked, () => r)!).toBeLessThanOrEqual(retryDelayMs(later, asked, () => r)!);
        if (asked === undefined && first < later) expect(retryDelayMs(first, undefined, () => r)!).toBeLessThan(retryDelayMs(later, undefined, () => r)!);
      }),
    );
  });
});
