import { sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { preparedStatement } from './prepared-statements.js';

const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;
const COMMIT = /^\s*commit\s*$/i;
const ROLLBACK = /^\s*rollback\s*$/i;
const WITH_NEXT_MARK = '/* with next */';
const LAST_STATEMENT_MARK = '/* then commit */';

/**
 * Appended to a statement whose result the caller does not need: it is held back and goes
 * out with the transaction's next statement (or its COMMIT), in the same round trip, and the
 * caller gets an empty result at once. The statement must raise where it would have told the
 * caller "stop": its error is then what the next statement reports, and nothing after it ran.
 */
export const WITH_NEXT = sql.raw(` ${WITH_NEXT_MARK}`);

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
 * statements, and statements share round trips where nothing waits on their answers: BEGIN
 * and statements marked `WITH_NEXT` go out with the next statement, and COMMIT with a
 * statement marked `THEN_COMMIT`. A keyed write (spec 1.6) is then one round trip for its
 * key and first statement, one per further statement, and none of its own for storing the
 * answer and committing: a sandbox deposit's six round trips become three.
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
  /** Statements not sent yet (the transaction's BEGIN first, then statements marked WITH_NEXT): they go out with the next one. */
  private held: pg.QueryConfig[] = [];
  /** The COMMIT sent behind the transaction's last statement, answered when Kysely ends the transaction. */
  private sentEnd: Promise<pg.QueryResult> | undefined;
  /** Between Kysely's BEGIN and its COMMIT or ROLLBACK: held statements may wait only inside a transaction. */
  private inTransaction = false;

  constructor(private readonly client: pg.PoolClient) {}

  async query(text: string, parameters: readonly unknown[]): Promise<pg.QueryResult> {
    if (this.sentEnd) return this.endSent(text);
    if (TRANSACTION_START.test(text)) {
      this.inTransaction = true;
      this.held.push({ text });
      return completed('BEGIN');
    }
    const withNext = text.endsWith(WITH_NEXT_MARK);
    const last = text.endsWith(LAST_STATEMENT_MARK);
    // Outside a transaction nothing would send a held statement, nor end one at COMMIT.
    if ((withNext || last) && !this.inTransaction) throw new Error('WITH_NEXT and THEN_COMMIT mark statements of a transaction');
    if (withNext) {
      this.held.push(preparedStatement(text, parameters));
      return completed('SELECT');
    }
    if (ROLLBACK.test(text)) {
      this.inTransaction = false;
      return this.rollback(text);
    }
    if (COMMIT.test(text)) {
      this.inTransaction = false;
      // A transaction that sent nothing has nothing to end.
      if (this.startHeld() && this.held.length === 1) return this.dropHeld('COMMIT');
      return this.sendWithHeld({ text }, false);
    }
    if (last) this.inTransaction = false;
    return this.sendWithHeld(preparedStatement(text, parameters), last);
  }

  /** Whether the transaction's BEGIN is still held, i.e. nothing of the transaction was sent. */
  private startHeld(): boolean {
    return this.held.length > 0 && TRANSACTION_START.test(this.held[0]!.text);
  }

  private dropHeld(command: string): pg.QueryResult {
    this.held = [];
    return completed(command);
  }

  /** Held statements need not run to be rolled back; the transaction is rolled back only if it was begun. */
  private rollback(text: string): Promise<pg.QueryResult> | pg.QueryResult {
    const begun = !this.startHeld();
    this.dropHeld('ROLLBACK');
    return begun ? this.client.query(text) : completed('ROLLBACK');
  }

  /**
   * Sends the held statements, then this one (and COMMIT behind it when it is the last), in
   * one write; PostgreSQL answers each in order. A held statement's error is the cause of
   * whatever the statements after it met, so it is the one reported.
   */
  private async sendWithHeld(statement: pg.QueryConfig, thenCommit: boolean): Promise<pg.QueryResult> {
    const queries = [...this.held, statement, ...(thenCommit ? [{ text: 'commit' }] : [])];
    const heldCount = this.held.length;
    this.held = [];
    if (queries.length === 1) return this.client.query(statement);

    const sent = this.sendTogether(queries);
    if (thenCommit) this.sentEnd = sent[sent.length - 1];
    for (const earlier of sent.slice(0, heldCount)) await earlier;
    return sent[heldCount]!;
  }

  private sendTogether(queries: pg.QueryConfig[]): Promise<pg.QueryResult>[] {
    const stream = this.client.connection.stream;
    stream.cork();
    try {
      const sent = queries.map((query) => this.client.query(query));
      // Each is awaited by someone later; until then a rejection is not "unhandled".
      for (const promise of sent) promise.catch(noop);
      return sent;
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
