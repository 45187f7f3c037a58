/**
 * How every bench runs: `main`, then `cleanUp` whatever happened (no server, postmaster or
 * temporary directory may outlive a bench, also on Ctrl-C); a failure is printed and exits 1.
 */
export async function runBench(main: () => Promise<void>, cleanUp: () => Promise<void>): Promise<void> {
  process.on('SIGINT', () => void cleanUp().then(() => process.exit(130)));
  try {
    await main();
  } catch (err) {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}
