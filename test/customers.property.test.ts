import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoPii, PII } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';

/**
 * Spec 2.3 as a model: a customer is created, then patched by a random sequence of bodies.
 * An in-memory model applies each body by the rules of the spec; after every step the API's
 * GET must agree with the model, and a refused PATCH must leave the customer exactly as it was.
 * Endorsement statuses and identifyingInformation are not modelled: the first belongs to the
 * compliance rules (3.3), the second is write-only.
 */

const PROFILE_FIELDS = ['firstName', 'middleName', 'lastName', 'email', 'phone', 'nationality', 'externalId'] as const;
type ProfileField = (typeof PROFILE_FIELDS)[number];
type Endorsement = 'basic' | 'cryptoCustody' | 'usd';

interface Model {
  profile: Record<ProfileField, string | null>;
  signedAgreement: boolean;
  /** Learned from the server the first time the agreement is signed; it must never move after. */
  signedAgreementAt: string | null;
  metadata: Record<string, string>;
  endorsements: Set<Endorsement>;
}

/** Which externalId a step asks for; resolved per run so that runs never collide with each other. */
type ExternalIdChoice = 'mine-a' | 'mine-b' | 'padded-mine-a' | 'current' | 'rival' | 'padded-rival';

interface Step {
  profile: Partial<Record<Exclude<ProfileField, 'externalId'>, string>>;
  externalId?: ExternalIdChoice;
  signedAgreement?: boolean;
  metadata?: Record<string, string | null>;
  endorsements?: Endorsement[];
  pii: Record<string, unknown>;
  /** A part the spec refuses with 400 whatever else the body holds. */
  poison?: [string, unknown];
}

const padded = (values: string[]) => fc.tuple(fc.constantFrom(...values), fc.constantFrom('', ' ', '  \t')).map(([v, pad]) => `${pad}${v}${pad}`);
const profileValues: Record<Exclude<ProfileField, 'externalId'>, fc.Arbitrary<string>> = {
  firstName: padded(['Jane', 'Zoë', '李', 'Ann-Marie']),
  middleName: padded(['Quinn', 'de la', 'Ó']),
  lastName: padded(['Smith', 'Núñez', "O'Brien"]),
  email: padded(['jane@example.com', 'z.o+tag@example.org']),
  phone: padded(['+12125551234', '+447911123456']),
  nationality: fc.constantFrom('US', 'GB', 'FR', 'JP'),
};

// A small key space, so that sets, overwrites, removals and the 50-key limit all happen.
const metadataKey = fc.integer({ min: 0, max: 69 }).map((i) => `k${i}`);
const metadataPatch = fc.dictionary(
  metadataKey,
  fc.oneof({ arbitrary: fc.constantFrom('a', 'b', 'c d'), weight: 4 }, { arbitrary: fc.constant(null), weight: 1 }),
  { minKeys: 1, maxKeys: 30, size: 'max' },
);
const endorsementNames = fc.subarray<Endorsement>(['basic', 'cryptoCustody', 'usd']);

const piiParts = fc.record(
  {
    birthDate: fc.constantFrom(PII.birthDate, '1990-12-31'),
    ipAddress: fc.constantFrom(PII.ipAddress, '2001:db8::1'),
    residentialAddress: fc.constantFrom(PII.residentialAddress, { line1: '1 Rue de Rivoli', city: 'Paris', country: 'FR', zipCode: '75001' }),
    identifyingInformation: fc.subarray([
      PII.identifyingInformation[0]!,
      { type: 'ssn', issuingCountry: 'US', number: '123-45-6789' },
      { type: 'passport', issuingCountry: 'FR', number: '19AB12345', expiresOn: '2031-01-01' },
    ]),
  },
  { requiredKeys: [] },
);

