import Fastify from 'fastify';
import pg from 'pg';

/**
 * The floor: the least a server can do for GET and PATCH /v0.9/customers/{id}, one
 * primary-key SELECT or UPDATE on the same `customers` table, with no auth, validation,
 * encryption, idempotency, events or logging. The real server is measured against it.
 * The pool has the real server's default size so both have the same database concurrency.
 */
const url = process.env.FLOOR_DATABASE_URL;
const projectId = process.env.FLOOR_PROJECT_ID;
const port = Number(process.env.PORT);
if (!url || !projectId || !port) throw new Error('FLOOR_DATABASE_URL, FLOOR_PROJECT_ID and PORT are required');
const mode = 'sandbox';

const pool = new pg.Pool({ connectionString: url, max: 10 });
const app = Fastify({ logger: false });

/** The sealed bytea columns are not part of any answer (and would dominate serialisation). */
function publicView(row: Record<string, unknown>) {
  const { pii_sealed: _pii, data_key_sealed: _key, ...rest } = row;
  return rest;
}

app.get<{ Params: { id: string } }>('/v0.9/customers/:id', async (request, reply) => {
  const { rows } = await pool.query('select * from customers where project_id = $1 and mode = $2 and id = $3', [
    projectId,
    mode,
    request.params.id,
  ]);
  if (rows.length === 0) return reply.code(404).send({ error: 'not found' });
  return publicView(rows[0]);
});

app.patch<{ Params: { id: string }; Body: { firstName?: string } }>('/v0.9/customers/:id', async (request, reply) => {
  const { rows } = await pool.query(
    'update customers set first_name = $4, updated_at = now() where project_id = $1 and mode = $2 and id = $3 returning *',
    [projectId, mode, request.params.id, request.body.firstName ?? null],
  );
  if (rows.length === 0) return reply.code(404).send({ error: 'not found' });
  return publicView(rows[0]);
});

app.get('/readyz', async () => {
  await pool.query('select 1');
  return { status: 'ok' };
});

await app.listen({ port, host: '127.0.0.1' });
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
