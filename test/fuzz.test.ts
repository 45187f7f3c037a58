import { isIP } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoPii, fullCustomer } from './support/fixtures.js';
import { startTestApp, type ApiClient, type ApiResponse, type TestApp } from './support/harness.js';

/**
 * Random and mangled bodies against the two write routes. The oracle below is written from
 * spec 1.8, 1.9, 2.1 and 2.3, not from the server's schemas: it says whether a body is
 * certainly valid, certainly invalid, or in a corner the spec leaves open ('either'), where
 * both a 2xx and a 400 are acceptable. Whatever the verdict, a 5xx is a failure.
 */

const RUNS = 1000;

/** Spec 1.8: each code with the one status it may come with. */
const ERROR_STATUS: Record<string, number> = {
  validation_error: 400, idempotency_key_missing: 400, unauthorized: 401, invalid_credentials: 401, not_found: 404,
  method_not_allowed: 405, idempotency_key_in_use: 409, conflict: 409, payload_too_large: 413, unsupported_media_type: 415,
  idempotency_key_reused: 422, endorsement_required: 422, customer_inactive: 422, insufficient_funds: 422, quote_expired: 422,
  quote_not_open: 422, signed_agreement_irreversible: 422, unsupported_asset: 422, rate_limited: 429, internal_error: 500,
  service_unavailable: 503,
};

type Verdict = 'valid' | 'either' | 'invalid';
const worst = (verdicts: Verdict[]): Verdict => (verdicts.includes('invalid') ? 'invalid' : verdicts.includes('either') ? 'either' : 'valid');

const PROFILE_FIELDS = ['firstName', 'middleName', 'lastName', 'externalId'] as const;
const READ_ONLY = ['id', 'object', 'status', 'signedAgreementAt', 'wallets', 'createdAt', 'updatedAt'];
const SURELY_COUNTRIES = ['US', 'GB', 'DE', 'FR', 'JP', 'BR', 'NG', 'IN', 'MX', 'CA', 'KE', 'SG'];
const ENDORSEMENTS = ['basic', 'cryptoCustody', 'usd'];
const DOCUMENT_TYPES = ['ssn', 'itin', 'driversLicense', 'passport', 'nationalId'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const codePoints = (s: string) => [...s].length;
const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
/** Characters some trim implementations remove and JavaScript's does not, or the reverse. */
const doubtfulEdge = /^[\u0085\u180e\u200b-\u200d\u2060]|[\u0085\u180e\u200b-\u200d\u2060]$/;

/** "strings trimmed and ≤ 255 characters" (2.3). Length in code points or UTF-16 units is not said. */
function text(v: unknown, max = 255, softMax = max): Verdict {
  if (typeof v !== 'string') return 'invalid';
  const s = v.trim();
  // PostgreSQL text cannot hold NUL, and a lone surrogate cannot round-trip through UTF-8.
  if (s.includes('\u0000') || !wellFormed(s) || doubtfulEdge.test(s)) return 'either';
  if (s.length === 0) return 'either';
  if (codePoints(s) > softMax) return 'invalid';
  if (s.length > max || codePoints(s) > max || v.length > softMax) return 'either';
  return 'valid';
}

function country(v: unknown): Verdict {
  if (typeof v !== 'string') return 'invalid';
  if (SURELY_COUNTRIES.includes(v)) return 'valid';
  // Some two-letter codes are assigned, some reserved; the spec only says "codes that exist".
  return /^\s*[A-Z]{2}\s*$/.test(v) ? 'either' : 'invalid';
}

function email(v: unknown): Verdict {
  const base = text(v);
  if (base === 'invalid' || typeof v !== 'string') return 'invalid';
  const s = v.trim();
  if (!s.includes('@')) return 'invalid';
  return base === 'valid' && /^[a-z0-9._+-]{1,40}@[a-z0-9-]{1,30}(\.[a-z0-9-]{1,20})*\.[a-z]{2,10}$/i.test(s) && !/\.\.|^\.|\.@|@-/.test(s) ? 'valid' : 'either';
}

function phone(v: unknown): Verdict {
  if (typeof v !== 'string') return 'invalid';
  const s = v.trim();
  if (!/^\+[1-9]\d{1,14}$/.test(s)) return 'invalid';
  // Syntax is E.164; whether a number plan must exist is left open, so only real ones are surely valid.
  return /^\+1[2-9]\d{2}[2-9]\d{6}$|^\+44[1-9]\d{9}$|^\+49[1-9]\d{9,10}$/.test(s) && s === v ? 'valid' : 'either';
}

function isRealDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!));
  return d.getUTCFullYear() === +m[1]! && d.getUTCMonth() === +m[2]! - 1 && d.getUTCDate() === +m[3]!;
}

