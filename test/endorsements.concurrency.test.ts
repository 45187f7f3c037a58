import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localProviderFromConfig } from '../src/compliance/local-provider-config.js';
import { createLogger } from '../src/http/logging.js';
import { openDataKey, openPii } from '../src/modules/customers/customer-pii.js';
import { toSubject } from '../src/modules/customers/customer-compliance.js';
import type { PublicCustomerRow } from '../src/modules/customers/customers.repo.js';
import { createEvaluationWorker, type EvaluationWorker } from '../src/modules/customers/evaluation-worker.js';
import type { ApiClient, TestApp } from './support/harness.js';
import { readAssetCatalogue } from '../src/domain/assets.js';
import { startTestApp } from './support/harness.js';
import {
  allThree,
  byName,
  cleanUsCustomer,
  createLive,
  dateAgo,
  eventsOf,
  evaluationsLogged,
  getCustomer,
  historyOf,
  jobsOf,
  LIVE_PII_VALUES,
  logLines,
  NAMES,
  statuses,
  until,
  untilStatuses,
} from './support/live-customers.js';

/**
 * Live endorsements under concurrency: many writes racing each other and the worker on one
 * customer, and several workers racing for the same jobs on one database.
 */

let t: TestApp;
let live: ApiClient;
beforeAll(async () => {
  t = await startTestApp();
  live = await t.client('live');
  await live.get('/v0.9/customers'); // the token, once, before requests go out side by side
});
afterAll(() => t?.close());

/** The issues the verification provider finds in what is stored now (what the final state must reflect). */
async function issuesOfStoredData(app: TestApp, id: string): Promise<string[]> {
  const row = await app.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const scope = { projectId: row.project_id, mode: row.mode };
  const dataKey = openDataKey(app.keyring, scope, id, { sealed: row.data_key_sealed, masterKeyId: row.master_key_id });
  const pii = openPii(dataKey, scope, id, row.pii_sealed);
  const result = await localProviderFromConfig(app.config).verify(toSubject(row as PublicCustomerRow, pii), new Date());
  return [...result.issues, ...(result.sanctionsHit ? ['sanctionsMatch'] : [])].sort();
}

/** Waits until no job is left for the customer: the last write's checks have been stored. */
async function untilSettled(app: TestApp, id: string): Promise<void> {
  await until(() => jobsOf(app, id), (jobs) => jobs.length === 0, `the jobs of ${id} to be done`, 20_000);
  await app.worker.drain();
}

/**
 * The invariants of one customer's endorsements: each history is seq 1..n, born INACTIVE, each
 * step from where the last one went; it ends at the current status; every step after the
 * birth has exactly one `customer.endorsement.updated` event (same endorsement, same move,
 * same instant) and every grant one `granted` event.
 */
async function expectConsistent(app: TestApp, client: ApiClient, id: string): Promise<Record<string, string>> {
  const customer = await getCustomer(client, id);
  const history = await historyOf(app, id);
  const events = await eventsOf(app, id);
  for (const e of customer.endorsements) {
    const rows = history.filter((r) => r.name === e.name);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows[0]).toMatchObject({ from_status: null, to_status: 'INACTIVE' });
    rows.slice(1).forEach((r, i) => expect({ seq: r.seq, from: r.from_status }).toEqual({ seq: r.seq, from: rows[i]!.to_status }));
    expect(rows.at(-1)!.to_status).toBe(e.status);

    const steps = rows.slice(1).map((r) => `${r.from_status}>${r.to_status}@${r.at.toISOString()}`).sort();
    const updated = events
      .filter((ev) => ev.type === 'customer.endorsement.updated' && ev.data.endorsement.name === e.name)
      .map((ev) => `${ev.data.endorsement.previousStatus}>${ev.data.endorsement.status}@${ev.created_at.toISOString()}`)
      .sort();
    expect({ name: e.name, updated }).toEqual({ name: e.name, updated: steps });
    const grants = events.filter((ev) => ev.type === 'customer.endorsement.granted' && ev.data.endorsement.name === e.name);
    expect(grants).toHaveLength(rows.filter((r) => r.to_status === 'ACTIVE').length);
  }
  return statuses(customer);
}

/** The final statuses must be what the final data calls for. */
async function expectStatusesMatchData(app: TestApp, client: ApiClient, id: string): Promise<void> {
  const issues = await issuesOfStoredData(app, id);
  const customer = await getCustomer(client, id);
  if (issues.length === 0) {
    expect(statuses(customer)).toEqual(allThree('ACTIVE'));
  } else {
    for (const e of customer.endorsements) {
      expect(['ISSUES', 'REVOKED_ISSUES']).toContain(e.status);
      expect([...e.requirements.issues].sort()).toEqual(issues);
    }
  }
}

