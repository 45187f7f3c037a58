import type { SwaggerOptions } from '@fastify/swagger';
import scalar from '@scalar/fastify-api-reference';
import type { FastifyPluginAsync } from 'fastify';

/** The OpenAPI document is generated from the route schemas; this is its frame. */
export const openApiDocument: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Open Money Stack API (oms-server)',
      version: '0.9',
      description:
        'A self-hosted, stateful implementation of the OMS v0.9 API. Authenticate with POST /v0.9/auth/token, ' +
        'then send the access token as a Bearer token. Every POST except /auth/token needs an Idempotency-Key.',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearerAuth: [] }],
  },
  refResolver: {
    buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
  },
};

export const openApiRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI 3.1 document',
        tags: ['System'],
        security: [],
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => app.swagger(),
  );
  await app.register(scalar, { routePrefix: '/docs', configuration: { url: '/openapi.json', title: 'OMS API reference' } });
};