function birthDate(v: unknown): Verdict {
  if (typeof v !== 'string') return 'invalid';
  if (!isRealDate(v)) return isRealDate(v.trim()) ? 'either' : 'invalid';
  const age = (Date.now() - Date.parse(v)) / 86_400_000;
  if (age < -2) return 'invalid';
  // Time zones blur "past" by a day; very old dates may be refused as implausible.
  return age < 2 || v < '1900-01-01' ? 'either' : 'valid';
}

function ipAddress(v: unknown): Verdict {
  if (typeof v !== 'string') return 'invalid';
  if (v.includes('%') || v !== v.trim() || /(^|[.:])0\d/.test(v)) return 'either';
  return isIP(v) !== 0 ? 'valid' : 'invalid';
}

function residentialAddress(v: unknown): Verdict {
  if (!isObject(v)) return 'invalid';
  const fields = ['line1', 'line2', 'city', 'state', 'country', 'zipCode'];
  const verdicts = Object.entries(v).map(([k, x]): Verdict => (!fields.includes(k) ? 'invalid' : k === 'country' ? country(x) : text(x, k === 'zipCode' ? 20 : 255, 255)));
  // Which address lines are required is not said; line2 is optional by nature.
  const missing = fields.filter((f) => f !== 'line2' && !(f in v));
  return worst([...verdicts, missing.length ? 'either' : 'valid']);
}

function identifyingInformation(v: unknown): Verdict {
  if (!Array.isArray(v)) return 'invalid';
  const verdicts = v.map((entry): Verdict => {
    if (!isObject(entry)) return 'invalid';
    if (!('type' in entry && 'issuingCountry' in entry && 'number' in entry)) return 'invalid';
    return worst(Object.entries(entry).map(([k, x]): Verdict => {
      switch (k) {
        case 'type': return DOCUMENT_TYPES.includes(x as string) ? 'valid' : 'invalid';
        case 'issuingCountry': return country(x);
        case 'number': return text(x, 64, 255);
        case 'expiresOn': return typeof x === 'string' && isRealDate(x) ? 'valid' : 'invalid';
        default: return 'invalid';
      }
    }));
  });
  return worst([...verdicts, v.length > 10 ? 'either' : 'valid']);
}

function endorsements(v: unknown): Verdict {
  if (!Array.isArray(v)) return 'invalid';
  if (!v.every((x) => ENDORSEMENTS.includes(x as string))) return 'invalid';
  return new Set(v).size === v.length ? 'valid' : 'either';
}

/** Spec 1.9. On PATCH a null value removes the key; current is the stored metadata. */
function metadata(v: unknown, patch: boolean, current: Record<string, string>): Verdict {
  if (v === null) return 'either';
  if (!isObject(v)) return 'invalid';
  const entries = Object.entries(v);
  if (entries.length > 50) return 'invalid';
  const verdicts = entries.map(([k, x]): Verdict => {
    // The server refuses prototype-poisoning keys anywhere in a body (README: Validation).
    if (k === '__proto__') return 'invalid';
    if (k.length === 0 || !wellFormed(k) || k.includes('\u0000')) return 'either';
    if (codePoints(k) > 40) return 'invalid';
    if (k.length > 40) return 'either';
    if (x === null) return patch ? 'valid' : 'either';
    if (typeof x !== 'string') return 'invalid';
    if (x.includes('\u0000') || !wellFormed(x) || x.trim().length === 0 || x !== x.trim()) return 'either';
    if (codePoints(x) > 500) return 'invalid';
    return x.length > 500 ? 'either' : 'valid';
  });
  const merged = { ...(patch ? current : {}), ...v };
  const size = Object.values(merged).filter((x) => x !== null).length;
  return worst([...verdicts, size > 50 ? 'invalid' : 'valid']);
}

