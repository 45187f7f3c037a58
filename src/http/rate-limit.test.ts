import { describe, expect, it } from 'vitest';
import { FailureCounter, TokenBuckets } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('allows the burst, then the steady rate, per key', () => {
    let now = 0;
    const buckets = new TokenBuckets(10, 20, () => now);
    for (let i = 0; i < 20; i++) expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(1);
    expect(buckets.take('b')).toBe(0);
    now += 100; // one token refills every 100 ms at 10/s
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(1);
    now += 10_000;
    for (let i = 0; i < 20; i++) expect(buckets.take('a')).toBe(0);
  });
});

describe('FailureCounter', () => {
  it('blocks after the limit within a minute and forgets failures older than a minute', () => {
    let now = 0;
    const failures = new FailureCounter(3, 100, () => now);
    for (let i = 0; i < 3; i++) {
      expect(failures.blockedFor('k')).toBe(0);
      failures.record('k');
      now += 1_000;
    }
    expect(failures.blockedFor('k')).toBe(57);
    expect(failures.blockedFor('other')).toBe(0);
    now = 60_001;
    expect(failures.blockedFor('k')).toBe(0);
  });

  it('stays bounded however many keys fail', () => {
    const failures = new FailureCounter(3, 10, () => 0);
    for (let i = 0; i < 1_000; i++) failures.record(`junk-${i}`);
    expect((failures as unknown as { failures: Map<string, number[]> }).failures.size).toBeLessThanOrEqual(10);
  });
});
