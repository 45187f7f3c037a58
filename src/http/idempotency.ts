import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { THEN_COMMIT, WITH_NEXT } from '../db/server-pool.js';
import { DomainError, validationError } from '../domain/errors.js';
import type { Scope } from '../domain/scope.js';
import { renderError } from './errors.js';

const RETENTION = "interval '24 hours'";
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * The write to run. With a key it gets a transaction that also records the response; without
 * one it gets the database handle, and the service keeps its own statements atomic.
 */
export type WriteWork<T extends object> = (db: Db) => Promise<T>;

interface Options<T> {
  /** POST requires the header; PATCH honours it when given (spec 1.6). */
  required: boolean;
  status: number;
  /** What a replay answers, when it must differ from the first answer (a secret shown once). */
  forReplay?: (result: T) => object;
}

/**
 * Runs a write under the request's Idempotency-Key (spec 1.6).
 *
 * The request's transaction takes the key (its advisory lock, unless another request holds
 * it or has answered it), runs the write, and stores the response: the effect and the record
 * of it commit together, so a crash between them cannot cause a second effect on retry, and
 * a crashed request leaves nothing behind (its lock goes with its connection). Taking the key
 * goes out with the write's first statement and storing the answer with the COMMIT, each
 * refusing itself when the key is taken, so the key costs no round trip of its own. A request
 * that finds the key taken rolls back and answers with what the key holds: the stored
 * response (replayed), a refusal as reused, or "in use" while the holder runs. Business
 * refusals (409, 422) are stored and replayed like successes; a 400 or 5xx stores nothing.
 */
export async function runIdempotent<T extends object>(
  db: Db,
  scope: Scope,
  request: FastifyRequest,
  reply: FastifyReply,
  options: Options<T>,
  work: WriteWork<T>,
): Promise<void> {
  const key = readKey(request, options.required);
  if (key === undefined) {
    const result = await work(db);
    sendJson(reply, options.status, serialize(reply, result, options.status));
    return;
  }
  const hash = requestHash(request);
  let outcome: Settled;
  try {
    outcome = await db.transaction().execute(async (trx): Promise<Settled> => {
      await takeKey(trx, scope, key);
      const result = await work(trx);
      const serialized = serialize(reply, result, options.status);
      const stored = options.forReplay ? serialize(reply, options.forReplay(result), options.status) : serialized;
      await storeAnswer(trx, scope, key, hash, options.status, stored);
      return { kind: 'answer', status: options.status, body: serialized };
    });
  } catch (err) {
    if (isKeyTaken(err)) {
      outcome = await heldAnswer(db, scope, key, hash);
    } else {
      const rendered = renderError(err, request.id);
      if (rendered.status >= 500 || rendered.status === 400) {
        // A write that failed before its first statement never learnt whether the key was
        // taken; what another request stored for the key still comes first. Otherwise, like a
        // refusal before execution, a 400 found by the service stores nothing.
        const held = await heldAnswer(db, scope, key, hash).catch(() => undefined);
        if (held === undefined || held.kind === 'busy') throw err;
        outcome = held;
      } else {
        // The refusal rolled back with the work; it becomes the key's answer unless another
        // request with the key has answered or is running since.
        outcome = (await storeRefusal(db, scope, key, hash, rendered.status, rendered.body))
          ? { kind: 'answer', status: rendered.status, body: rendered.body }
          : await heldAnswer(db, scope, key, hash);
        if (outcome.kind === 'answer') reply.headers(rendered.headers);
      }
    }
  }
  send(reply, outcome);
}

/** What a key taken by another request means to this one. */
type Held = { kind: 'busy' } | { kind: 'reused' } | { kind: 'replay'; status: number; body: string };
/** How a keyed request ends: its own answer, or what the key held instead. */
type Settled = Held | { kind: 'answer'; status: number; body: string };

function send(reply: FastifyReply, outcome: Settled): void {
  switch (outcome.kind) {
    case 'busy':
      throw new DomainError('idempotency_key_in_use', 'a request with this Idempotency-Key is in progress', undefined, 1);
    case 'reused':
      throw new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
    case 'replay':
      reply.header('idempotent-replayed', 'true');
      sendJson(reply, outcome.status, outcome.body);
      return;
    case 'answer':
      sendJson(reply, outcome.status, outcome.body);
  }
}

function readKey(request: FastifyRequest, required: boolean): string | undefined {
  const raw = request.headers[IDEMPOTENCY_HEADER];
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined || key.trim() === '') {
    if (required) throw new DomainError('idempotency_key_missing', 'the Idempotency-Key header is required on this request');
    return undefined;
  }
  if (key.length > 255) throw validationError('/headers/idempotency-key', 'must be at most 255 characters');
  return key;
}

/** Method, path and body identify "the same request"; the body is kept only as this hash. */
function requestHash(request: FastifyRequest): Buffer {
  return createHash('sha256')
    .update(`${request.method}\n${request.url.split('?')[0]}\n${JSON.stringify(request.body ?? null)}`)
    .digest();
}

