import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient, TestApp } from './harness.js';

/**
 * Helpers for the live-mode endorsement tests: customers whose data the local verification
 * provider finds clean (or not, on purpose), polling for an endorsement status with a
 * deadline, and readers for what the engine leaves behind (history, events, jobs, log lines).
 *
 * The PII values here are distinctive, so a hit when searching any output is a leak. The
 * addresses are in the documentation ranges the bundled ip-country table maps:
 * 192.0.2.0/24 US, 198.51.100.0/25 DE, 198.51.100.128/25 KP, 203.0.113.0/24 IR.
 */

export const NAMES = ['basic', 'cryptoCustody', 'usd'] as const;
export type Name = (typeof NAMES)[number];

export interface Endorsement {
  name: Name;
  status: string;
  requirements: { complete: string[]; pending: string[]; missing: string[]; issues: string[] };
  rejectionReasons: unknown[];
  updatedAt: string;
}

export const CHECKS = ['identityVerification', 'sanctionsScreening', 'jurisdictionCheck'];

/** YYYY-MM-DD, `years` years and `days` days before today (UTC). */
export function dateAgo(years: number, days = 0): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate() - days)).toISOString().slice(0, 10);
}

/** YYYY-MM-DD, `years` years after today (UTC). */
export function dateAhead(years: number): string {
  return dateAgo(-years);
}

/** Write-only values of a clean US resident; every one distinctive enough to search for. */
export const LIVE_PII = {
  birthDate: '1968-11-23',
  ipAddress: '192.0.2.187',
  residentialAddress: {
    line1: 'Zqline 4417 Marigold Crescent',
    line2: 'Zqsuite 31',
    city: 'Zqcity Albany',
    state: 'Zqstate',
    country: 'US',
    zipCode: '12207',
  },
  identifyingInformation: [{ type: 'ssn' as const, issuingCountry: 'US', number: '287-65-4312' }],
};

/** Values to search outputs for: every write-only value above, plus those of the other fixtures below. */
export const LIVE_PII_VALUES = [
  LIVE_PII.birthDate,
  LIVE_PII.ipAddress,
  LIVE_PII.residentialAddress.line1,
  LIVE_PII.residentialAddress.line2,
  LIVE_PII.residentialAddress.city,
  LIVE_PII.residentialAddress.state,
  LIVE_PII.identifyingInformation[0]!.number,
  '287654312',
];

/** A complete, clean live US customer (all three default endorsements can be granted). */
export function cleanUsCustomer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    firstName: 'Maren',
    lastName: 'Oakhurst',
    email: 'maren.oakhurst@example.com',
    phone: '+12125550143',
    nationality: 'US',
    signedAgreement: true,
    ...LIVE_PII,
    ...overrides,
  };
}

/** A complete, clean live resident of Germany: a passport instead of a tax id, a DE address and IP. */
export function cleanDeCustomer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    firstName: 'Ilse',
    lastName: 'Brenntal',
    email: 'ilse.brenntal@example.com',
    phone: '+4930901820',
    nationality: 'DE',
    signedAgreement: true,
    birthDate: '1979-04-16',
    ipAddress: '198.51.100.23',
    residentialAddress: { line1: 'Zqstrasse 12', city: 'Zqberlin', country: 'DE', zipCode: '10115' },
    identifyingInformation: [{ type: 'passport', issuingCountry: 'DE', number: 'ZQC4711PX', expiresOn: dateAhead(5) }],
    ...overrides,
  };
}

export function byName(customer: { endorsements: Endorsement[] }): Record<string, Endorsement> {
  return Object.fromEntries(customer.endorsements.map((e) => [e.name, e]));
}

export function statuses(customer: { endorsements: Endorsement[] }): Record<string, string> {
  return Object.fromEntries(customer.endorsements.map((e) => [e.name, e.status]));
}

/** Polls `probe` until `done` holds, or fails with the last value seen once the deadline passes. */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

