import type { Selectable, Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, QuotesTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';

/** SQL for quotes; every query is confined to one scope. Amounts are stored at their asset's decimals and read back as written. */

export type QuoteRow = Omit<Selectable<QuotesTable>, 'project_id' | 'mode'>;

export type NewQuote = Omit<QuoteRow, 'status' | 'accepted_at' | 'metadata'> & { metadata: Record<string, string> };

export async function insertQuote(trx: Transaction<Database> | Db, scope: Scope, quote: NewQuote): Promise<void> {
  await trx
    .insertInto('quotes')
    .values({ ...quote, project_id: scope.projectId, mode: scope.mode, status: 'open', accepted_at: null, metadata: JSON.stringify(quote.metadata) })
    .execute();
}

export async function findQuote(db: Db, scope: Scope, id: string): Promise<QuoteRow | undefined> {
  return db.selectFrom('quotes').selectAll().where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id).executeTakeFirst();
}
