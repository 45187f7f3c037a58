/** A quote + transaction pair's job: senders, each with the wallet it sends to. */
export interface Pair {
  customerId: string;
  from: string;
  to: string;
}

export interface PairRun {
  pairs: number;
  /** Milliseconds each accepted transaction took, as its sender saw it. */
  sendLatencies: number[];
  failures: string[];
  failureCount: number;
}

/**
 * Runs `connections` closed loops for `duration` seconds, loop i starting at pair i and
 * walking on; `once` does one pair and returns the latency of its send, or throws.
 */
export async function runPairLoops(pairs: readonly Pair[], connections: number, duration: number, once: (pair: Pair) => Promise<number>): Promise<PairRun> {
  const run: PairRun = { pairs: 0, sendLatencies: [], failures: [], failureCount: 0 };
  const deadline = Date.now() + duration * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, loop) => {
      for (let i = loop; Date.now() < deadline; i += connections) await record(run, once(pairs[i % pairs.length]!));
    }),
  );
  return run;
}

/**
 * Starts a pair every 1/`perSecond` s for `duration` seconds, whether or not the earlier ones
 * have finished (an open loop: latency measured at a steady offered rate, not inflated by
 * the queue a closed loop builds).
 */
export async function runPairsAtRate(pairs: readonly Pair[], perSecond: number, duration: number, once: (pair: Pair) => Promise<number>): Promise<PairRun> {
  const run: PairRun = { pairs: 0, sendLatencies: [], failures: [], failureCount: 0 };
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < perSecond * duration; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(record(run, once(pairs[i % pairs.length]!)));
  }
  await Promise.all(pending);
  return run;
}

async function record(run: PairRun, pair: Promise<number>): Promise<void> {
  try {
    run.sendLatencies.push(await pair);
    run.pairs++;
  } catch (err) {
    run.failureCount++;
    if (run.failures.length < 5) run.failures.push(String(err));
  }
}