interface Judgement {
  verdict: Verdict;
  /** Refusals a valid body may still meet: a duplicate externalId, an attempt to unsign. */
  refusal?: 'conflict' | 'signed_agreement_irreversible';
}

function judge(body: unknown, route: 'POST' | 'PATCH', current: Record<string, any>): Judgement {
  // No body at all: the quickstart posts {}, and an empty PATCH changes nothing; either reading is fair.
  if (body === undefined) return { verdict: 'either' };
  if (!isObject(body)) return { verdict: 'invalid' };
  const verdicts = Object.entries(body).map(([k, v]): Verdict => {
    switch (k) {
      case 'type': return v === 'individual' ? (route === 'POST' ? 'valid' : 'either') : 'invalid';
      case 'firstName': case 'middleName': case 'lastName': case 'externalId': return text(v);
      case 'email': return email(v);
      case 'phone': return phone(v);
      case 'nationality': return country(v);
      case 'signedAgreement': return typeof v === 'boolean' ? 'valid' : 'invalid';
      case 'birthDate': return birthDate(v);
      case 'ipAddress': return ipAddress(v);
      case 'residentialAddress': return residentialAddress(v);
      case 'identifyingInformation': return identifyingInformation(v);
      case 'endorsements': return endorsements(v);
      case 'metadata': return metadata(v, route === 'PATCH', current.metadata ?? {});
      default: return 'invalid';
    }
  });
  const verdict = worst(verdicts);
  if (route === 'PATCH' && body.signedAgreement === false && current.signedAgreement === true) return { verdict, refusal: 'signed_agreement_irreversible' };
  // Within one run, POSTs may draw an externalId an earlier run already took; the PATCH project holds one customer.
  if (route === 'POST' && 'externalId' in body) return { verdict, refusal: 'conflict' };
  return { verdict };
}

function expectEnvelope(res: ApiResponse): void {
  expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-z]{26}$/);
  if (res.status < 400) return;
  expect(Object.keys(res.body)).toEqual(['error']);
  const { code, message, requestId } = res.body.error;
  expect(ERROR_STATUS[code], `unknown error code ${code}`).toBe(res.status);
  expect(typeof message).toBe('string');
  expect(requestId).toBe(res.headers['x-request-id']);
}

/** The verdict, checked against what the server did. */
function expectOutcome(res: ApiResponse, judgement: Judgement, success: number): void {
  expect(res.status, res.raw.slice(0, 300)).toBeLessThan(500);
  expectEnvelope(res);
  const { verdict, refusal } = judgement;
  const allowed =
    verdict === 'invalid'
      ? ['400 validation_error']
      : [
          refusal === 'signed_agreement_irreversible' ? '422 signed_agreement_irreversible' : `${success}`,
          ...(refusal === 'conflict' ? ['409 conflict'] : []),
          ...(verdict === 'either' ? ['400 validation_error'] : []),
        ];
  const got = res.status === success ? `${success}` : `${res.status} ${res.body?.error?.code}`;
  expect(allowed, `${verdict} body answered ${res.raw.slice(0, 300)}`).toContain(got);
}

/**
 * A 2xx carries back what was sent, trimmed: accepting a value and storing another (a NUL
 * dropped, a lone surrogate turned into U+FFFD) would be silent corruption.
 */
function expectEchoes(res: ApiResponse, body: unknown, previousMetadata: Record<string, string>): void {
  if (res.status >= 300 || !isObject(body)) return;
  const faithful = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && !doubtfulEdge.test(v.trim());
  for (const field of [...PROFILE_FIELDS, 'email', 'phone', 'nationality'] as const) {
    if (faithful(body[field])) expect(res.body[field], field).toBe(body[field].trim());
  }
  const metadata = body.metadata;
  if (isObject(metadata) && Object.values(metadata).every((v) => v === null || faithful(v))) {
    const expected: Record<string, string> = { ...previousMetadata };
    for (const [k, v] of Object.entries(metadata)) {
      if (v === null) delete expected[k];
      else expected[k] = (v as string).trim();
    }
    expect(res.body.metadata, 'metadata').toEqual(expected);
  }
  if (body.signedAgreement === true) expect(res.body.signedAgreement).toBe(true);
  for (const field of ['birthDate', 'residentialAddress', 'ipAddress', 'identifyingInformation']) expect(res.body).not.toHaveProperty(field);
}