const poisons = fc.constantFrom<[string, unknown]>(
  ['id', 'cst_01jd8x3mc6eskv4hzbmt9hdby7'],
  ['object', 'customer'],
  ['status', 'inactive'],
  ['signedAgreementAt', '2026-01-01T00:00:00Z'],
  ['wallets', []],
  ['createdAt', '2026-01-01T00:00:00Z'],
  ['updatedAt', '2026-01-01T00:00:00Z'],
  ['type', 'business'],
  ['nickname', 'JJ'],
  ['email', 'not-an-email'],
  ['phone', '212-555-1234'],
  ['nationality', 'XX'],
  ['firstName', 42],
  ['lastName', 'x'.repeat(256)],
  ['signedAgreement', 'true'],
  ['birthDate', '2999-01-01'],
  ['ipAddress', '300.1.1.1'],
  ['endorsements', ['gold']],
  ['metadata', { a: 1 }],
  ['metadata', { ['k'.repeat(41)]: 'v' }],
  ['metadata', { a: 'v'.repeat(501) }],
);

const step: fc.Arbitrary<Step> = fc.record(
  {
    profile: fc.record(profileValues, { requiredKeys: [] }),
    // A quarter of the draws take the rival's externalId (409); the rest are this customer's own.
    externalId: fc.constantFrom<ExternalIdChoice>('mine-a', 'mine-b', 'padded-mine-a', 'current', 'mine-a', 'mine-b', 'rival', 'padded-rival'),
    // Mostly true: a false after signing is always refused, and refusals teach little after the first.
    signedAgreement: fc.constantFrom(true, true, true, false),
    metadata: metadataPatch,
    endorsements: endorsementNames,
    pii: piiParts,
    poison: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: poisons, weight: 1 }),
  },
  { requiredKeys: ['profile', 'pii', 'poison'] },
);

const initial = fc.record(
  {
    profile: fc.record(profileValues, { requiredKeys: [] }),
    withExternalId: fc.boolean(),
    signedAgreement: fc.boolean(),
    metadata: fc.dictionary(metadataKey, fc.constantFrom('a', 'b'), { maxKeys: 45 }),
    endorsements: endorsementNames,
  },
  { requiredKeys: ['profile', 'withExternalId'] },
);

/** Spec 2.2: usd brings basic; endorsements are only ever added. */
function withImplied(names: Iterable<Endorsement>): Set<Endorsement> {
  const set = new Set(names);
  if (set.has('usd')) set.add('basic');
  return set;
}

function trimmedProfile(values: Partial<Record<ProfileField, string>>): Partial<Record<ProfileField, string>> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.trim()]));
}

let t: TestApp;
let rivalExternalId: string;
let runs = 0;

beforeAll(async () => {
  t = await startTestApp();
  rivalExternalId = `rival-${Date.now()}`;
  const rival = await t.api.post('/v0.9/customers', { externalId: rivalExternalId });
  expect(rival.status).toBe(201);
});
afterAll(() => t.close());

/** The API's view of the customer, against the model. */
function expectAgrees(customer: Record<string, any>, model: Model): void {
  for (const field of PROFILE_FIELDS) expect(customer[field], field).toBe(model.profile[field]);
  expect(customer.signedAgreement).toBe(model.signedAgreement);
  if (model.signedAgreement) expect(customer.signedAgreementAt).toBe(model.signedAgreementAt);
  else expect(customer.signedAgreementAt).toBeNull();
  expect(customer.metadata).toEqual(model.metadata);
  expect(customer.endorsements.map((e: { name: string }) => e.name).sort()).toEqual([...model.endorsements].sort());
  expect(customer.status).toBe('active');
  expectNoPii(JSON.stringify(customer));
}

/** Records signedAgreementAt the first time the server reports the agreement signed. */
function learnSignedAt(model: Model, customer: Record<string, any>, notBefore: string): void {
  if (!model.signedAgreement || model.signedAgreementAt !== null) return;
  expect(customer.signedAgreementAt, 'signedAgreementAt is set when the agreement is first signed').toEqual(expect.any(String));
  expect(Date.parse(customer.signedAgreementAt)).toBeGreaterThanOrEqual(Date.parse(notBefore) - 1000);
  expect(Date.parse(customer.signedAgreementAt)).toBeLessThanOrEqual(Date.now() + 1000);
  model.signedAgreementAt = customer.signedAgreementAt;
}

