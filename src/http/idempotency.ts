import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { DomainError, validationError } from '../domain/errors.js';
import type { Scope } from '../domain/scope.js';
import { renderError } from './errors.js';

const RETENTION = "interval '24 hours'";
/** How long a request may hold its key before a retry may take over (a crashed process). */
const LEASE = "interval '60 seconds'";
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
 * The key is claimed first (a row in `running` state with a lease), then the write runs in a
 * transaction that also stores the response on the key row: the effect and the record of it
 * commit together, so a crash between them cannot cause a second effect on retry. Business
 * refusals (409, 422) are stored and replayed like successes; a 400 or 5xx releases the key.
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
  const claim = await claimKey(db, scope, key, hash);
  if (claim.kind === 'replay') {
    reply.header('idempotent-replayed', 'true');
    sendJson(reply, claim.status, claim.body);
    return;
  }
  try {
    const body = await db.transaction().execute(async (trx) => {
      const result = await work(trx);
      const serialized = serialize(reply, result, options.status);
      const stored = options.forReplay ? serialize(reply, options.forReplay(result), options.status) : serialized;
      await complete(trx, scope, key, options.status, stored);
      return serialized;
    });
    sendJson(reply, options.status, body);
  } catch (err) {
    const rendered = renderError(err, request.id);
    // Like a refusal before execution, a 400 found by the service stores nothing.
    if (rendered.status >= 500 || rendered.status === 400) {
      await releaseKey(db, scope, key).catch((releaseErr: unknown) => request.log.warn({ err: releaseErr }, 'could not release idempotency key'));
      throw err;
    }
    await complete(db, scope, key, rendered.status, rendered.body);
    sendJson(reply.headers(rendered.headers), rendered.status, rendered.body);
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

type Claim = { kind: 'claimed' } | { kind: 'replay'; status: number; body: string };

async function claimKey(db: Db, scope: Scope, key: string, hash: Buffer): Promise<Claim> {
  const claimed = await db
    .insertInto('idempotency_keys')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      key,
      request_hash: hash,
      state: 'running',
      locked_until: sql<Date>`now() + ${sql.raw(LEASE)}`,
      expires_at: sql<Date>`now() + ${sql.raw(RETENTION)}`,
    })
    .onConflict((oc) =>
      oc
        .columns(['project_id', 'mode', 'key'])
        .doUpdateSet({
          request_hash: (eb) => eb.ref('excluded.request_hash'),
          state: 'running',
          locked_until: (eb) => eb.ref('excluded.locked_until'),
          response_status: null,
          response_body: null,
          created_at: sql<Date>`now()`,
          expires_at: (eb) => eb.ref('excluded.expires_at'),
        })
        // An expired key is free again; so is a key whose holder died before finishing.
        .where((eb) =>
          eb.or([
            eb('idempotency_keys.expires_at', '<', sql<Date>`now()`),
            eb.and([
              eb('idempotency_keys.state', '=', 'running'),
              eb('idempotency_keys.locked_until', '<', sql<Date>`now()`),
              eb('idempotency_keys.request_hash', '=', hash),
            ]),
          ]),
        ),
    )
    .returning('key')
    .executeTakeFirst();
  if (claimed) return { kind: 'claimed' };

  const existing = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'state', 'response_status', 'response_body'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('key', '=', key)
    .executeTakeFirst();
  // Released between the two statements (its holder failed with a 5xx): the client may retry.
  if (!existing) throw new DomainError('idempotency_key_in_use', 'a request with this Idempotency-Key is in progress', undefined, 1);
  if (!existing.request_hash.equals(hash)) {
    throw new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
  }
  if (existing.state === 'running' || existing.response_status === null || existing.response_body === null) {
    throw new DomainError('idempotency_key_in_use', 'a request with this Idempotency-Key is in progress', undefined, 1);
  }
  return { kind: 'replay', status: existing.response_status, body: existing.response_body };
}

async function complete(db: Db, scope: Scope, key: string, status: number, body: string) {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', locked_until: null, response_status: status, response_body: body })
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('key', '=', key)
    .execute();
}

async function releaseKey(db: Db, scope: Scope, key: string) {
  await db
    .deleteFrom('idempotency_keys')
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('key', '=', key)
    .where('state', '=', 'running')
    .execute();
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