// ---- generators -------------------------------------------------------------------------

const unicodeText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('Zoë', 'Łukasz', '李小龍', 'Ñúñez', 'O\'Brien', 'José María', '🦊', 'a\u0301', 'ﷺ', '\u202eevil', ' padded ', '\t\n', ''),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'a\udfffb', '\u200bx\u200b', '\ufeffx'),
  // Either side of the 255-character limit, in units and in code points.
  fc.constantFrom('x'.repeat(255), 'x'.repeat(256), ` ${'x'.repeat(255)} `, 'é'.repeat(255), '😀'.repeat(128), '😀'.repeat(256)),
);
const hugeText = fc.integer({ min: 250, max: 70_000 }).chain((n) => fc.constantFrom('x', 'é', '😀', ' ').map((c) => c.repeat(n)));
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(null, true, 0, -1, 1e308, '', [], {}, [[[[]]]], { $ne: null }, '__proto__'),
  unicodeText,
  hugeText,
  fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.array(tie('node'), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 3 }), tie('node'), { maxKeys: 2 })) })).node,
);

const validText = fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z' -]{0,30}[a-z]$/), fc.constantFrom('Zoë', 'Łukasz', '李小龍', 'Ñúñez'));
const validAddress = fc.record(
  { line1: validText, line2: validText, city: validText, state: validText, country: fc.constantFrom(...SURELY_COUNTRIES), zipCode: fc.stringMatching(/^[0-9]{5}$/) },
  { requiredKeys: ['line1', 'city', 'country', 'state', 'zipCode'] },
);
const validDocument = fc.record(
  { type: fc.constantFrom(...DOCUMENT_TYPES), issuingCountry: fc.constantFrom(...SURELY_COUNTRIES), number: fc.stringMatching(/^[A-Z0-9-]{4,20}$/), expiresOn: fc.constantFrom('2031-07-15', '2020-01-31') },
  { requiredKeys: ['type', 'issuingCountry', 'number'] },
);
const validMetadata = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/), validText, { maxKeys: 8 });

function validBody(route: 'POST' | 'PATCH') {
  return fc.record(
    {
      ...(route === 'POST' ? { type: fc.constant('individual') } : {}),
      firstName: validText,
      middleName: validText,
      lastName: validText,
      email: fc.stringMatching(/^[a-z]{1,10}@[a-z]{2,10}\.(com|org|io)$/),
      phone: fc.stringMatching(/^\+1[2-9]\d{2}[2-9]\d{6}$/),
      nationality: fc.constantFrom(...SURELY_COUNTRIES),
      externalId: fc.stringMatching(/^[a-z0-9_-]{1,40}$/),
      signedAgreement: route === 'POST' ? fc.boolean() : fc.constant(true),
      birthDate: fc.date({ min: new Date('1930-01-01'), max: new Date('2005-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
      ipAddress: fc.oneof(fc.ipV4(), fc.ipV6()),
      residentialAddress: validAddress,
      identifyingInformation: fc.uniqueArray(validDocument, { maxLength: 3, selector: (d) => `${d.type}/${d.issuingCountry}` }),
      endorsements: fc.subarray(ENDORSEMENTS),
      metadata: validMetadata,
    },
    { requiredKeys: [] },
  );
}

const FIELDS = ['type', 'firstName', 'middleName', 'lastName', 'email', 'phone', 'nationality', 'externalId', 'signedAgreement', 'birthDate', 'ipAddress', 'residentialAddress', 'identifyingInformation', 'endorsements', 'metadata'];

type Mutation = (body: Record<string, unknown>) => Record<string, unknown>;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...FIELDS).map((f): Mutation => ({ [f]: _dropped, ...rest }) => rest),
  fc.tuple(fc.constantFrom(...FIELDS), junk).map(([f, v]): Mutation => (b) => ({ ...b, [f]: v })),
  fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(unicodeText, hugeText)).map(([f, v]): Mutation => (b) => ({ ...b, [f]: v })),
  fc.tuple(fc.oneof(fc.constantFrom(...READ_ONLY, '__proto__', 'constructor', 'Email', 'first_name', ''), fc.string({ maxLength: 12 })), junk).map(([f, v]): Mutation => (b) => {
    const out = { ...b };
    Object.defineProperty(out, f, { value: v, enumerable: true, configurable: true, writable: true });
    return out;
  }),
  fc.tuple(fc.constantFrom('residentialAddress', 'identifyingInformation', 'metadata'), fc.string({ maxLength: 10 }), junk).map(([f, k, v]): Mutation => (b) => {
    const inner = b[f];
    if (Array.isArray(inner) && inner.length > 0) return { ...b, [f]: [{ ...inner[0], [k]: v }, ...inner.slice(1)] };
    return { ...b, [f]: isObject(inner) ? { ...inner, [k]: v } : { [k]: v } };
  }),
  fc.integer({ min: 45, max: 60 }).map((n): Mutation => (b) => ({ ...b, metadata: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])) })),
);
const mutated = (route: 'POST' | 'PATCH') =>
  fc.tuple(validBody(route), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([body, ms]) => ms.reduce((b, m) => m(b), body as Record<string, unknown>));

