import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENDORSEMENT_EVENTS,
  LEGAL,
  STATUSES,
  endorsementOf,
  eventsOf,
  expectConsistent,
  force,
  forceUrl,
  historyOf,
  snapshot,
  statusesOf,
  uniqueExternalId,
  type Status,
} from './support/endorsements.js';
import { expectNoPii, fullCustomer, PII } from './support/fixtures.js';
import { startTestApp, type ApiClient, type TestApp } from './support/harness.js';

/**
 * Endorsements in sandbox mode (spec 3.3), black box: through HTTP, plus SQL reads of the
 * history and the events (spec 6.3) to check what must and must not be written.
 */

let t: TestApp;
/** Every customer this file creates in the default sandbox project; each is swept at the end. */
const created: string[] = [];
/** Customers of the race tests, which fail on their own (reported bug); the sweep skips them. */
const raced = new Set<string>();

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const NAMES = ['basic', 'cryptoCustody', 'usd'];
const BASIC_FIELDS = ['firstName', 'lastName', 'email', 'birthDate', 'residentialAddress', 'ipAddress', 'signedAgreement', 'identifyingInformation'];

async function create(body: Record<string, unknown>, client?: ApiClient) {
  const api = client ?? t.api;
  const res = await api.post('/v0.9/customers', body);
  expect(res.status, res.raw).toBe(201);
  // Live checks run in the background, so only a sandbox customer is settled when POST answers.
  if (api !== t.api) return res.body;
  created.push(res.body.id);
  const fetched = await api.get(`/v0.9/customers/${res.body.id}`);
  expect(fetched.body, 'GET agrees with the POST response').toEqual(res.body);
  return res.body;
}

/** A full customer (every requirement present), with its own externalId. */
function full(overrides: Record<string, unknown> = {}) {
  return fullCustomer({ externalId: uniqueExternalId(), ...overrides });
}

async function patchOk(id: string, body: Record<string, unknown>) {
  const res = await t.api.patch(`/v0.9/customers/${id}`, body);
  expect(res.status, res.raw).toBe(200);
  const fetched = await t.api.get(`/v0.9/customers/${id}`);
  expect(fetched.body, 'GET agrees with the PATCH response').toEqual(res.body);
  return res.body;
}

async function forceOk(id: string, name: string, body: Record<string, unknown>) {
  const res = await force(t.api, id, name, body);
  expect(res.status, res.raw).toBe(200);
  const fetched = await t.api.get(`/v0.9/customers/${id}`);
  expect(fetched.body, 'GET agrees with the force response').toEqual(res.body);
  return res.body;
}

