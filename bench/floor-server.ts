import Fastify from 'fastify';
import pg from 'pg';

/**
 * The floor: the least a server can do for each measured route, on the same tables, with
 * no auth, validation, encryption, idempotency, events or logging: a primary-key SELECT or
 * UPDATE of a customer, one journal entry with its two postings for a deposit (the
 * database's ledger triggers included), one SELECT of a balance. The real server is
 * measured against it.
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

/** A wallet's ledger accounts, looked up once: the floor's deposit is the bare entry-and-postings insert. */
const accounts = new Map<string, { wallet: string; external: string; asset: string }>();
async function accountsOf(walletId: string) {
  let found = accounts.get(walletId);
  if (!found) {
    const { rows } = await pool.query(
      `select w.id as wallet, x.id as external, w.asset from ledger_accounts w
         join ledger_accounts x on (x.project_id, x.mode, x.asset, x.chain, x.kind) = (w.project_id, w.mode, w.asset, w.chain, 'external')
        where w.project_id = $1 and w.mode = $2 and w.wallet_id = $3 and w.kind = 'wallet'`,
      [projectId, mode, walletId],
    );
    found = rows[0] as { wallet: string; external: string; asset: string } | undefined;
    if (!found) return undefined;
    accounts.set(walletId, found);
  }
  return found;
}

app.post<{ Params: { walletId: string } }>('/floor/wallets/:walletId/deposit', async (request, reply) => {
  const account = await accountsOf(request.params.walletId);
  if (!account) return reply.code(404).send({ error: 'not found' });
  await pool.query(
    `with e as (insert into journal_entries values ($1, $2, gen_random_uuid()::text, 'deposit', null, now()) returning id)
     insert into ledger_postings select $1, $2, e.id, p.seq, p.account, $5, p.amount, now()
       from e, (values (0, $3, -1::numeric), (1, $4, 1::numeric)) as p(seq, account, amount)`,
    [projectId, mode, account.external, account.wallet, account.asset],
  );
  return { ok: true };
});

app.get<{ Params: { walletId: string } }>('/floor/wallets/:walletId/balance', async (request, reply) => {
  const { rows } = await pool.query(`select balance from ledger_accounts where project_id = $1 and mode = $2 and wallet_id = $3 and kind = 'wallet'`, [
    projectId,
    mode,
    request.params.walletId,
  ]);
  if (rows.length === 0) return reply.code(404).send({ error: 'not found' });
  return { balance: rows[0].balance };
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