/** Payloads that are not a JSON object, or not JSON at all, with the answer the spec gives. */
interface Raw { payload: string; contentType?: string; expect: number | 'json' }
const rawPayload: fc.Arbitrary<Raw> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }).map((payload): Raw => ({ payload, expect: 'json' })),
  fc.tuple(validBody('POST'), fc.nat()).map(([b, n]): Raw => {
    const s = JSON.stringify(b);
    return { payload: s.slice(0, n % Math.max(1, s.length)), expect: 'json' };
  }),
  fc.constantFrom<Raw>(
    { payload: "{'firstName': 'Ann'}", expect: 400 },
    { payload: '{"firstName": "Ann",}', expect: 400 },
    { payload: '{"firstName": NaN}', expect: 400 },
    { payload: '\ufeff{}', expect: 'json' },
    { payload: '{"a":1}{"b":2}', expect: 400 },
    { payload: '{"__proto__": {"status": "inactive"}}', expect: 400 },
    { payload: '{"constructor": {"prototype": {"x": 1}}}', expect: 400 },
    { payload: `${'['.repeat(5000)}${']'.repeat(5000)}`, expect: 400 },
    { payload: `{"metadata":${'{"a":'.repeat(3000)}"x"${'}'.repeat(3000)}}`, expect: 400 },
    { payload: 'null', expect: 400 },
    { payload: '', expect: 400 },
    { payload: '{"firstName": "Ann"}', contentType: 'text/plain', expect: 415 },
    { payload: 'firstName=Ann', contentType: 'application/x-www-form-urlencoded', expect: 415 },
    { payload: '<customer/>', contentType: 'application/xml', expect: 415 },
    { payload: '\x00\x01\x02', contentType: 'application/octet-stream', expect: 415 },
    { payload: JSON.stringify({ firstName: 'x'.repeat(1024 * 1024) }), expect: 413 },
  ),
);

/** Always tried, whatever the random draw: characters PostgreSQL cannot store, and the limits' edges. */
const HOSTILE: Record<string, unknown>[] = [
  { firstName: 'a\u0000b' },
  { externalId: '\u0000' },
  { metadata: { plan: 'x\u0000' } },
  { metadata: { 'k\u0000': 'x' } },
  { lastName: 'x\udfffy' },
  { metadata: { plan: '\ud800' } },
  { firstName: 'x'.repeat(255), lastName: 'é'.repeat(255) },
  { firstName: 'x'.repeat(256) },
  { middleName: '😀'.repeat(256) },
  { metadata: { ['k'.repeat(40)]: 'v'.repeat(500) } },
  { metadata: { ['k'.repeat(41)]: 'v' } },
];

