import { sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { preparedStatement } from './prepared-statements.js';

const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;
const COMMIT = /^\s*commit\s*$/i;
const ROLLBACK = /^\s*rollback\s*$/i;
const LAST_STATEMENT_MARK = '/* then commit */';

/**
 * Appended to a transaction's last statement: its COMMIT goes out with it, in the same round
 * trip. The statement must refuse itself (raise) in every case where the transaction must not
 * commit, since COMMIT runs as soon as the statement succeeds; after it, the work may run no
 * other statement and must not fail.
 */
export const THEN_COMMIT = sql.raw(` ${LAST_STATEMENT_MARK}`);

/** The pg pool options the server's pool needs: clients that may send before the last answer arrives. */
export const SERVER_POOL_OPTIONS = { pipeline: true } as const satisfies pg.PoolConfig;

/**
 * The pool the server's Kysely runs on. On each checkout, DML runs as named prepared
 * statements, and a transaction's boundaries share round trips with its statements: BEGIN
 * goes out with the first statement, and COMMIT with a statement marked `THEN_COMMIT`. On
 * this kind of machine a round trip (a write and a wake-up on both sides) costs more than a
 * short statement's execution, so a keyed write's six round trips become four.
 *
 * PostgreSQL runs pipelined messages in order and answers each, so the statement's result and
 * errors are its own; a statement that fails inside the transaction aborts it, and the COMMIT
 * behind it then completes as ROLLBACK, which Kysely reports as an aborted transaction.
 */
export function serverPool(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      if (!client.pipeline) {
        client.release();
        throw new Error('the server pool needs pg clients in pipeline mode (SERVER_POOL_OPTIONS)');
      }
      // pg-pool listens for errors on idle clients only. A connection lost while checked out
      // (a database restart, a terminated backend) fails its query on its own, and the pool
      // discards it on release; unheard, the client's 'error' event would end the process.
      client.on('error', ignoreLostConnection);
      const checkout = new Checkout(client);
      return {
        query: ((text: string | object, parameters?: readonly unknown[]) => {
          if (typeof text !== 'string') throw new Error('cursors are not supported on the server pool (pipeline mode)');
          return checkout.query(text, parameters ?? []);
        }) as unknown as PostgresPoolClient['query'],
        release: () => {
          client.removeListener('error', ignoreLostConnection);
          client.release();
        },
      };
    },
    end: () => pool.end(),
  };
}

function ignoreLostConnection(): void {}

function noop(): void {}

/** One checkout of a connection: where its transaction stands between Kysely's calls. */
class Checkout {
  /** A BEGIN not sent yet: it goes out with the transaction's first statement. */
  private heldStart: string | undefined;
  /** The COMMIT sent behind the transaction's last statement, answered when Kysely ends the transaction. */
  private sentEnd: Promise<pg.QueryResult> | undefined;

  constructor(private readonly client: pg.PoolClient) {}

  async query(text: string, parameters: readonly unknown[]): Promise<pg.QueryResult> {
    if (this.sentEnd) return this.endSent(text);
    if (TRANSACTION_START.test(text)) {
      this.heldStart = text;
      return completed('BEGIN');
    }
    const start = this.heldStart;
    this.heldStart = undefined;
    // A transaction that ran no statement: nothing was sent, so there is nothing to end.
    if (start !== undefined && (COMMIT.test(text) || ROLLBACK.test(text))) return completed(COMMIT.test(text) ? 'COMMIT' : 'ROLLBACK');
    const statement = preparedStatement(text, parameters);
    const last = text.endsWith(LAST_STATEMENT_MARK);
    if (start === undefined && !last) return this.client.query(statement);

    const [started, result, ended] = this.sendTogether(start, statement, last ? 'commit' : undefined);
    if (ended) this.sentEnd = ended;
    // A failed BEGIN is the cause of whatever the statement then met.
    await started;
    return result;
  }

  /** The queries in one write; PostgreSQL answers each in order. */
  private sendTogether(start: string | undefined, statement: pg.QueryConfig, end: string | undefined) {
    const stream = this.client.connection.stream;
    stream.cork();
    try {
      const started = start === undefined ? undefined : this.client.query(start);
      const result = this.client.query(statement);
      const ended = end === undefined ? undefined : this.client.query(end);
      // Each is awaited by someone later; until then a rejection is not "unhandled".
      for (const sent of [started, result, ended]) sent?.catch(noop);
      return [started, result, ended] as const;
    } finally {
      stream.uncork();
    }
  }

  /** Kysely ends a transaction whose COMMIT went out with its last statement. */
  private async endSent(text: string): Promise<pg.QueryResult> {
    const ended = this.sentEnd!;
    if (COMMIT.test(text)) {
      this.sentEnd = undefined;
      return ended;
    }
    if (!ROLLBACK.test(text)) throw new Error('a statement after the transaction\'s last one (THEN_COMMIT)');
    this.sentEnd = undefined;
    // The last statement failed, so the COMMIT behind it found the transaction aborted.
    const outcome = await ended;
    if (outcome.command !== 'ROLLBACK') throw new Error('the transaction committed with its last statement; it cannot be rolled back');
    return outcome;
  }
}

function completed(command: string): pg.QueryResult {
  return { command, rowCount: null, oid: 0, fields: [], rows: [] };
}