/** Waits until the live evaluation of a customer is done (live checks run in the background worker). */
async function settleLive(id: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    await t.worker.drain();
    const { rows } = await t.pool.query(`select count(*)::int as n from evaluation_jobs where customer_id = $1`, [id]);
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the live evaluation of ${id} did not finish`);
}

/** The path of statuses each endorsement took, from its history. */
async function paths(id: string): Promise<Record<string, string[]>> {
  const history = await historyOf(t, id);
  const out: Record<string, string[]> = {};
  for (const row of history) (out[row.name] ??= []).push(row.to_status);
  return out;
}

/** History rows and events written since a snapshot. */
async function since(before: Awaited<ReturnType<typeof snapshot>>, id: string) {
  const history = await historyOf(t, id);
  const events = await eventsOf(t, id);
  const known = new Set(before.events.map((e) => e.split(' ')[1]));
  return {
    history: history.filter((h) => !before.history.some((b) => b.name === h.name && b.seq === h.seq)),
    events: events.filter((e) => !known.has(e.id)),
  };
}

function everyName<T>(value: T): Record<string, T> {
  return Object.fromEntries(NAMES.map((n) => [n, value]));
}

describe('sandbox outcomes (spec 3.3)', () => {
  it('grants every requested endorsement at once, whatever the data, and still lists what is missing', async () => {
    const c = await create({});
    expect(statusesOf(c)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'ACTIVE' });
    const basic = endorsementOf(c, 'basic');
    expect([...basic.requirements.missing].sort()).toEqual([...BASIC_FIELDS].sort());
    expect(basic.requirements).toMatchObject({ complete: [], pending: [], issues: [] });
    expect(endorsementOf(c, 'cryptoCustody').requirements.missing).toEqual(expect.arrayContaining([...BASIC_FIELDS, 'nationality', 'phone']));
    expect(endorsementOf(c, 'usd').requirements.missing).toEqual(expect.arrayContaining([...BASIC_FIELDS, 'nationality']));
    expect(endorsementOf(c, 'usd').requirements.missing).not.toContain('phone');
    for (const e of c.endorsements) expect(e.rejectionReasons).toEqual([]);
    expect(await paths(c.id)).toEqual(everyName(['INACTIVE', 'PENDING', 'ACTIVE']));
    const types = (await eventsOf(t, c.id)).map((e) => e.type);
    expect(types.filter((x) => x === 'customer.endorsement.updated')).toHaveLength(6);
    expect(types.filter((x) => x === 'customer.endorsement.granted')).toHaveLength(3);
    expect(types.filter((x) => x === 'customer.created')).toHaveLength(1);
    await expectConsistent(t, t.api, c.id);
  });

  it('a complete customer has nothing missing, and basic counts as complete for the others', async () => {
    const c = await create(full());
    expect(statusesOf(c)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'ACTIVE' });
    for (const e of c.endorsements) expect(e.requirements).toMatchObject({ missing: [], pending: [], issues: [] });
    expect(endorsementOf(c, 'cryptoCustody').requirements.complete).toEqual(expect.arrayContaining([...BASIC_FIELDS, 'nationality', 'phone', 'basic']));
    expect(endorsementOf(c, 'usd').requirements.complete).toContain('basic');
    await expectConsistent(t, t.api, c.id);
  });

  it('decides only the endorsements requested', async () => {
    const c = await create(full({ endorsements: ['cryptoCustody'] }));
    expect(statusesOf(c)).toEqual({ cryptoCustody: 'ACTIVE' });
    await expectConsistent(t, t.api, c.id);
  });

  const atCreation: [string, Status, string[]][] = [
    ['Issues', 'ISSUES', ['INACTIVE', 'PENDING', 'ISSUES']],
    ['Rejected', 'REJECTED', ['INACTIVE', 'PENDING', 'REJECTED']],
    ['Pending', 'PENDING', ['INACTIVE', 'PENDING']],
    ['Revoked', 'REVOKED_ISSUES', ['INACTIVE', 'PENDING', 'ACTIVE', 'REVOKED_ISSUES']],
    ['ISSUES', 'ISSUES', ['INACTIVE', 'PENDING', 'ISSUES']],
    ['rEjEcTeD', 'REJECTED', ['INACTIVE', 'PENDING', 'REJECTED']],
    ['pending', 'PENDING', ['INACTIVE', 'PENDING']],
    ['REVOKED', 'REVOKED_ISSUES', ['INACTIVE', 'PENDING', 'ACTIVE', 'REVOKED_ISSUES']],
  ];

  describe.each([
    ['with complete data', (lastName: string) => full({ lastName })],
    ['with nothing but the lastName', (lastName: string) => ({ lastName })],
  ])('at creation, %s', (_label, body) => {
    it.each(atCreation)('lastName %s forces %s', async (lastName, status, path) => {
      const c = await create(body(lastName));
      expect(statusesOf(c)).toEqual(everyName(status));
      for (const e of c.endorsements) {
        if (status === 'ISSUES' || status === 'REVOKED_ISSUES') expect(e.requirements.issues, e.name).toEqual(['identityMismatch']);
        else expect(e.requirements.issues, e.name).toEqual([]);
        if (status === 'REJECTED') {
          expect(e.rejectionReasons, e.name).toEqual([{ developerReason: expect.any(String), reason: expect.any(String) }]);
          expect(e.rejectionReasons[0].developerReason.length).toBeGreaterThan(0);
          expect(e.rejectionReasons[0].reason.length).toBeGreaterThan(0);
        } else {
          expect(e.rejectionReasons, e.name).toEqual([]);
        }
        if (status === 'PENDING') expect(e.requirements.pending, e.name).toContain('manualReview');
      }
      expect(await paths(c.id)).toEqual(everyName(path));
      await expectConsistent(t, t.api, c.id);
    });
  });

  it('requirements are computed from the data even when forced by lastName', async () => {
    const c = await create({ lastName: 'Pending', email: 'p@example.com' });
    const basic = endorsementOf(c, 'basic');
    expect(basic.requirements.complete).toEqual(expect.arrayContaining(['lastName', 'email']));
    expect(basic.requirements.missing).toEqual(expect.arrayContaining(['firstName', 'birthDate', 'signedAgreement']));
    expect(basic.requirements.missing).not.toContain('email');
  });

  describe('PATCH from ACTIVE', () => {
    it.each([
      ['Revoked', 'REVOKED_ISSUES'],
      ['revoked', 'REVOKED_ISSUES'],
      // An ACTIVE endorsement found with issues is revoked: ISSUES is not one step from ACTIVE.
      ['Issues', 'REVOKED_ISSUES'],
    ])('lastName %s moves every endorsement ACTIVE -> %s', async (lastName, status) => {
      const c = await create(full());
      const before = await snapshot(t, t.api, c.id);
      const after = await patchOk(c.id, { lastName });
      expect(statusesOf(after)).toEqual(everyName(status));
      for (const e of after.endorsements) expect(e.requirements.issues).toEqual(['identityMismatch']);
      const written = await since(before, c.id);
      expect(written.history.map((h) => [h.name, h.from_status, h.to_status])).toEqual(NAMES.map((n) => [n, 'ACTIVE', status]));
      expect(written.events.map((e) => e.type).sort()).toEqual(['customer.endorsement.updated', 'customer.endorsement.updated', 'customer.endorsement.updated', 'customer.updated']);
      await expectConsistent(t, t.api, c.id);
    });

    // Spec gap (reported): neither REJECTED nor PENDING is one legal step from ACTIVE, and the
    // sandbox leaves the endorsements ACTIVE rather than chaining through REVOKED_ISSUES.
    it.each(['Rejected', 'Pending'])('lastName %s cannot move an ACTIVE endorsement: it stays ACTIVE, with no endorsement event', async (lastName) => {
      const c = await create(full());
      const before = await snapshot(t, t.api, c.id);
      const after = await patchOk(c.id, { lastName });
      expect(statusesOf(after)).toEqual(everyName('ACTIVE'));
      const written = await since(before, c.id);
      expect(written.history).toEqual([]);
      expect(written.events.map((e) => e.type)).toEqual(['customer.updated']);
      await expectConsistent(t, t.api, c.id);
    });
  });

  describe('PATCH from ISSUES', () => {
    it.each([
      ['Smith', 'ACTIVE', ['PENDING', 'ACTIVE']],
      ['Rejected', 'REJECTED', ['PENDING', 'REJECTED']],
      ['Pending', 'PENDING', ['PENDING']],
      ['Revoked', 'REVOKED_ISSUES', ['PENDING', 'ACTIVE', 'REVOKED_ISSUES']],
      ['issues', 'ISSUES', ['PENDING', 'ISSUES']],
    ])('lastName %s moves ISSUES -> %s', async (lastName, status, steps) => {
      const c = await create(full({ lastName: 'Issues' }));
      const before = await snapshot(t, t.api, c.id);
      const after = await patchOk(c.id, { lastName });
      expect(statusesOf(after)).toEqual(everyName(status));
      if (status === 'ACTIVE') for (const e of after.endorsements) expect(e.requirements).toMatchObject({ issues: [], pending: [], missing: [] });
      expect(await paths(c.id)).toEqual(everyName(['INACTIVE', 'PENDING', 'ISSUES', ...steps]));
      const written = await since(before, c.id);
      const granted = written.events.filter((e) => e.type === 'customer.endorsement.granted');
      expect(granted).toHaveLength(steps.includes('ACTIVE') ? 3 : 0);
      expect(written.events.filter((e) => e.type === 'customer.endorsement.rejected')).toHaveLength(status === 'REJECTED' ? 3 : 0);
      expect(written.events.filter((e) => e.type === 'customer.updated')).toHaveLength(1);
      await expectConsistent(t, t.api, c.id);
    });

    it('a fix of REVOKED_ISSUES goes back through PENDING to ACTIVE', async () => {
      const c = await create(full({ lastName: 'Revoked' }));
      const after = await patchOk(c.id, { lastName: 'Smith', ...PII });
      expect(statusesOf(after)).toEqual(everyName('ACTIVE'));
      expect(await paths(c.id)).toEqual(everyName(['INACTIVE', 'PENDING', 'ACTIVE', 'REVOKED_ISSUES', 'PENDING', 'ACTIVE']));
      await expectConsistent(t, t.api, c.id);
    });

    it('a PATCH that changes nothing moves nothing and emits nothing', async () => {
      const c = await create(full({ lastName: 'Issues' }));
      const before = await snapshot(t, t.api, c.id);
      const same = await t.api.patch(`/v0.9/customers/${c.id}`, { lastName: 'Issues', birthDate: PII.birthDate, metadata: { plan: 'gold' } });
      expect(same.status).toBe(200);
      expect(same.body).toEqual(c);
      const empty = await t.api.patch(`/v0.9/customers/${c.id}`, {});
      expect(empty.body).toEqual(c);
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    it('a PATCH of a field no check reads leaves ISSUES alone', async () => {
      const c = await create(full({ lastName: 'Issues' }));
      const before = await snapshot(t, t.api, c.id);
      const after = await patchOk(c.id, { metadata: { tier: 'x' }, email: 'other@example.com' });
      expect(statusesOf(after)).toEqual(everyName('ISSUES'));
      const written = await since(before, c.id);
      expect(written.history).toEqual([]);
      expect(written.events.map((e) => e.type)).toEqual(['customer.updated']);
    });
  });
});

/**
 * Lastnames and forces that put `basic` in a given status. The matrix below asks for `basic`
 * alone: it is about one endorsement's moves (those that need basic follow it; see
 * 'endorsements that need basic').
 */
async function reach(status: Status, endorsements: string[] = NAMES) {
  const lastName = { INACTIVE: 'Pending', PENDING: 'Pending', ISSUES: 'Issues', ACTIVE: 'Smith', REJECTED: 'Rejected', REVOKED_ISSUES: 'Revoked', OFFBOARDED: 'Smith' }[status];
  let c = await create(full({ lastName, endorsements }));
  if (status === 'INACTIVE') c = await forceOk(c.id, 'basic', { status: 'INACTIVE' });
  if (status === 'OFFBOARDED') c = await forceOk(c.id, 'basic', { status: 'OFFBOARDED' });
  expect(endorsementOf(c, 'basic').status).toBe(status);
  return c;
}

describe('POST /v0.9/sandbox/customers/{id}/endorsements/{name}', () => {
  describe.each(STATUSES)('from %s', (from) => {
    const legal = LEGAL[from];
    const illegal = STATUSES.filter((to) => to !== from && !legal.includes(to));

    if (legal.length > 0) {
      it.each(legal)(`moves ${from} -> %s in one legal step, with its history row and events`, async (to) => {
        const c = await reach(from, ['basic']);
        const before = await snapshot(t, t.api, c.id);
        const body = await forceOk(c.id, 'basic', { status: to });
        expect(endorsementOf(body, 'basic').status).toBe(to);
        expect(Date.parse(endorsementOf(body, 'basic').updatedAt)).toBeGreaterThanOrEqual(Date.parse(endorsementOf(c, 'basic').updatedAt));
        const written = await since(before, c.id);
        if (to === 'OFFBOARDED') {
          expect(body.status).toBe('inactive');
          expect(statusesOf(body)).toEqual({ basic: 'OFFBOARDED' });
          expect(written.history.map((h) => [h.name, h.to_status, h.cause])).toEqual([['basic', 'OFFBOARDED', 'sandbox_control']]);
          expect(written.events.filter((e) => e.type === 'customer.offboarded')).toHaveLength(1);
        } else {
          // Only the named endorsement moves; the customer stays active.
          expect(body.status).toBe('active');
          expect({ ...statusesOf(body), basic: from }).toEqual(statusesOf(c));
          expect(written.history.map((h) => [h.name, h.seq, h.from_status, h.to_status, h.cause])).toEqual([
            ['basic', before.history.filter((h) => h.name === 'basic').length + 1, from, to, 'sandbox_control'],
          ]);
          const expected = ['customer.endorsement.updated', ...(to === 'ACTIVE' ? ['customer.endorsement.granted'] : []), ...(to === 'REJECTED' ? ['customer.endorsement.rejected'] : [])];
          expect(written.events.map((e) => e.type).sort()).toEqual(expected.sort());
          for (const e of written.events) {
            expect(e.data.endorsement).toEqual({ name: 'basic', status: to, previousStatus: from });
            expect(e.data.object).toEqual(body);
          }
        }
        await expectConsistent(t, t.api, c.id);
      });
    }

    if (illegal.length > 0) {
      it.each(illegal)(`refuses ${from} -> %s with 409 conflict and writes nothing`, async (to) => {
        const c = await reach(from, ['basic']);
        const before = await snapshot(t, t.api, c.id);
        const res = await force(t.api, c.id, 'basic', { status: to });
        expect(res.status, res.raw).toBe(409);
        expect(res.body.error.code).toBe('conflict');
        expect(await snapshot(t, t.api, c.id)).toEqual(before);
      });
    }

    it(`forcing ${from} to ${from} is a 200 no-op with no event`, async () => {
      const c = await reach(from, ['basic']);
      const before = await snapshot(t, t.api, c.id);
      const res = await force(t.api, c.id, 'basic', { status: from });
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toEqual(before.customer);
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });
  });

  it('walks ACTIVE -> REVOKED_ISSUES -> PENDING -> ISSUES -> REJECTED -> OFFBOARDED with a gap-free history', async () => {
    const c = await create(full());
    let body = await forceOk(c.id, 'basic', { status: 'REVOKED_ISSUES', issues: ['documentExpired'] });
    expect(endorsementOf(body, 'basic').requirements.issues).toEqual(['documentExpired']);
    body = await forceOk(c.id, 'basic', { status: 'PENDING' });
    expect(endorsementOf(body, 'basic').requirements).toMatchObject({ issues: [] });
    expect(endorsementOf(body, 'basic').requirements.pending).toContain('manualReview');
    body = await forceOk(c.id, 'basic', { status: 'ISSUES', issues: ['underAge', 'invalidTaxId'] });
    expect(endorsementOf(body, 'basic').requirements.issues).toEqual(['underAge', 'invalidTaxId']);
    const reasons = [
      { developerReason: 'Watchlist hit confirmed by the test.', reason: 'We cannot open an account for you.' },
      { developerReason: 'Second reason.', reason: 'Another reason.' },
    ];
    body = await forceOk(c.id, 'basic', { status: 'REJECTED', rejectionReasons: reasons });
    expect(endorsementOf(body, 'basic').rejectionReasons).toEqual(reasons);
    body = await forceOk(c.id, 'basic', { status: 'OFFBOARDED' });
    expect(statusesOf(body)).toEqual(everyName('OFFBOARDED'));
    const history = await historyOf(t, c.id);
    expect(history.filter((h) => h.name === 'basic').map((h) => [h.seq, h.from_status, h.to_status])).toEqual([
      [1, null, 'INACTIVE'],
      [2, 'INACTIVE', 'PENDING'],
      [3, 'PENDING', 'ACTIVE'],
      [4, 'ACTIVE', 'REVOKED_ISSUES'],
      [5, 'REVOKED_ISSUES', 'PENDING'],
      [6, 'PENDING', 'ISSUES'],
      [7, 'ISSUES', 'REJECTED'],
      [8, 'REJECTED', 'OFFBOARDED'],
    ]);
    await expectConsistent(t, t.api, c.id);
  });

  it('uses the sample issues and rejection reason when none are given', async () => {
    const c = await create(full({ lastName: 'Pending' }));
    const rejected = await forceOk(c.id, 'usd', { status: 'REJECTED' });
    expect(endorsementOf(rejected, 'usd').rejectionReasons).toEqual([{ developerReason: expect.any(String), reason: expect.any(String) }]);
    const issues = await forceOk(c.id, 'basic', { status: 'ISSUES' });
    expect(endorsementOf(issues, 'basic').requirements.issues).toEqual(['identityMismatch']);
    expect(endorsementOf(issues, 'usd').status).toBe('REJECTED');
    await expectConsistent(t, t.api, c.id);
  });

  it('clears issues and rejection reasons that no longer apply', async () => {
    const c = await create(full({ lastName: 'Issues' }));
    const body = await forceOk(c.id, 'basic', { status: 'ACTIVE' });
    expect(endorsementOf(body, 'basic').requirements).toMatchObject({ issues: [], pending: [], missing: [] });
    expect(endorsementOf(body, 'basic').rejectionReasons).toEqual([]);
  });

  it('reaches PENDING -> INACTIVE and back INACTIVE -> PENDING -> ACTIVE', async () => {
    const c = await create(full({ lastName: 'Pending' }));
    await forceOk(c.id, 'usd', { status: 'INACTIVE' });
    await forceOk(c.id, 'usd', { status: 'PENDING' });
    const body = await forceOk(c.id, 'usd', { status: 'ACTIVE' });
    expect(statusesOf(body)).toEqual({ basic: 'PENDING', cryptoCustody: 'PENDING', usd: 'ACTIVE' });
    expect(await paths(c.id)).toMatchObject({ usd: ['INACTIVE', 'PENDING', 'INACTIVE', 'PENDING', 'ACTIVE'] });
    await expectConsistent(t, t.api, c.id);
  });

  // Spec 3.2/3.3 as the brief states it: requirements are computed from the data even in
  // sandbox; missing fields are listed but do not gate. A force must not report fields the
  // customer never sent as complete.
  it('keeps listing missing fields after a force to ACTIVE', async () => {
    const c = await create({ lastName: 'Pending' });
    expect(endorsementOf(c, 'basic').requirements.missing).toContain('email');
    const body = await forceOk(c.id, 'basic', { status: 'ACTIVE' });
    const requirements = endorsementOf(body, 'basic').requirements;
    expect(requirements.complete).not.toContain('email');
    expect(requirements.missing).toEqual(expect.arrayContaining(['firstName', 'email', 'birthDate', 'signedAgreement']));
  });

  it('keeps listing missing fields after a force to PENDING', async () => {
    const c = await create({ lastName: 'Issues' });
    expect(endorsementOf(c, 'basic').requirements.missing).toContain('email');
    const body = await forceOk(c.id, 'basic', { status: 'PENDING' });
    expect(endorsementOf(body, 'basic').requirements.missing).toEqual(expect.arrayContaining(['firstName', 'email', 'birthDate', 'signedAgreement']));
  });

  describe('refusals', () => {
    it.each([
      ['issues with an ACTIVE target', 'ISSUES', { status: 'ACTIVE', issues: ['underAge'] }],
      ['issues with a PENDING target', 'ISSUES', { status: 'PENDING', issues: ['underAge'] }],
      ['issues with a REJECTED target', 'ISSUES', { status: 'REJECTED', issues: ['underAge'] }],
      ['rejectionReasons with an ISSUES target', 'PENDING', { status: 'ISSUES', rejectionReasons: [{ developerReason: 'a', reason: 'b' }] }],
      ['an unknown status', 'PENDING', { status: 'APPROVED' }],
      ['no status', 'PENDING', {}],
      ['an unknown issue code', 'PENDING', { status: 'ISSUES', issues: ['badVibes'] }],
      ['empty issues', 'PENDING', { status: 'ISSUES', issues: [] }],
      ['an unknown field', 'PENDING', { status: 'ACTIVE', reason: 'x' }],
    ] as [string, Status, Record<string, unknown>][])('refuses %s with 400 validation_error and writes nothing', async (_label, from, body) => {
      const c = await reach(from);
      const before = await snapshot(t, t.api, c.id);
      const res = await force(t.api, c.id, 'basic', body);
      expect(res.status, res.raw).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    it('a 400 does not hold the Idempotency-Key: the corrected request runs', async () => {
      const c = await reach('PENDING');
      const refused = await force(t.api, c.id, 'basic', { status: 'ACTIVE', issues: ['underAge'] }, 'fix-me-1');
      expect(refused.status).toBe(400);
      const fixed = await force(t.api, c.id, 'basic', { status: 'ACTIVE' }, 'fix-me-1');
      expect(fixed.status, fixed.raw).toBe(200);
      expect(fixed.headers['idempotent-replayed']).toBeUndefined();
      expect(endorsementOf(fixed.body, 'basic').status).toBe('ACTIVE');
    });

    it('requires an Idempotency-Key like every POST', async () => {
      const c = await reach('PENDING');
      const before = await snapshot(t, t.api, c.id);
      const res = await force(t.api, c.id, 'basic', { status: 'ACTIVE' }, null);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('idempotency_key_missing');
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    it('answers 404 for an unknown or malformed customer id', async () => {
      for (const id of ['cst_01jd8x3mc6eskv4hzbmt9hdby7', 'cst_nope', 'wlt_01jd8x3mc6eskv4hzbmt9hdby7']) {
        for (const status of ['ACTIVE', 'OFFBOARDED']) {
          const res = await force(t.api, id, 'basic', { status });
          expect(res.status, `${id} ${status}: ${res.raw}`).toBe(404);
          expect(res.body.error.code).toBe('not_found');
        }
      }
    });

    it("answers 404 for another project's customer and writes nothing", async () => {
      const c = await reach('PENDING');
      const before = await snapshot(t, t.api, c.id);
      const other = await t.client('sandbox');
      for (const status of ['ACTIVE', 'OFFBOARDED']) {
        const res = await force(other, c.id, 'basic', { status });
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    it('answers 404 for an endorsement the customer never requested, and writes nothing', async () => {
      const c = await create(full({ endorsements: ['cryptoCustody'] }));
      const before = await snapshot(t, t.api, c.id);
      for (const status of ['ACTIVE', 'PENDING', 'REVOKED_ISSUES']) {
        const res = await force(t.api, c.id, 'usd', { status });
        expect(res.status, res.raw).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    // Bug (reported): OFFBOARDED is dispatched before the endorsement is looked up, so naming an
    // endorsement the customer never requested offboards the whole customer instead of 404.
    it('answers 404 for an endorsement the customer never requested, also with OFFBOARDED', async () => {
      const c = await create(full({ endorsements: ['cryptoCustody'] }));
      const before = await snapshot(t, t.api, c.id);
      const res = await force(t.api, c.id, 'usd', { status: 'OFFBOARDED' });
      expect(res.status, res.raw).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });

    it('answers for an unknown endorsement name without writing anything', async () => {
      const c = await reach('ACTIVE');
      const before = await snapshot(t, t.api, c.id);
      const res = await force(t.api, c.id, 'gold', { status: 'OFFBOARDED' });
      // A closed set of names, validated as a path parameter: 400 today (404 would do as well).
      expect([400, 404], res.raw).toContain(res.status);
      expect(res.body.error.code).toBe(res.status === 400 ? 'validation_error' : 'not_found');
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    });
  });

  describe('to a live key the endpoint does not exist', () => {
    it('answers 404 not_found, whatever the body or headers, and writes nothing', async () => {
      const live = await t.client('live');
      const liveCustomer = await create(full(), live);
      await settleLive(liveCustomer.id);
      const sandboxCustomer = await reach('PENDING');
      const before = {
        sandbox: await snapshot(t, t.api, sandboxCustomer.id),
        live: await snapshot(t, live, liveCustomer.id),
        keys: (await t.pool.query(`select count(*)::int as n from idempotency_keys where project_id = $1 and mode = 'live'`, [live.credentials.projectId])).rows[0].n,
      };
      const attempts: [string, string, Record<string, unknown>, string | null | undefined][] = [
        [liveCustomer.id, 'basic', { status: 'OFFBOARDED' }, undefined],
        [liveCustomer.id, 'basic', { status: 'REVOKED_ISSUES' }, undefined],
        [liveCustomer.id, 'basic', { status: 'NOPE', extra: true }, undefined],
        [liveCustomer.id, 'basic', { status: 'ACTIVE', issues: ['underAge'] }, undefined],
        [liveCustomer.id, 'basic', { status: 'OFFBOARDED' }, null],
        [liveCustomer.id, 'gold', { status: 'OFFBOARDED' }, undefined],
        [sandboxCustomer.id, 'basic', { status: 'ACTIVE' }, undefined],
        ['cst_01jd8x3mc6eskv4hzbmt9hdby7', 'basic', { status: 'ACTIVE' }, undefined],
      ];
      for (const [id, name, body, key] of attempts) {
        const res = await force(live, id, name, body, key);
        expect(res.status, `${id} ${name} ${JSON.stringify(body)}: ${res.raw}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
      const malformed = await live.request('POST', forceUrl(liveCustomer.id, 'basic'), { payload: '{"status":', headers: { 'content-type': 'application/json' } });
      expect(malformed.status, malformed.raw).toBe(404);
      expect(await snapshot(t, t.api, sandboxCustomer.id)).toEqual(before.sandbox);
      expect(await snapshot(t, live, liveCustomer.id)).toEqual(before.live);
      const keys = (await t.pool.query(`select count(*)::int as n from idempotency_keys where project_id = $1 and mode = 'live'`, [live.credentials.projectId])).rows[0].n;
      expect(keys).toBe(before.keys);
    });

    it("a sandbox key cannot force the same project's live customer", async () => {
      const live = await t.client('live', t.api.credentials.projectId);
      const liveCustomer = await create(full(), live);
      await settleLive(liveCustomer.id);
      const before = await snapshot(t, live, liveCustomer.id);
      const res = await force(t.api, liveCustomer.id, 'basic', { status: 'OFFBOARDED' });
      expect(res.status).toBe(404);
      expect(await snapshot(t, live, liveCustomer.id)).toEqual(before);
    });
  });

  describe('idempotency (spec 1.6)', () => {
    it('replays a force byte for byte, with Idempotent-Replayed and no second event', async () => {
      const c = await reach('PENDING');
      const first = await force(t.api, c.id, 'basic', { status: 'ISSUES', issues: ['underAge'] }, 'force-replay-1');
      expect(first.status).toBe(200);
      const after = await snapshot(t, t.api, c.id);
      const replay = await force(t.api, c.id, 'basic', { status: 'ISSUES', issues: ['underAge'] }, 'force-replay-1');
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.raw).toBe(first.raw);
      expect(await snapshot(t, t.api, c.id)).toEqual(after);
      const updated = (await eventsOf(t, c.id, ['customer.endorsement.updated'])).filter((e) => e.data.endorsement.status === 'ISSUES');
      expect(updated).toHaveLength(1);
      await expectConsistent(t, t.api, c.id);
    });

    it('replays an offboarding without a second customer.offboarded', async () => {
      const c = await reach('ACTIVE');
      const first = await force(t.api, c.id, 'usd', { status: 'OFFBOARDED' }, 'force-replay-2');
      const replay = await force(t.api, c.id, 'usd', { status: 'OFFBOARDED' }, 'force-replay-2');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.raw).toBe(first.raw);
      expect(await eventsOf(t, c.id, ['customer.offboarded'])).toHaveLength(1);
    });

    it('replays a 409 refusal, and refuses the key for a different request with 422', async () => {
      const c = await reach('ACTIVE');
      const refused = await force(t.api, c.id, 'basic', { status: 'PENDING' }, 'force-replay-3');
      expect(refused.status).toBe(409);
      const replay = await force(t.api, c.id, 'basic', { status: 'PENDING' }, 'force-replay-3');
      expect(replay.status).toBe(409);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.raw).toBe(refused.raw);
      const reused = await force(t.api, c.id, 'basic', { status: 'REVOKED_ISSUES' }, 'force-replay-3');
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('idempotency_key_reused');
      expect(endorsementOf((await t.api.get(`/v0.9/customers/${c.id}`)).body, 'basic').status).toBe('ACTIVE');
    });
  });

  // Bug (reported): findCustomer(..., {forUpdate: true}) reads the endorsements in a subquery of
  // the locking statement; after waiting for the lock, READ COMMITTED re-checks the customer row
  // but the subquery still sees the statement's old snapshot, so the second writer decides from
  // stale statuses: history rows PENDING->INACTIVE then PENDING->REJECTED, i.e. an illegal move.
  it('serialises racing forces of one endorsement: each applied move is one legal step', async () => {
    const c = await reach('PENDING');
    raced.add(c.id);
    const targets: Status[] = ['ACTIVE', 'ISSUES', 'INACTIVE', 'REJECTED', 'ACTIVE', 'ISSUES', 'PENDING', 'REVOKED_ISSUES'];
    const results = await Promise.all(targets.map((status) => force(t.api, c.id, 'basic', { status })));
    for (const r of results) expect([200, 409], r.raw).toContain(r.status);
    expect(results.some((r) => r.status === 200)).toBe(true);
    await expectConsistent(t, t.api, c.id);
  });
});

