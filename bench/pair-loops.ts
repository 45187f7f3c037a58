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
      for (let i = loop; Date.now() < deadline; i += connections) {
        try {
          run.sendLatencies.push(await once(pairs[i % pairs.length]!));
          run.pairs++;
        } catch (err) {
          run.failureCount++;
          if (run.failures.length < 5) run.failures.push(String(err));
        }
      }
    }),
  );
  return run;
}
