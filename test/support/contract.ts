import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { CUSTOM_FORMATS } from '../../src/http/validation.js';

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema: object }> }> }>>;
  components?: object;
}

/**
 * Checks every response a test receives against the response schema the OpenAPI document
 * declares for that path, method and status; an undocumented status is a failure too.
 */
export function createContractChecker(doc: OpenApiDoc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const [name, validate] of Object.entries(CUSTOM_FORMATS)) ajv.addFormat(name, { type: 'string', validate });
  const routes = Object.entries(doc.paths).map(([template, operations]) => ({
    pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    operations,
  }));
  const compiled = new Map<string, ValidateFunction>();

  return function check(method: string, url: string, status: number, body: unknown): void {
    const path = url.split('?')[0]!;
    const route = routes.find((r) => r.pattern.test(path));
    if (!route) {
      // Unknown paths answer with the error envelope; they have no operation to check against.
      if (status === 404 || status === 405) return checkEnvelope(body);
      throw new Error(`no documented path for ${method} ${path}`);
    }
    const operation = route.operations[method.toLowerCase()];
    if (!operation) {
      if (status === 405) return checkEnvelope(body);
      throw new Error(`${method} ${path} answered ${status} but the method is not documented`);
    }
    const response = operation.responses?.[String(status)];
    if (!response) {
      if (status === 503 || status === 500 || status === 413 || status === 415) return checkEnvelope(body);
      throw new Error(`${method} ${path} answered ${status}, which its OpenAPI operation does not document`);
    }
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return;
    const key = `${method} ${path} ${status}`;
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile({ ...schema, components: doc.components });
      compiled.set(key, validate);
    }
    if (!validate(body)) {
      throw new Error(`${method} ${path} ${status} does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
    }
  };

  function checkEnvelope(body: unknown): void {
    const e = (body as { error?: { code?: unknown; message?: unknown; requestId?: unknown } })?.error;
    if (typeof e?.code !== 'string' || typeof e.message !== 'string' || typeof e.requestId !== 'string') {
      throw new Error(`not an error envelope: ${JSON.stringify(body)}`);
    }
  }
}