describe('racing writes of one customer (row lock)', () => {
  it('racing PATCHes that move endorsements leave a gap-free history matching the events', async () => {
    const c = await create(full({ lastName: 'Issues' }));
    raced.add(c.id);
    const names = ['Smith', 'Issues', 'Revoked', 'Pending', 'Smith', 'Rejected', 'Issues', 'Smith'];
    const results = await Promise.all(names.map((lastName) => t.api.patch(`/v0.9/customers/${c.id}`, { lastName })));
    for (const r of results) expect(r.status, r.raw).toBe(200);
    await expectConsistent(t, t.api, c.id);
  });

  it('a force racing a PATCH leaves a gap-free history matching the events', async () => {
    const c = await create(full({ lastName: 'Issues' }));
    raced.add(c.id);
    const results = await Promise.all([
      t.api.patch(`/v0.9/customers/${c.id}`, { lastName: 'Smith' }),
      force(t.api, c.id, 'basic', { status: 'REJECTED' }),
      force(t.api, c.id, 'usd', { status: 'PENDING' }),
      force(t.api, c.id, 'cryptoCustody', { status: 'ACTIVE' }),
    ]);
    for (const r of results) expect([200, 409], r.raw).toContain(r.status);
    await expectConsistent(t, t.api, c.id);
  });
});

