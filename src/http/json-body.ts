import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { DomainError } from '../domain/errors.js';

/**
 * The JSON body parser, replacing Fastify's so that each refusal says what is wrong: an empty
 * body, malformed JSON, or a prototype-poisoning key (__proto__, constructor.prototype).
 */
export function parseJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(new DomainError('validation_error', 'the request body is empty; send a JSON object'), undefined);
    try {
      done(null, secureJson.parse(text, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      const poisoned = /forbidden prototype property/.test((err as Error).message);
      done(
        new DomainError('validation_error', poisoned ? 'the request body has a forbidden key (__proto__ or constructor.prototype)' : 'the request body is not valid JSON'),
        undefined,
      );
    }
  });
}
