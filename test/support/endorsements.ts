import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { expectNoPii } from './fixtures.js';
import type { ApiClient, ApiResponse, TestApp } from './harness.js';

/**
 * Black-box helpers for endorsement tests: the HTTP calls, and SQL reads of what a change
 * leaves behind (its history rows and its events), to prove what must and must not happen.
 */

export const STATUSES = ['INACTIVE', 'PENDING', 'ISSUES', 'ACTIVE', 'REJECTED', 'REVOKED_ISSUES', 'OFFBOARDED'] as const;
export type Status = (typeof STATUSES)[number];

/** The legal one-step moves of spec 3.3 (the state machine's edges); anything else is refused. */
export const LEGAL: Readonly<Record<Status, readonly Status[]>> = {
  INACTIVE: ['PENDING', 'OFFBOARDED'],
  PENDING: ['INACTIVE', 'ISSUES', 'ACTIVE', 'REJECTED', 'OFFBOARDED'],
  ISSUES: ['PENDING', 'ACTIVE', 'REJECTED', 'OFFBOARDED'],
  ACTIVE: ['REVOKED_ISSUES', 'OFFBOARDED'],
  REJECTED: ['OFFBOARDED'],
  REVOKED_ISSUES: ['PENDING', 'ACTIVE', 'REJECTED', 'OFFBOARDED'],
  OFFBOARDED: [],
};

export const CAUSES = ['customer_update', 'check_result', 'operator', 'sandbox_control'];

export interface HistoryRow {
  name: string;
  seq: number;
  from_status: string | null;
  to_status: string;
  cause: string;
}

export interface EventRow {
  id: string;
  type: string;
  data: any;
}

export function uniqueExternalId(): string {
  return `ext_${randomBytes(6).toString('hex')}`;
}

export function forceUrl(customerId: string, name: string): string {
  return `/v0.9/sandbox/customers/${customerId}/endorsements/${name}`;
}

export function force(api: ApiClient, customerId: string, name: string, body: Record<string, unknown>, idempotencyKey?: string | null): Promise<ApiResponse> {
  return api.post(forceUrl(customerId, name), body, idempotencyKey === undefined ? {} : { idempotencyKey });
}

export function statusesOf(customer: { endorsements: { name: string; status: string }[] }): Record<string, string> {
  return Object.fromEntries(customer.endorsements.map((e) => [e.name, e.status]));
}

export function endorsementOf(customer: { endorsements: { name: string }[] }, name: string): any {
  const found = customer.endorsements.find((e) => e.name === name);
  if (!found) throw new Error(`no ${name} endorsement in ${JSON.stringify(customer.endorsements)}`);
  return found;
}

export async function historyOf(t: TestApp, customerId: string): Promise<HistoryRow[]> {
  const { rows } = await t.pool.query<HistoryRow>(
    `select name, seq, from_status, to_status, cause from endorsement_history where customer_id = $1 order by name, seq`,
    [customerId],
  );
  return rows;
}

/** Every event whose object is this customer, oldest first. */
export async function eventsOf(t: TestApp, customerId: string, types?: readonly string[]): Promise<EventRow[]> {
  const { rows } = await t.pool.query<EventRow>(`select id, type, data from events where data->'object'->>'id' = $1 order by created_at, id`, [customerId]);
  return types ? rows.filter((r) => types.includes(r.type)) : rows;
}

export const ENDORSEMENT_EVENTS = ['customer.endorsement.updated', 'customer.endorsement.granted', 'customer.endorsement.rejected'];

/** What a write may leave behind about one customer: its state, its history, its events. */
export async function snapshot(t: TestApp, api: ApiClient, customerId: string) {
  const [customer, history, events] = await Promise.all([api.get(`/v0.9/customers/${customerId}`), historyOf(t, customerId), eventsOf(t, customerId)]);
  return { customer: customer.body, history, events: events.map((e) => `${e.type} ${e.id}`) };
}

const move = (name: string, from: string | null, to: string) => `${name}: ${from} -> ${to}`;

/**
 * Spec 3.3 and 6.3 as invariants over one customer:
 * - history: per endorsement seq 1..n, seq 1 is the INACTIVE birth (from null), each later row
 *   starts where the previous ended, the last one is the current status, causes are known;
 * - events: exactly one `customer.endorsement.updated` per history row after the birth, one
 *   `granted` per move to ACTIVE, one `rejected` per move to REJECTED, and no other kind;
 * - no PII value in any of the customer's events or history rows.
 */
export async function expectConsistent(t: TestApp, api: ApiClient, customerId: string): Promise<void> {
  const current = (await api.get(`/v0.9/customers/${customerId}`)).body;
  const history = await historyOf(t, customerId);
  const names = current.endorsements.map((e: { name: string }) => e.name).sort();
  expect([...new Set(history.map((h) => h.name))].sort(), 'every endorsement has a history, and only those').toEqual(names);
  for (const endorsement of current.endorsements as { name: string; status: string }[]) {
    const rows = history.filter((h) => h.name === endorsement.name);
    const where = `${customerId} ${endorsement.name}: ${JSON.stringify(rows)}`;
    expect(rows.map((r) => r.seq), where).toEqual(rows.map((_, i) => i + 1));
    expect(rows[0]!.from_status, where).toBeNull();
    expect(rows[0]!.to_status, where).toBe('INACTIVE');
    for (let k = 1; k < rows.length; k++) {
      expect(rows[k]!.from_status, where).toBe(rows[k - 1]!.to_status);
      expect(LEGAL[rows[k]!.from_status as Status], `${where}: illegal move recorded`).toContain(rows[k]!.to_status);
    }
    expect(rows.at(-1)!.to_status, where).toBe(endorsement.status);
    for (const r of rows) expect(CAUSES, where).toContain(r.cause);
  }

  const events = await eventsOf(t, customerId);
  const endorsementEvents = events.filter((e) => e.type.startsWith('customer.endorsement.'));
  for (const e of endorsementEvents) expect(ENDORSEMENT_EVENTS, `unknown event type ${e.type}`).toContain(e.type);
  const moves = history.filter((h) => h.seq > 1);
  const ofType = (type: string) =>
    endorsementEvents
      .filter((e) => e.type === type)
      .map((e) => move(e.data.endorsement.name, e.data.endorsement.previousStatus, e.data.endorsement.status))
      .sort();
  const where = `${customerId}: history ${JSON.stringify(moves)}`;
  expect(ofType('customer.endorsement.updated'), where).toEqual(moves.map((h) => move(h.name, h.from_status, h.to_status)).sort());
  expect(ofType('customer.endorsement.granted'), where).toEqual(
    moves.filter((h) => h.to_status === 'ACTIVE').map((h) => move(h.name, h.from_status, h.to_status)).sort(),
  );
  expect(ofType('customer.endorsement.rejected'), where).toEqual(
    moves.filter((h) => h.to_status === 'REJECTED').map((h) => move(h.name, h.from_status, h.to_status)).sort(),
  );
  for (const e of endorsementEvents) {
    expect(Object.keys(e.data).sort()).toEqual(['endorsement', 'object']);
    expect(Object.keys(e.data.endorsement).sort()).toEqual(['name', 'previousStatus', 'status']);
    expect(e.data.object.id).toBe(customerId);
    expect(e.data.object.object).toBe('customer');
    // The object shows the endorsement as the move left it (or later in the same change).
    expect(e.data.object.endorsements.map((x: { name: string }) => x.name)).toContain(e.data.endorsement.name);
  }
  expectNoPii(JSON.stringify(events));
  expectNoPii(JSON.stringify(history));
}
