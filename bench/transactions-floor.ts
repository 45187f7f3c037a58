import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/schema.js';
import type { Scope } from '../src/domain/scope.js';
import { newId } from '../src/domain/ids.js';
import { newEvent } from '../src/events/outbox.js';
import * as ledger from '../src/ledger/ledger.js';
import * as quotes from '../src/modules/quotes/quotes.repo.js';
import { holdMovement } from '../src/modules/transactions/settlement-movements.js';
import * as transactions from '../src/modules/transactions/transactions.repo.js';
import { runPairLoops, type Pair } from './pair-loops.js';

/**
 * The floor of the transactions bench: for each pair, the SQL the server issues, through the
 * server's own repository functions (so the two cannot drift apart), over a pool of the
 * server's size, without HTTP, auth, validation, idempotency, pricing or serialisation: the
 * quote's read and INSERT, then one database transaction reading the acceptance, accepting
 * the quote with its transaction and event (one statement), and posting the hold. The floor's
 * transactions are never due for settlement (settle_after in the year 9999, which is how the
 * bench tells them apart). Prints JSON like transactions-load.ts.
 */
interface FloorJob {
  databaseUrl: string;
  projectId: string;
  pairs: Pair[];
  connections: number;
  duration: number;
}

const job = JSON.parse(process.argv[2] ?? '') as FloorJob;
const pool = new pg.Pool({ connectionString: job.databaseUrl, max: 10 });
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
const scope: Scope = { projectId: job.projectId, mode: 'sandbox' };
const NEVER = new Date('9999-01-01T00:00:00Z');

async function pairOnce(pair: Pair): Promise<number> {
  await quotes.findParties(db, scope, { customerId: pair.customerId, sourceWalletId: pair.from, destinationWalletId: pair.to });
  const at = new Date();
  const quoteId = newId('quote');
  await quotes.insertQuote(db, scope, {
    id: quoteId,
    customer_id: pair.customerId,
    type: 'cryptoToCrypto',
    source_wallet_id: pair.from,
    source_asset: 'usdc',
    source_network: 'polygon',
    source_amount_gross: '1.000000',
    source_fees: '0.001000',
    source_amount_net: '0.999000',
    destination_asset: 'usdc',
    destination_network: 'polygon',
    destination_amount_gross: '0.999000',
    destination_fees: '0.000000',
    destination_amount_net: '0.999000',
    destination_wallet_id: pair.to,
    destination_address: null,
    fee_oms: '0.001000',
    fee_developer: '0.000000',
    fee_gas: '0.000000',
    exchange_rate: '1',
    effective_rate: '0.999',
    fixed_amount_side: 'source',
    sponsor_gas: false,
    promo_code: null,
    metadata: {},
    expires_at: new Date(at.getTime() + 60_000),
    created_at: at,
  });
  const started = performance.now();
  await db.transaction().execute(async (trx) => {
    const found = await transactions.findAcceptance(trx, scope, quoteId);
    const row: transactions.NewTransaction = {
      id: newId('transaction'),
      type: 'cryptoToCrypto',
      status: 'processing',
      sub_status: 'pendingSettlement',
      quote_id: quoteId,
      sender_customer_id: pair.customerId,
      recipient_customer_id: found!.recipientCustomerId,
      metadata: {},
      client_context: {},
      settle_after: NEVER,
      created_at: at,
      updated_at: at,
    };
    const event = newEvent('transaction.cryptoToCrypto.processing', { id: row.id, reference: randomUUID() }, at);
    if (!(await transactions.acceptQuote(trx, scope, row, event, new Date()))) throw new Error('quote not accepted');
    await ledger.post(trx, scope, holdMovement(row.id, found!.source, '1.000000'));
  });
  return performance.now() - started;
}

const run = await runPairLoops(job.pairs, job.connections, job.duration, pairOnce);
await db.destroy();
process.stdout.write(`${JSON.stringify(run)}\n`);
