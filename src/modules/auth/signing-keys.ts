import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type CryptoKey } from 'jose';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { JsonWebKeyRow } from '../../db/schema.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import { TOKEN_TTL_SECONDS } from './token-claims.js';
import { randomBytes } from 'node:crypto';

export const signingKeyAad = (kid: string) => `signing_keys:${kid}`;
/** A retired key keeps verifying for the life of the last token it signed, plus margin. */
const PUBLISH_RETIRED_FOR = `${TOKEN_TTL_SECONDS + 600} seconds`;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/**
 * RS256 token-signing keys, kept in the database with the private half sealed under the
 * master key. The newest unretired key signs; every key still within its publication window
 * verifies and is served at /.well-known/jwks.json.
 */
export async function createSigningKey(db: Db, keyring: MasterKeyring): Promise<string> {
  const kid = `sig_${randomBytes(8).toString('hex')}`;
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const publicJwk: JsonWebKeyRow = { kty: 'RSA', kid, alg: 'RS256', use: 'sig', n: jwk.n!, e: jwk.e! };
  const sealed = keyring.seal(Buffer.from(await exportPKCS8(privateKey)), signingKeyAad(kid));
  await db
    .insertInto('signing_keys')
    .values({ kid, public_jwk: JSON.stringify(publicJwk), private_sealed: sealed.sealed, master_key_id: sealed.masterKeyId })
    .execute();
  return kid;
}

/** Makes a new key the signing key; older keys retire but keep verifying their tokens. */
export async function rotateSigningKey(db: Db, keyring: MasterKeyring): Promise<string> {
  const kid = await createSigningKey(db, keyring);
  await db.updateTable('signing_keys').set({ retired_at: new Date() }).where('kid', '!=', kid).where('retired_at', 'is', null).execute();
  return kid;
}

/** Creates the first signing key unless one exists; safe when several processes start together. */
export async function ensureSigningKey(db: Db, keyring: MasterKeyring): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('oms:signing-keys'))`.execute(trx);
    const existing = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).executeTakeFirst();
    if (!existing) await createSigningKey(trx, keyring);
  });
}

export async function loadCurrentSigningKey(db: Db, keyring: MasterKeyring): Promise<SigningKey> {
  const row = await db
    .selectFrom('signing_keys')
    .select(['kid', 'private_sealed', 'master_key_id'])
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) throw new Error('no signing key; the server creates one at start');
  const pem = keyring.open({ sealed: row.private_sealed, masterKeyId: row.master_key_id }, signingKeyAad(row.kid)).toString();
  return { kid: row.kid, privateKey: await importPKCS8(pem, 'RS256') };
}

export async function loadPublishedKeys(db: Db): Promise<JsonWebKeyRow[]> {
  const rows = await db
    .selectFrom('signing_keys')
    .select('public_jwk')
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', sql<Date>`now() - ${PUBLISH_RETIRED_FOR}::interval`)]))
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((r) => ({ ...r.public_jwk }));
}