const LAST_NAMES = ['Oakhurst', 'Oakhearst', 'Oakridge', 'Oakhaven', 'Oakmoor'];
const IPS = ['192.0.2.41', '198.51.100.200', '198.51.100.20', '2001:db8::41'];

/** The i-th of a mix of writes: re-evaluating ones (lastName, birthDate, ipAddress, naming an endorsement) and profile edits. */
function patchNumber(i: number): Record<string, unknown> {
  switch (i % 6) {
    case 0:
      return { lastName: LAST_NAMES[(i / 6) % LAST_NAMES.length] };
    case 1:
      return { birthDate: i % 4 === 1 ? dateAgo(16) : `1968-11-${String(10 + (i % 17)).padStart(2, '0')}` };
    case 2:
      return { ipAddress: IPS[i % IPS.length] };
    case 3:
      return { metadata: { round: String(i) } };
    case 4:
      return i % 12 === 4 ? { endorsements: ['basic'] } : { email: `maren${i}@example.com` };
    default:
      return { lastName: LAST_NAMES[i % LAST_NAMES.length], metadata: { round: String(i) }, ipAddress: IPS[(i + 1) % IPS.length] };
  }
}

describe('50 simultaneous PATCHes to one live customer', () => {
  it.each([
    ['an ACTIVE customer', true],
    ['a customer whose first checks are still running', false],
  ])('leave %s in one consistent state once the worker drained', async (_label, startActive) => {
    const created = await createLive(live, cleanUsCustomer());
    if (startActive) await untilStatuses(live, created.id, allThree('ACTIVE'));

    const writes = Array.from({ length: 50 }, (_, i) => live.patch(`/v0.9/customers/${created.id}`, patchNumber(i)));
    // The worker's loop runs (woken by each job); extra drains claim side by side with it, in the thick of the writes.
    const drains = Array.from({ length: 5 }, () => t.worker.drain());
    const responses = await Promise.all(writes);
    await Promise.all(drains);
    expect(responses.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.raw}`)).toEqual([]);

    await untilSettled(t, created.id);
    await expectConsistent(t, live, created.id);
    await expectStatusesMatchData(t, live, created.id);
    expect(logLines(t.logs()).filter((l) => l.level >= 50 || l.msg === 'evaluation failed; will retry')).toEqual([]);

    // And it still works: clean data brings it back to ACTIVE, consistently.
    await live.patch(`/v0.9/customers/${created.id}`, { birthDate: '1968-11-23', ipAddress: '192.0.2.41', lastName: 'Oakhurst' });
    await untilStatuses(live, created.id, allThree('ACTIVE'));
    await untilSettled(t, created.id);
    await expectConsistent(t, live, created.id);
  });
});

describe('a write that waits for the customer lock while the worker stores a decision', () => {
  /** Waits until `n` backends of this database wait for a lock. */
  async function untilLockWaiters(n: number): Promise<void> {
    await until(
      () => t.pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`),
      (res) => res.rows[0].n >= n,
      `${n} backend(s) waiting for a lock`,
    );
  }

  // Regression test. findCustomer(..., { forUpdate: true }) used to read the endorsements in a
  // subquery of the statement that locked the customer row. Under READ COMMITTED, a statement
  // that had to wait for the lock sees the locked row as committed, but its subquery still reads
  // the snapshot taken before the wait. A PATCH queued behind the worker's transaction then
  // planned from the endorsements as they were before the worker's decision: it saw ACTIVE
  // (already "checking") where the worker had just stored REVOKED_ISSUES, wrote nothing back,
  // and the job it queued found REVOKED_ISSUES, which checks do not move. The customer had fixed
  // the data and stayed REVOKED_ISSUES (the PATCH response even said ACTIVE). The 50-PATCH test
  // above hit this now and then; this one forces the interleaving with a lock held by the test.
  it('plans from the endorsements as the worker left them, so a fix after a revocation is checked again', async () => {
    await t.worker.stop();
    const blocker = await t.pool.connect();
    try {
      const created = await createLive(live, cleanUsCustomer());
      await t.worker.drain();
      expect(statuses(await getCustomer(live, created.id))).toEqual(allThree('ACTIVE'));
      await live.patch(`/v0.9/customers/${created.id}`, { birthDate: dateAgo(15) });

      // Hold the customer's row so that the worker's decision and the fixing PATCH queue behind it, in that order.
      await blocker.query('begin');
      await blocker.query('select 1 from customers where id = $1 for update', [created.id]);
      const evaluation = t.worker.drain();
      await untilLockWaiters(1);
      const fix = live.patch(`/v0.9/customers/${created.id}`, { birthDate: '1968-11-23' });
      await untilLockWaiters(2);
      await blocker.query('commit');

      expect(await evaluation).toBe(1);
      const fixed = await fix;
      expect(fixed.status).toBe(200);
      await t.worker.drain();

      await expectConsistent(t, live, created.id);
      expect(await stepsOfBasic(created.id)).toEqual([
        'INACTIVE',
        'INACTIVE>PENDING',
        'PENDING>ACTIVE',
        'ACTIVE>REVOKED_ISSUES',
        'REVOKED_ISSUES>PENDING',
        'PENDING>ACTIVE',
      ]);
      expect(statuses(await getCustomer(live, created.id))).toEqual(allThree('ACTIVE'));
    } finally {
      await blocker.query('rollback').catch(() => undefined);
      blocker.release();
      t.worker.start();
    }
  });

  async function stepsOfBasic(id: string): Promise<string[]> {
    return (await historyOf(t, id)).filter((r) => r.name === 'basic').map((r) => (r.from_status ? `${r.from_status}>${r.to_status}` : r.to_status));
  }
});