function parseOrFail(payload: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(payload) };
  } catch {
    return { ok: false };
  }
}

// ---- the properties ---------------------------------------------------------------------

let t: TestApp;
let patcher: ApiClient;
let target: Record<string, any>;

beforeAll(async () => {
  t = await startTestApp();
  // PATCHes go to a project of their own, holding one customer, so no externalId can clash.
  patcher = await t.client('sandbox');
  const created = await patcher.post('/v0.9/customers', { firstName: 'Fuzz', metadata: { plan: 'gold' } });
  expect(created.status).toBe(201);
  target = created.body;
});
afterAll(() => t.close());

/** Sends a body, checks the verdict, and keeps the PATCH target's state current. */
async function attempt(route: 'POST' | 'PATCH', body: unknown): Promise<void> {
  const sent = body === undefined ? undefined : JSON.parse(JSON.stringify(body) ?? 'null');
  const judgement = judge(sent, route, target);
  const res = route === 'POST' ? await t.api.post('/v0.9/customers', sent) : await patcher.patch(`/v0.9/customers/${target.id}`, sent);
  expectOutcome(res, judgement, route === 'POST' ? 201 : 200);
  expectEchoes(res, sent, route === 'POST' ? {} : target.metadata);
  if (route === 'PATCH' && res.status === 200) target = res.body;
}

async function attemptRaw(route: 'POST' | 'PATCH', raw: Raw): Promise<void> {
  const url = route === 'POST' ? '/v0.9/customers' : `/v0.9/customers/${target.id}`;
  const client = route === 'POST' ? t.api : patcher;
  const res = await client.request(route, url, { payload: raw.payload, headers: { 'content-type': raw.contentType ?? 'application/json' } });
  expect(res.status, res.raw.slice(0, 300)).toBeLessThan(500);
  expectEnvelope(res);
  if (raw.expect === 'json') {
    const parsed = parseOrFail(raw.payload.replace(/^\ufeff/, ''));
    if (!parsed.ok || raw.payload.trim() === '') {
      expect([res.status, res.body?.error?.code], res.raw.slice(0, 300)).toEqual([400, 'validation_error']);
      return;
    }
    const judgement = judge(parsed.value, route, target);
    // A byte-order mark is tolerated by some JSON parsers and not others.
    expectOutcome(res, raw.payload.startsWith('\ufeff') ? { ...judgement, verdict: worst([judgement.verdict, 'either']) } : judgement, route === 'POST' ? 201 : 200);
    if (route === 'PATCH' && res.status === 200) target = res.body;
    return;
  }
  expect(res.status, res.raw.slice(0, 300)).toBe(raw.expect);
}

describe.each(['POST', 'PATCH'] as const)('%s fuzzing', (route) => {
  it('survives arbitrary JSON values', async () => {
    const body = fc.oneof(fc.anything(), fc.jsonValue(), fc.object(), fc.dictionary(fc.constantFrom(...FIELDS), junk));
    await fc.assert(fc.asyncProperty(body, (b) => attempt(route, b)), { numRuns: RUNS });
  });

  it('judges mutations of a valid body', async () => {
    const examples = HOSTILE.map((b): [Record<string, unknown>] => [b]);
    await fc.assert(fc.asyncProperty(mutated(route), (b) => attempt(route, b)), { numRuns: RUNS, examples });
  });

  it('accepts every valid body', async () => {
    // Without this, an oracle that called everything invalid would pass the two properties above.
    await fc.assert(fc.asyncProperty(validBody(route), (b) => attempt(route, b)), { numRuns: RUNS / 4 });
  });

  it('refuses raw malformed payloads cleanly', async () => {
    await fc.assert(fc.asyncProperty(rawPayload, (raw) => attemptRaw(route, raw)), { numRuns: RUNS });
  });

  it('keeps PII out of the error bodies', async () => {
    const body = fullCustomer({ firstName: 42, externalId: undefined });
    const res = route === 'POST' ? await t.api.post('/v0.9/customers', body) : await patcher.patch(`/v0.9/customers/${target.id}`, body);
    expect(res.status).toBe(400);
    expectNoPii(res.raw);
  });
});
