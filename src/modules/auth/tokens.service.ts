import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { JsonWebKeyRow } from '../../db/schema.js';
import type { Db } from '../../db/database.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import { DomainError } from '../../domain/errors.js';
import type { Mode } from '../../domain/scope.js';
import { hashApiSecret, loadPepper, secretMatches } from './api-keys.js';
import { findApiKeyWithSecret, isApiKeyActive } from './keys.repo.js';
import { loadCurrentSigningKey, loadPublishedKeys, type SigningKey } from './signing-keys.js';
import { TOKEN_AUDIENCE, TOKEN_TTL_SECONDS, type Principal } from './token-claims.js';

/** A revoked key's tokens stop working within this long (the issue asks for 5 s). */
const KEY_STATUS_TTL_MS = 2_000;
/** A rotation by another process is picked up for signing within this long. */
const SIGNING_KEY_TTL_MS = 60_000;
const VERIFYING_KEYS_TTL_MS = 60_000;
/**
 * A verified token is remembered this long (never past its exp), so the RSA check runs about
 * once a minute per token instead of on every request; revocation is checked separately.
 */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKENS_MAX = 10_000;

export interface AccessToken {
  accessToken: string;
  tokenType: 'bearer';
  expiresIn: number;
  expiresAt: string;
}

export interface TokenService {
  issue(apiKey: string, apiSecret: string): Promise<AccessToken>;
  verify(token: string): Promise<Principal>;
  publishedKeys(): Promise<JsonWebKeyRow[]>;
}

export interface TokenServiceDeps {
  db: Db;
  keyring: MasterKeyring;
  issuer: string;
}

export function createTokenService({ db, keyring, issuer }: TokenServiceDeps): TokenService {
  const pepper = memo(() => loadPepper(db, keyring));
  let signing: { key: SigningKey; loadedAt: number } | undefined;
  let verifying: { keys: ReturnType<typeof createLocalJWKSet>; loadedAt: number } | undefined;
  const keyStatus = new Map<string, { active: boolean; checkedAt: number }>();
  const verifiedTokens = new Map<string, { principal: Principal; until: number }>();

  async function signingKey(): Promise<SigningKey> {
    if (!signing || Date.now() - signing.loadedAt > SIGNING_KEY_TTL_MS) {
      signing = { key: await loadCurrentSigningKey(db, keyring), loadedAt: Date.now() };
    }
    return signing.key;
  }

  async function verificationKeys(forceReload: boolean) {
    // An unknown kid reloads at most once a second, so forged kids cannot hammer the database;
    // a periodic reload drops keys that left the published set.
    const age = verifying ? Date.now() - verifying.loadedAt : Infinity;
    if (age > VERIFYING_KEYS_TTL_MS || (forceReload && age > 1_000)) {
      verifying = { keys: createLocalJWKSet({ keys: await loadPublishedKeys(db) }), loadedAt: Date.now() };
    }
    return verifying!.keys;
  }

  async function keyIsActive(apiKey: string): Promise<boolean> {
    const cached = keyStatus.get(apiKey);
    if (cached && Date.now() - cached.checkedAt < KEY_STATUS_TTL_MS) return cached.active;
    const active = await isApiKeyActive(db, apiKey);
    keyStatus.set(apiKey, { active, checkedAt: Date.now() });
    return active;
  }

  function remember(token: string, principal: Principal, until: number): void {
    verifiedTokens.delete(token);
    // Oldest first in a Map: evicting from the front bounds memory whatever tokens arrive.
    if (verifiedTokens.size >= VERIFIED_TOKENS_MAX) verifiedTokens.delete(verifiedTokens.keys().next().value!);
    verifiedTokens.set(token, { principal, until });
  }

  async function verifyJwt(token: string, forceReload: boolean) {
    return jwtVerify(token, await verificationKeys(forceReload), {
      algorithms: ['RS256'],
      issuer,
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'jti', 'iat', 'exp', 'prj', 'mode'],
    });
  }

  return {
    async issue(apiKey, apiSecret) {
      const record = await findApiKeyWithSecret(db, apiKey);
      const secretHash = record?.secretHash ?? hashApiSecret(await pepper(), `${apiSecret}:absent`);
      // Same work whether or not the key exists, so timing does not tell keys apart.
      const matches = secretMatches(await pepper(), apiSecret, secretHash);
      if (!record || record.revoked || !matches) {
        throw new DomainError('invalid_credentials', 'the apiKey and apiSecret do not match an active key');
      }
      const key = await signingKey();
      const now = Math.floor(Date.now() / 1000);
      const accessToken = await new SignJWT({ prj: record.projectId, mode: record.mode })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(apiKey)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + TOKEN_TTL_SECONDS)
        .sign(key.privateKey);
      return {
        accessToken,
        tokenType: 'bearer',
        expiresIn: TOKEN_TTL_SECONDS,
        expiresAt: new Date((now + TOKEN_TTL_SECONDS) * 1000).toISOString().replace('.000Z', 'Z'),
      };
    },

    async verify(token) {
      const cached = verifiedTokens.get(token);
      if (cached && cached.until > Date.now()) {
        if (!(await keyIsActive(cached.principal.apiKey))) throw unauthorized();
        return cached.principal;
      }
      let payload;
      try {
        payload = (await verifyJwt(token, false)).payload;
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw asUnauthorized(err);
        payload = (await verifyJwt(token, true).catch((retryErr: unknown) => {
          throw asUnauthorized(retryErr);
        })).payload;
      }
      const { sub, prj, mode } = payload;
      if (typeof sub !== 'string' || typeof prj !== 'string' || (mode !== 'live' && mode !== 'sandbox')) throw unauthorized();
      if (!(await keyIsActive(sub))) throw unauthorized();
      const principal: Principal = { projectId: prj, mode: mode as Mode, apiKey: sub };
      remember(token, principal, Math.min(Date.now() + VERIFIED_TOKEN_TTL_MS, (payload.exp ?? 0) * 1000));
      return principal;
    },

    publishedKeys: () => loadPublishedKeys(db),
  };
}

/** A token's own faults are 401; anything else (the database being down) is not the caller's. */
function asUnauthorized(err: unknown): unknown {
  return err instanceof joseErrors.JOSEError ? unauthorized() : err;
}

function unauthorized(): DomainError {
  return new DomainError('unauthorized', 'the access token is missing, invalid or expired');
}

function memo<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((err: unknown) => {
      value = undefined;
      throw err;
    });
    return value;
  };
}
