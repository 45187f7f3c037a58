import fs from 'node:fs/promises';
import path from 'node:path';
import { validate } from '@scalar/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderOpenApiDocument } from '../src/openapi-document.js';
import { packageRoot } from '../src/package-root.js';
import { startTestApp, type TestApp } from './support/harness.js';

type Operation = {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
};

let t: TestApp;
let doc: { paths: Record<string, Record<string, Operation>> };
beforeAll(async () => {
  t = await startTestApp();
  doc = (await t.anonymous.get('/openapi.json')).body;
});
afterAll(() => t.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ name: `${method.toUpperCase()} ${p}`, method, path: p, op })));

describe('the OpenAPI document', () => {
  it('matches the committed openapi/openapi.json (run `npm run openapi` after changing a route)', async () => {
    const committed = await fs.readFile(path.join(packageRoot, 'openapi', 'openapi.json'), 'utf8');
    expect(await renderOpenApiDocument()).toBe(committed);
    expect(JSON.parse(committed)).toEqual(doc);
  });

  it('is valid OpenAPI 3.1', async () => {
    const result = await validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('gives every operation an operationId, summary and tag', () => {
    for (const { name, op } of operations()) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary, name).toBeTruthy();
      expect(op.tags?.length, name).toBeGreaterThan(0);
    }
    const ids = operations().map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents 401 on every authenticated operation and the error envelope on every 4xx/5xx', () => {
    for (const { name, op } of operations()) {
      const authenticated = !(Array.isArray(op.security) && op.security.length === 0);
      if (authenticated) expect(Object.keys(op.responses), name).toContain('401');
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 400) expect(response.content?.['application/json']?.schema.$ref, `${name} ${status}`).toBe('#/components/schemas/ErrorResponse');
      }
    }
  });

  it('documents the Idempotency-Key header on every POST of the OMS API except the token exchange', () => {
    for (const { name, method, path: p, op } of operations()) {
      // Spec 1.6 covers the OMS API; the operator endpoints (/admin/v1) are audited decisions instead.
      if (method !== 'post' || p === '/v0.9/auth/token' || !p.startsWith('/v0.9/')) continue;
      expect(op.parameters?.some((param) => param.in === 'header' && param.name === 'idempotency-key'), name).toBe(true);
    }
  });

  it('never documents a PII field in a response, except the audited operator compliance record', () => {
    const shown = operations().filter((o) => o.path !== '/admin/v1/customers/{customerId}/compliance');
    const responses = JSON.stringify(shown.map((o) => o.op.responses)) + JSON.stringify((doc as { components?: { schemas?: { Customer?: unknown } } }).components?.schemas?.Customer);
    for (const field of ['birthDate', 'residentialAddress', 'ipAddress', 'identifyingInformation']) {
      expect(responses.includes(`"${field}":`), field).toBe(false);
    }
  });

  it('renders the API reference at /docs', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('/openapi.json');
  });
});
