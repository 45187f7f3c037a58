import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { DomainError } from '../../domain/errors.js';
import { errorResponses } from '../../http/route-docs.js';
import type { FailureCounter } from '../../http/rate-limit.js';
import { Timestamp } from '../../http/schema-helpers.js';
import type { TokenService } from './tokens.service.js';

const TokenRequest = Type.Object(
  {
    apiKey: Type.String({ minLength: 1, maxLength: 128, examples: ['sk_sdbx_…'] }),
    apiSecret: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

const TokenResponse = Type.Object({
  accessToken: Type.String({ description: 'RS256 JWT' }),
  tokenType: Type.Literal('bearer'),
  expiresIn: Type.Integer({ examples: [3600] }),
  expiresAt: Timestamp,
});

const Jwks = Type.Object({
  keys: Type.Array(
    Type.Object({ kty: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String(), n: Type.String(), e: Type.String() }),
  ),
});

/** The unauthenticated routes of token issuance (spec 1.2). */
export function authRoutes(tokens: TokenService, failures: FailureCounter): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v0.9/auth/token',
      {
        schema: {
          operationId: 'createAccessToken',
          summary: 'Exchange an API key and secret for an access token',
          tags: ['Authentication'],
          security: [],
          body: TokenRequest,
          response: { 200: TokenResponse, ...errorResponses(400, 401, 429) },
        },
      },
      async (request) => {
        const { apiKey, apiSecret } = request.body;
        const wait = failures.blockedFor(apiKey);
        if (wait > 0) throw new DomainError('rate_limited', 'too many failed attempts for this apiKey', undefined, wait);
        try {
          return await tokens.issue(apiKey, apiSecret);
        } catch (err) {
          if (err instanceof DomainError && err.code === 'invalid_credentials') failures.record(apiKey);
          throw err;
        }
      },
    );

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          operationId: 'getJwks',
          summary: 'Public keys that verify access tokens',
          tags: ['Authentication'],
          security: [],
          response: { 200: Jwks },
        },
      },
      async (_request, reply) => {
        // Short, because a rotated key signs at once: verifiers must see it soon.
        reply.header('cache-control', 'public, max-age=60');
        return { keys: await tokens.publishedKeys() };
      },
    );
  };
}
