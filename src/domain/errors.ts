/**
 * The refusals a service can raise. Services know nothing of HTTP: the status for each code
 * lives in http/errors.ts, in a map the compiler checks for completeness.
 */
export const ERROR_CODES = [
  'validation_error',
  'idempotency_key_missing',
  'unauthorized',
  'invalid_credentials',
  'not_found',
  'method_not_allowed',
  'idempotency_key_in_use',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'idempotency_key_reused',
  'endorsement_required',
  'customer_inactive',
  'insufficient_funds',
  'quote_expired',
  'quote_not_open',
  'signed_agreement_irreversible',
  'unsupported_asset',
  'unsupported_destination',
  'rate_limited',
  'internal_error',
  'service_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds the client should wait, for codes that are retryable. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function validationError(path: string, message: string): DomainError {
  return new DomainError('validation_error', `${path.replace(/^\//, '')}: ${message}`, [{ path, message }]);
}

export function notFound(what: string): DomainError {
  return new DomainError('not_found', `${what} not found`);
}