describe('PATCH /v0.9/customers/{id} against a model of spec 2.3', () => {
  it('agrees with the model after every step, and refusals change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(initial, fc.array(step, { minLength: 3, maxLength: 25, size: 'medium' }), async (start, steps) => {
        const tag = `run${++runs}-${Date.now()}`;
        const mine = { 'mine-a': `${tag}-a`, 'mine-b': `${tag}-b` };

        const createBody: Record<string, unknown> = { ...start.profile, ...(start.withExternalId ? { externalId: ` ${mine['mine-a']} ` } : {}) };
        if (start.signedAgreement !== undefined) createBody.signedAgreement = start.signedAgreement;
        if (start.metadata !== undefined) createBody.metadata = start.metadata;
        if (start.endorsements !== undefined) createBody.endorsements = start.endorsements;
        const created = await t.api.post('/v0.9/customers', createBody);
        expect(created.status, created.raw).toBe(201);

        const model: Model = {
          profile: { ...Object.fromEntries(PROFILE_FIELDS.map((f) => [f, null])), ...trimmedProfile(start.profile), ...(start.withExternalId ? { externalId: mine['mine-a'] } : {}) } as Model['profile'],
          signedAgreement: start.signedAgreement ?? false,
          signedAgreementAt: null,
          metadata: { ...start.metadata },
          endorsements: withImplied(start.endorsements ?? ['cryptoCustody', 'usd']),
        };
        learnSignedAt(model, created.body, created.body.createdAt);
        expectAgrees(created.body, model);
        const url = `/v0.9/customers/${created.body.id}`;
        let before = (await t.api.get(url)).body;
        expect(before).toEqual(created.body);

        for (const s of steps) {
          const externalId = s.externalId === undefined ? undefined
            : s.externalId === 'current' ? (model.profile.externalId ?? mine['mine-a'])
            : s.externalId === 'padded-mine-a' ? `  ${mine['mine-a']} `
            : s.externalId === 'rival' ? rivalExternalId
            : s.externalId === 'padded-rival' ? ` ${rivalExternalId}\t`
            : mine[s.externalId];
          const body: Record<string, unknown> = { ...s.profile, ...s.pii };
          if (externalId !== undefined) body.externalId = externalId;
          if (s.signedAgreement !== undefined) body.signedAgreement = s.signedAgreement;
          if (s.metadata !== undefined) body.metadata = s.metadata;
          if (s.endorsements !== undefined) body.endorsements = s.endorsements;
          if (s.poison) body[s.poison[0]] = s.poison[1];

          // What the spec says this body must meet, in the model's current state.
          const merged = { ...model.metadata, ...s.metadata };
          for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
          const refusals = [
            ...(s.poison || Object.keys(merged).length > 50 ? ['400 validation_error'] : []),
            ...(typeof body.externalId === 'string' && body.externalId.trim() === rivalExternalId ? ['409 conflict'] : []),
            ...(body.signedAgreement === false && model.signedAgreement ? ['422 signed_agreement_irreversible'] : []),
          ];

          const res = await t.api.patch(url, body);
          const after = (await t.api.get(url)).body;
          const what = `${JSON.stringify(body).slice(0, 400)} -> ${res.raw.slice(0, 200)}`;
          expectNoPii(res.raw);

          if (refusals.length > 0) {
            // When a body breaks two rules, the spec does not say which one is reported.
            expect(refusals, what).toContain(`${res.status} ${res.body?.error?.code}`);
            expect(after, `a refused PATCH changed the customer: ${what}`).toEqual(before);
            continue;
          }

          expect(res.status, what).toBe(200);
          Object.assign(model.profile, trimmedProfile({ ...s.profile, ...(externalId !== undefined ? { externalId } : {}) }));
          if (s.signedAgreement) model.signedAgreement = true;
          model.metadata = merged as Record<string, string>;
          model.endorsements = withImplied([...model.endorsements, ...(s.endorsements ?? [])]);
          learnSignedAt(model, res.body, before.updatedAt);

          expect(res.body, what).toEqual(after);
          expectAgrees(after, model);
          expect([after.id, after.type, after.createdAt]).toEqual([before.id, before.type, before.createdAt]);
          expect(Date.parse(after.updatedAt)).toBeGreaterThanOrEqual(Date.parse(before.updatedAt));
          before = after;
        }
      }),
      { numRuns: 100 },
    );
  });
});