describe('two workers on one database', () => {
  let second: EvaluationWorker | undefined;
  afterAll(async () => {
    await second?.stop();
    t.worker.start();
  });

  it('never evaluate the same job twice, and share the work', async () => {
    // The harness has one database per app, so a second startTestApp cannot share it: the
    // second worker is built here, over the same database, with its own captured log.
    let secondLog = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        secondLog += chunk.toString();
        done();
      },
    });
    second = createEvaluationWorker({
      db: t.db,
      listenTo: { connectionString: t.databaseUrl },
      keyring: t.keyring,
      assets: readAssetCatalogue(t.config.assetsFile),
      provider: localProviderFromConfig(t.config),
      decision: 'auto',
      log: createLogger('info', sink),
      pollMs: t.config.evaluationPollMs,
    });

    // Jobs pile up while no worker runs; then both start at once and race for them.
    await t.worker.stop();
    const client = await t.client('live');
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const made = await Promise.all(Array.from({ length: 10 }, () => createLive(client, cleanUsCustomer())));
      ids.push(...made.map((c) => c.id));
    }
    const { rows: waiting } = await t.pool.query('select count(*)::int as n from evaluation_jobs where customer_id = any($1)', [ids]);
    expect(waiting[0].n).toBe(100);

    t.worker.start();
    second.start();
    await Promise.all([t.worker.drain(), second.drain(), t.worker.drain(), second.drain()]);
    await until(
      () => t.pool.query(`select count(*)::int as n from customer_endorsements where customer_id = any($1) and status = 'ACTIVE'`, [ids]),
      (res) => res.rows[0].n === 300,
      'all 300 endorsements ACTIVE',
      20_000,
    );
    await until(() => t.pool.query('select count(*)::int as n from evaluation_jobs'), (res) => res.rows[0].n === 0, 'no job left');
    await second.stop();

    const finished = [...evaluationsLogged(t.logs()), ...evaluationsLogged(secondLog)].filter((l) => ids.includes(l.customerId));
    const jobIds = finished.map((l) => l.jobId as string);
    expect(jobIds.length).toBe(100);
    expect(new Set(jobIds).size).toBe(jobIds.length);
    expect(new Set(finished.map((l) => l.customerId)).size).toBe(100);
    expect(finished.filter((l) => l.moves === 'superseded')).toEqual([]);
    const byWorker = new Map<string, number>();
    for (const l of finished) byWorker.set(l.worker, (byWorker.get(l.worker) ?? 0) + 1);
    expect(byWorker.size).toBe(2);
    for (const [, count] of byWorker) expect(count).toBeGreaterThan(0);

    const { rows: grants } = await t.pool.query(
      `select customer_id, name, count(*)::int as n from endorsement_history
        where customer_id = any($1) and from_status = 'PENDING' and to_status = 'ACTIVE' group by customer_id, name`,
      [ids],
    );
    expect(grants).toHaveLength(300);
    expect(grants.filter((g) => g.n !== 1)).toEqual([]);
    const { rows: granted } = await t.pool.query(
      `select count(*)::int as n from events where type = 'customer.endorsement.granted' and data->'object'->>'id' = any($1)`,
      [ids],
    );
    expect(granted[0].n).toBe(300);
    for (const id of ids.slice(0, 5)) {
      const c = await getCustomer(client, id);
      expect(NAMES.map((n) => byName(c)[n]!.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
    }
    expect(LIVE_PII_VALUES.filter((v) => secondLog.includes(v))).toEqual([]);
  });
});