/** The key's transaction-scoped advisory lock: 64 bits of a hash of (project, mode, key). */
const keyLock = (scope: Scope, key: string) => sql<boolean>`pg_try_advisory_xact_lock(hashtextextended(${`${scope.projectId}/${scope.mode}/${key}`}, 0))`;

/** A stored row that still counts: unexpired, and not the claim of a request that died before finishing. */
const LIVE = sql`k.expires_at >= now() and not (k.state = 'running' and k.locked_until < now())`;

const keyRow = (scope: Scope, key: string) => sql`k.project_id = ${scope.projectId} and k.mode = ${scope.mode} and k.key = ${key}`;

/** What the statements below raise (migration 0014) when the key is another request's. */
const isKeyTaken = (err: unknown) => isUniqueViolation(err, 'idempotency_keys_pkey');

/**
 * Takes the key's lock for the transaction, and refuses (raises) when a live answer is stored
 * or another request holds the lock. It goes out with the work's first statement. A stored
 * answer refuses before the lock is tried, so retries arriving together all replay.
 */
async function takeKey(trx: Db, scope: Scope, key: string): Promise<void> {
  await sql`select case when exists (select from idempotency_keys k where ${keyRow(scope, key)} and ${LIVE}) then idempotency_key_taken()
                        when not ${keyLock(scope, key)} then idempotency_key_taken()
                        else true end${WITH_NEXT}`.execute(trx);
}

/** After a request found the key taken: what it holds. */
async function heldAnswer(db: Db, scope: Scope, key: string, hash: Buffer): Promise<Held> {
  const { rows } = await sql<{ request_hash: Buffer; state: string; response_status: number | null; response_body: string | null }>`
    select k.request_hash, k.state, k.response_status, k.response_body from idempotency_keys k where ${keyRow(scope, key)} and ${LIVE}`.execute(db);
  const row = rows[0];
  // Nothing stored: the holder is still running (or committing), or failed and stored nothing.
  if (!row) return { kind: 'busy' };
  if (!row.request_hash.equals(hash)) return { kind: 'reused' };
  // 'running' rows come only from servers of an earlier version, which claimed keys outside the transaction.
  if (row.state !== 'done' || row.response_status === null || row.response_body === null) return { kind: 'busy' };
  return { kind: 'replay', status: row.response_status, body: row.response_body };
}

/**
 * The insert that makes this the key's answer, replacing an expired row or a dead request's
 * claim; it inserts nothing when a live answer is there already, or when `when` is false.
 */
const answerInsert = (scope: Scope, key: string, hash: Buffer, status: number, body: string, when: RawBuilder<unknown>) => sql<{ key: string }>`
    insert into idempotency_keys as k (project_id, mode, key, request_hash, state, locked_until, response_status, response_body, created_at, expires_at)
    select ${scope.projectId}, ${scope.mode}, ${key}, ${hash}, 'done', null, ${status}, ${body}, now(), now() + ${sql.raw(RETENTION)}
     where ${when}
    on conflict (project_id, mode, key) do update
       set request_hash = excluded.request_hash, state = 'done', locked_until = null, response_status = excluded.response_status,
           response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at
     where not (${LIVE})
    returning k.key`;

/**
 * In the request's transaction, which holds the key's lock: the last statement, sent with the
 * COMMIT. An answer stored meanwhile by another request makes it refuse itself (and the
 * COMMIT roll back) instead of storing nothing.
 */
async function storeAnswer(trx: Db, scope: Scope, key: string, hash: Buffer, status: number, body: string): Promise<void> {
  await sql`with stored as (${answerInsert(scope, key, hash, status, body, sql`true`)})
    select case when exists (select from stored) then true else idempotency_key_taken() end${THEN_COMMIT}`.execute(trx);
}

/**
 * After the work rolled back: a statement of its own, which takes the key's lock again; false
 * when another request with the key has answered or is running.
 */
async function storeRefusal(db: Db, scope: Scope, key: string, hash: Buffer, status: number, body: string): Promise<boolean> {
  const { rows } = await answerInsert(scope, key, hash, status, body, keyLock(scope, key)).execute(db);
  return rows.length === 1;
}

/** The route's own response serializer, so the stored bytes are exactly the bytes sent. */
function serialize(reply: FastifyReply, result: object, status: number): string {
  return reply.serializeInput(result as Record<string, unknown>, String(status)) as string;
}

function sendJson(reply: FastifyReply, status: number, body: string): void {
  reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Deletes keys past their retention, a batch at a time; safe to run from several processes. */
export async function purgeExpiredIdempotencyKeys(db: Db, batch = 1000): Promise<number> {
  const result = await sql`
    delete from idempotency_keys where ctid in (
      select ctid from idempotency_keys where expires_at < now() limit ${batch} for update skip locked)`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
