import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/domain/scope.js';
import * as ledger from '../src/ledger/ledger.js';
import { startTestApp, type TestApp } from './support/harness.js';
import { cleanUp, spawnCli } from './support/processes.js';

/** `oms ledger verify` (issue 4): clean books exit 0; a balance that is not its postings' sum exits 1 and is named. */

let t: TestApp;
let scope: Scope;

beforeAll(async () => {
  t = await startTestApp();
  scope = { projectId: t.api.credentials.projectId, mode: 'sandbox' };
});
afterAll(async () => {
  await cleanUp();
  await t.close();
});

function verify() {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: t.databaseUrl, OMS_MASTER_KEY: t.config.masterKey!, OMS_LOG_LEVEL: 'warn' };
  delete env.OMS_MASTER_KEY_PREVIOUS;
  return spawnCli(env, ['ledger', 'verify']).result;
}

describe('oms ledger verify', () => {
  it('passes clean books, then names an account whose balance was tampered with, and exits 1', async () => {
    const [wallet, world] = await ledger.transaction(t.db, async (trx) => [
      await ledger.ensureAccount(trx, scope, { kind: 'wallet', asset: 'usdc', chain: 'base', walletId: 'wlt_verify', scale: 6 }),
      await ledger.ensureAccount(trx, scope, { kind: 'external', asset: 'usdc', chain: 'base', walletId: null, scale: 6 }),
    ]);
    await ledger.transaction(t.db, (trx) => ledger.post(trx, scope, ledger.transfer('deposit', world, wallet, '12.5')));

    const clean = await verify();
    expect([clean.code, clean.stdout]).toEqual([0, 'ledger verified: every balance equals its postings, every entry balances\n']);

    // Only the table's owner, switching the guard off, can do this: exactly what verify is for.
    await t.pool.query('alter table ledger_accounts disable trigger ledger_accounts_balance_guard');
    await t.pool.query('update ledger_accounts set balance = balance + 1 where id = $1', [wallet.id]);
    await t.pool.query('alter table ledger_accounts enable trigger ledger_accounts_balance_guard');

    const dirty = await verify();
    expect(dirty.code).toBe(1);
    expect(dirty.stdout).toContain(`account ${wallet.id}: cached 13.5, postings 12.5`);
    expect(dirty.stdout).toContain('1 problem(s) found');
  }, 60_000);
});
