import type { FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.js';
import type { Scope } from '../domain/scope.js';
import type { Principal } from '../modules/auth/token-claims.js';
import type { TokenService } from '../modules/auth/tokens.service.js';
import type { TokenBuckets } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

// The scheme name is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/**
 * onRequest hook for every authenticated route: runs before the body is read, so an
 * unauthenticated caller learns nothing from validation errors.
 */
export function authenticate(tokens: TokenService, limits: TokenBuckets) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) throw new DomainError('unauthorized', 'send an access token from POST /v0.9/auth/token as "Authorization: Bearer <token>"');
    const principal = await tokens.verify(match[1]!);
    const wait = limits.take(principal.apiKey);
    if (wait > 0) throw new DomainError('rate_limited', 'too many requests for this API key', undefined, wait);
    request.principal = principal;
  };
}

/** The tenant of an authenticated request; only routes behind `authenticate` call it. */
export function scopeOf(request: FastifyRequest): Scope {
  if (!request.principal) throw new Error('scopeOf called on an unauthenticated route');
  return { projectId: request.principal.projectId, mode: request.principal.mode };
}
