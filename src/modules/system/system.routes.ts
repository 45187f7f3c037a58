import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import Type from 'typebox';
import type { Db } from '../../db/database.js';
import { DomainError } from '../../domain/errors.js';
import { errorResponses } from '../../http/route-docs.js';

const Status = Type.Object({ status: Type.Literal('ok') });

/** Probes for orchestrators: the process is up; the database answers. */
export function systemRoutes(db: Db): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      { schema: { operationId: 'health', summary: 'The process is up', tags: ['System'], security: [], response: { 200: Status } } },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          operationId: 'ready',
          summary: 'The database is reachable',
          tags: ['System'],
          security: [],
          response: { 200: Status, ...errorResponses(503) },
        },
      },
      async () => {
        try {
          await sql`select 1`.execute(db);
        } catch {
          throw new DomainError('service_unavailable', 'the database is not reachable', undefined, 1);
        }
        return { status: 'ok' as const };
      },
    );
  };
}
