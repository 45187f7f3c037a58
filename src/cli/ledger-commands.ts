import type { Command } from 'commander';
import { reconcile } from '../ledger/ledger.js';
import { withRuntime } from './with-runtime.js';

/** `oms ledger verify`: the reconciliation, for cron jobs and operators; non-zero exit on any difference. */
export function addLedgerCommands(program: Command): void {
  program
    .command('ledger')
    .description('the double-entry ledger')
    .command('verify')
    .description('recompute every balance from its postings and check every entry balances; exits 1 on any difference')
    .action(async () => {
      const report = await withRuntime(({ database }) => reconcile(database.db));
      for (const d of report.balanceDifferences) {
        process.stdout.write(`balance differs: ${d.projectId}/${d.mode} account ${d.accountId}: cached ${d.cached}, postings ${d.fromPostings}\n`);
      }
      for (const entry of report.unbalancedEntries) process.stdout.write(`entry does not balance: ${entry}\n`);
      const problems = report.balanceDifferences.length + report.unbalancedEntries.length;
      process.stdout.write(problems === 0 ? 'ledger verified: every balance equals its postings, every entry balances\n' : `${problems} problem(s) found\n`);
      if (problems > 0) process.exitCode = 1;
    });
}