describe('events and rolled-back writes (spec 6.2, 6.3)', () => {
  it('a PATCH refused with 409 (externalId taken) moves no endorsement and writes no event or history', async () => {
    const taken = uniqueExternalId();
    await create(full({ externalId: taken }));
    for (const [lastName, patch] of [
      ['Smith', { lastName: 'Revoked', externalId: taken }],
      ['Issues', { lastName: 'Smith', externalId: taken }],
      ['Issues', { lastName: 'Rejected', externalId: taken, ...PII }],
      ['Pending', { lastName: 'Smith', externalId: taken }],
    ] as [string, Record<string, unknown>][]) {
      const c = await create(full({ lastName }));
      const before = await snapshot(t, t.api, c.id);
      const res = await t.api.patch(`/v0.9/customers/${c.id}`, patch);
      expect(res.status, res.raw).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expectNoPii(res.raw);
      expect(await snapshot(t, t.api, c.id)).toEqual(before);
    }
  });

  it('a refused PATCH that requests a new endorsement does not create it', async () => {
    const taken = uniqueExternalId();
    await create(full({ externalId: taken }));
    const c = await create(full({ endorsements: ['cryptoCustody'] }));
    const before = await snapshot(t, t.api, c.id);
    const res = await t.api.patch(`/v0.9/customers/${c.id}`, { endorsements: ['usd'], externalId: taken });
    expect(res.status).toBe(409);
    expect(await snapshot(t, t.api, c.id)).toEqual(before);
  });

  // Bug (reported): a PATCH whose only change is a new endorsement writes updated_at = now, but
  // the response (and the customer.updated event) are built from the row as read, with the old
  // updatedAt, so the PATCH response and the next GET disagree.
  it('the response and the customer.updated event of a PATCH that only adds an endorsement agree with GET', async () => {
    const c = await create(full({ endorsements: ['cryptoCustody'] }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const res = await t.api.patch(`/v0.9/customers/${c.id}`, { endorsements: ['usd'] });
    expect(res.status).toBe(200);
    const fetched = (await t.api.get(`/v0.9/customers/${c.id}`)).body;
    const updated = await eventsOf(t, c.id, ['customer.updated']);
    expect(updated).toHaveLength(1);
    expect(updated[0]!.data.object.updatedAt).toBe(fetched.updatedAt);
    expect(res.body).toEqual(fetched);
  });

  it('a PATCH refused with 422 (signedAgreement back to false) moves nothing', async () => {
    const c = await create(full());
    const before = await snapshot(t, t.api, c.id);
    const res = await t.api.patch(`/v0.9/customers/${c.id}`, { lastName: 'Revoked', signedAgreement: false });
    expect(res.status).toBe(422);
    expect(await snapshot(t, t.api, c.id)).toEqual(before);
  });

  it('a PATCH naming an existing endorsement re-evaluates it without a move when nothing changes', async () => {
    const c = await create(full());
    const before = await snapshot(t, t.api, c.id);
    const after = await patchOk(c.id, { endorsements: ['basic'] });
    expect(statusesOf(after)).toEqual(statusesOf(c));
    const written = await since(before, c.id);
    expect(written.history).toEqual([]);
    expect(written.events.filter((e) => ENDORSEMENT_EVENTS.includes(e.type))).toEqual([]);
  });

  it('a PATCH adding an endorsement births it INACTIVE and grants it', async () => {
    const c = await create(full({ endorsements: ['cryptoCustody'] }));
    const res = await t.api.patch(`/v0.9/customers/${c.id}`, { endorsements: ['usd'] });
    expect(res.status).toBe(200);
    expect(statusesOf(res.body)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'ACTIVE' });
    expect((await t.api.get(`/v0.9/customers/${c.id}`)).body.endorsements).toEqual(res.body.endorsements);
    expect(await paths(c.id)).toEqual({ basic: ['INACTIVE', 'PENDING', 'ACTIVE'], cryptoCustody: ['INACTIVE', 'PENDING', 'ACTIVE'], usd: ['INACTIVE', 'PENDING', 'ACTIVE'] });
    await expectConsistent(t, t.api, c.id);
  });
});

describe('endorsements that need basic (spec 3.2)', () => {
  it('are revoked with basic\'s issues when an ACTIVE basic is revoked, each with its own history and events', async () => {
    const c = await create(full());
    const before = await snapshot(t, t.api, c.id);
    const body = await forceOk(c.id, 'basic', { status: 'REVOKED_ISSUES', issues: ['documentExpired'] });
    expect(statusesOf(body)).toEqual(everyName('REVOKED_ISSUES'));
    for (const name of NAMES) expect(endorsementOf(body, name).requirements.issues).toEqual(['documentExpired']);
    const written = await since(before, c.id);
    expect(written.history.map((h) => [h.name, h.from_status, h.to_status])).toEqual(NAMES.map((n) => [n, 'ACTIVE', 'REVOKED_ISSUES']));
    expect(written.events.filter((e) => e.type === 'customer.endorsement.updated')).toHaveLength(3);
    await expectConsistent(t, t.api, c.id);
  });

  it('fall back to INACTIVE, listing basic as missing, when a PENDING basic is rejected', async () => {
    const c = await create(full({ lastName: 'Pending' }));
    const body = await forceOk(c.id, 'basic', { status: 'REJECTED' });
    expect(statusesOf(body)).toEqual({ basic: 'REJECTED', cryptoCustody: 'INACTIVE', usd: 'INACTIVE' });
    expect(endorsementOf(body, 'usd').requirements.missing).toContain('basic');
    await expectConsistent(t, t.api, c.id);
  });

  it('list basic as complete once it is granted', async () => {
    const c = await create(full({ lastName: 'Pending' }));
    expect(endorsementOf(c, 'usd').requirements.pending).toContain('basic');
    const body = await forceOk(c.id, 'basic', { status: 'ACTIVE' });
    expect(endorsementOf(body, 'usd').status).toBe('PENDING');
    expect(endorsementOf(body, 'usd').requirements.complete).toContain('basic');
    expect(endorsementOf(body, 'usd').requirements.pending).not.toContain('basic');
  });
});

describe('offboarding (spec 3.3, 3.4)', () => {
  it('offboards every endorsement whatever its status, makes the customer inactive, and says so once', async () => {
    const c = await create(full());
    // basic ACTIVE, cryptoCustody REJECTED, usd INACTIVE.
    await forceOk(c.id, 'cryptoCustody', { status: 'REVOKED_ISSUES' });
    await forceOk(c.id, 'cryptoCustody', { status: 'REJECTED' });
    await forceOk(c.id, 'usd', { status: 'REVOKED_ISSUES' });
    await forceOk(c.id, 'usd', { status: 'PENDING' });
    const ready = await forceOk(c.id, 'usd', { status: 'INACTIVE' });
    expect(statusesOf(ready)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'REJECTED', usd: 'INACTIVE' });
    const before = await snapshot(t, t.api, c.id);

    const body = await forceOk(c.id, 'cryptoCustody', { status: 'OFFBOARDED' });
    expect(body.status).toBe('inactive');
    expect(statusesOf(body)).toEqual(everyName('OFFBOARDED'));
    for (const e of body.endorsements) expect(e.requirements.pending).toEqual([]);
    const written = await since(before, c.id);
    expect(written.history.map((h) => [h.name, h.from_status, h.to_status, h.cause])).toEqual([
      ['basic', 'ACTIVE', 'OFFBOARDED', 'sandbox_control'],
      ['cryptoCustody', 'REJECTED', 'OFFBOARDED', 'sandbox_control'],
      ['usd', 'INACTIVE', 'OFFBOARDED', 'sandbox_control'],
    ]);
    expect(written.events.map((e) => e.type).sort()).toEqual([
      'customer.endorsement.updated',
      'customer.endorsement.updated',
      'customer.endorsement.updated',
      'customer.offboarded',
    ]);
    const offboarded = written.events.find((e) => e.type === 'customer.offboarded')!;
    expect(offboarded.data.object).toEqual(body);

    const list = async (status: string) => (await t.api.get(`/v0.9/customers?status=${status}&limit=100`)).body.data.map((x: { id: string }) => x.id);
    expect(await list('inactive')).toContain(c.id);
    expect(await list('active')).not.toContain(c.id);
    const listed = (await t.api.get(`/v0.9/customers?status=inactive&limit=100`)).body.data.find((x: { id: string }) => x.id === c.id);
    expect(listed).toEqual(body);

    // A second offboarding, through any endorsement, is a no-op.
    const settled = await snapshot(t, t.api, c.id);
    for (const name of ['basic', 'usd']) {
      const again = await force(t.api, c.id, name, { status: 'OFFBOARDED' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(body);
    }
    expect(await snapshot(t, t.api, c.id)).toEqual(settled);

    // OFFBOARDED is terminal.
    for (const status of ['ACTIVE', 'PENDING', 'INACTIVE', 'ISSUES', 'REJECTED', 'REVOKED_ISSUES']) {
      const res = await force(t.api, c.id, 'basic', { status });
      expect(res.status, `${status}: ${res.raw}`).toBe(409);
      expect(res.body.error.code).toBe('conflict');
    }
    expect(await snapshot(t, t.api, c.id)).toEqual(settled);
    await expectConsistent(t, t.api, c.id);
  });

  it('a PATCH of a check input after offboarding moves no endorsement', async () => {
    const c = await reach('OFFBOARDED');
    const before = await snapshot(t, t.api, c.id);
    const after = await patchOk(c.id, { lastName: 'Smithers', ...PII });
    expect(after.status).toBe('inactive');
    expect(statusesOf(after)).toEqual(everyName('OFFBOARDED'));
    const written = await since(before, c.id);
    expect(written.history).toEqual([]);
    expect(written.events.filter((e) => ENDORSEMENT_EVENTS.includes(e.type))).toEqual([]);
    await expectConsistent(t, t.api, c.id);
  });

  // Spec 3.3: an offboarded customer "keeps no ACTIVE endorsement". Requesting a new
  // endorsement afterwards must not grant it (bug, reported: it is born and granted).
  it('an offboarded customer gains no ACTIVE endorsement by requesting a new one', async () => {
    const c = await create(full({ endorsements: ['cryptoCustody'] }));
    await forceOk(c.id, 'cryptoCustody', { status: 'OFFBOARDED' });
    const res = await t.api.patch(`/v0.9/customers/${c.id}`, { endorsements: ['usd'] });
    const after = (await t.api.get(`/v0.9/customers/${c.id}`)).body;
    expect(after.status).toBe('inactive');
    expect(after.endorsements.filter((e: { status: string }) => e.status === 'ACTIVE'), res.raw).toEqual([]);
    expect(await eventsOf(t, c.id, ['customer.endorsement.granted'])).toHaveLength(1); // cryptoCustody's, before offboarding
  });

  it('offboards a customer whose endorsements are still INACTIVE or PENDING', async () => {
    const c = await create(full({ lastName: 'Pending' }));
    await forceOk(c.id, 'basic', { status: 'INACTIVE' });
    const body = await forceOk(c.id, 'usd', { status: 'OFFBOARDED' });
    expect(statusesOf(body)).toEqual(everyName('OFFBOARDED'));
    expect(body.status).toBe('inactive');
    expect(await eventsOf(t, c.id, ['customer.endorsement.granted'])).toEqual([]);
    await expectConsistent(t, t.api, c.id);
  });
});

describe('invariants over every customer this file created', () => {
  it('history is gap-free and matches the events one for one, for every customer', async () => {
    expect(created.length).toBeGreaterThan(50);
    for (const id of created.filter((id) => !raced.has(id))) await expectConsistent(t, t.api, id);
  });

  it('no PII value in any event or history row', async () => {
    const events = await t.pool.query(`select data::text as text from events`);
    for (const row of events.rows) expectNoPii(row.text);
    const history = await t.pool.query(`select row_to_json(h)::text as text from endorsement_history h`);
    expect(history.rows.length).toBeGreaterThan(0);
    for (const row of history.rows) expectNoPii(row.text);
  });
});