export async function getCustomer(client: ApiClient, id: string): Promise<any> {
  const res = await client.get(`/v0.9/customers/${id}`);
  if (res.status !== 200) throw new Error(`GET ${id}: ${res.status} ${res.raw}`);
  return res.body;
}

/** GETs the customer until every named endorsement has the status given. */
export async function untilStatuses(client: ApiClient, id: string, expected: Record<string, string>, timeoutMs = 10_000): Promise<any> {
  return until(
    () => getCustomer(client, id),
    (c) => Object.entries(expected).every(([name, status]) => statuses(c)[name] === status),
    `${id} to reach ${JSON.stringify(expected)}`,
    timeoutMs,
  );
}

export const allThree = (status: string) => ({ basic: status, cryptoCustody: status, usd: status });

/** The structured log lines written so far. */
export function logLines(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** 'evaluation finished' lines, for one customer when given. */
export function evaluationsLogged(text: string, customerId?: string): Record<string, any>[] {
  return logLines(text).filter((l) => l.msg === 'evaluation finished' && (customerId === undefined || l.customerId === customerId));
}

/** Waits until the worker has finished `count` evaluations of the customer. */
export async function untilEvaluated(t: TestApp, customerId: string, count = 1, timeoutMs = 10_000): Promise<Record<string, any>[]> {
  return until(
    async () => evaluationsLogged(t.logs(), customerId),
    (lines) => lines.length >= count,
    `${count} evaluation(s) of ${customerId}`,
    timeoutMs,
  );
}

export interface HistoryRow {
  name: string;
  seq: number;
  from_status: string | null;
  to_status: string;
  cause: string;
  at: Date;
}

export async function historyOf(t: TestApp, customerId: string): Promise<HistoryRow[]> {
  const { rows } = await t.pool.query<HistoryRow>(
    'select name, seq, from_status, to_status, cause, at from endorsement_history where customer_id = $1 order by name, seq',
    [customerId],
  );
  return rows;
}

/** One endorsement's history as "FROM>TO:cause" steps (the birth as ">INACTIVE:customer_update"). */
export async function stepsOf(t: TestApp, customerId: string, name: Name): Promise<string[]> {
  return (await historyOf(t, customerId)).filter((r) => r.name === name).map((r) => `${r.from_status ?? ''}>${r.to_status}:${r.cause}`);
}

export interface EventRow {
  id: string;
  type: string;
  data: any;
  created_at: Date;
}

export async function eventsOf(t: TestApp, customerId: string, types?: string[]): Promise<EventRow[]> {
  const { rows } = await t.pool.query<EventRow>(
    `select id, type, data, created_at from events where data->'object'->>'id' = $1 order by created_at, id`,
    [customerId],
  );
  return types ? rows.filter((r) => types.includes(r.type)) : rows;
}

/** customer.endorsement.updated events as "name:FROM>TO". */
export async function endorsementMovesOf(t: TestApp, customerId: string): Promise<string[]> {
  return (await eventsOf(t, customerId, ['customer.endorsement.updated'])).map(
    (e) => `${e.data.endorsement.name}:${e.data.endorsement.previousStatus}>${e.data.endorsement.status}`,
  );
}

export async function jobsOf(t: TestApp, customerId: string): Promise<{ job_id: string; claimed_by: string | null }[]> {
  const { rows } = await t.pool.query('select job_id, claimed_by from evaluation_jobs where customer_id = $1', [customerId]);
  return rows;
}

export async function createLive(client: ApiClient, body: Record<string, unknown>): Promise<any> {
  const res = await client.post('/v0.9/customers', body);
  if (res.status !== 201) throw new Error(`POST /customers: ${res.status} ${res.raw}`);
  return res.body;
}

export async function patchLive(client: ApiClient, id: string, body: Record<string, unknown>): Promise<any> {
  const res = await client.patch(`/v0.9/customers/${id}`, body);
  if (res.status !== 200) throw new Error(`PATCH ${id} ${JSON.stringify(Object.keys(body))}: ${res.status} ${res.raw}`);
  return res.body;
}
