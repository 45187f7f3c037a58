import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { DomainError, type ErrorCode, type ErrorDetail } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../db/errors.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  validation_error: 400,
  idempotency_key_missing: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_key_in_use: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  endorsement_required: 422,
  customer_inactive: 422,
  insufficient_funds: 422,
  quote_expired: 422,
  quote_not_open: 422,
  signed_agreement_irreversible: 422,
  unsupported_asset: 422,
  unsupported_destination: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
};

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      requestId: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    }),
  },
  { $id: 'ErrorResponse', description: 'The error envelope every failure uses (spec 1.8).' },
);

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Turns anything thrown while handling a request into the envelope. Only DomainErrors and
 * Fastify's own client errors say what went wrong; anything else is a generic 500 (or 503
 * when the database is out of reach) and its cause is for the log only.
 */
export function renderError(err: unknown, requestId: string): RenderedError {
  const domain = toDomainError(err);
  const status = HTTP_STATUS[domain.code];
  const headers: Record<string, string> = {};
  if (domain.retryAfter !== undefined) headers['retry-after'] = String(domain.retryAfter);
  const error: { code: ErrorCode; message: string; requestId: string; details?: ErrorDetail[] } = {
    code: domain.code,
    message: domain.message,
    requestId,
  };
  if (domain.details?.length) error.details = domain.details;
  return { status, headers, body: JSON.stringify({ error }) };
}

/** Sends the envelope; a 5xx's cause goes to the log (with the request id), never to the client. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const rendered = renderError(err, request.id);
  if (rendered.status >= 500) request.log.error({ err }, 'request failed');
  reply.header('x-request-id', request.id);
  return reply.code(rendered.status).headers(rendered.headers).type('application/json; charset=utf-8').send(rendered.body);
}

function toDomainError(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  if (isDatabaseUnavailable(err)) {
    return new DomainError('service_unavailable', 'the service is temporarily unavailable', undefined, 1);
  }
  const fastifyError = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (fastifyError.validation) return fromValidation(fastifyError.validation, fastifyError.validationContext ?? 'body');
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DomainError('payload_too_large', 'the request body is larger than 1 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DomainError('unsupported_media_type', 'the request body must be application/json');
  }
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new DomainError('validation_error', 'the request is malformed');
  }
  return new DomainError('internal_error', 'an internal error occurred; quote the requestId when reporting it');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

const FORMAT_MESSAGES: Record<string, string> = {
  email: 'must be a valid email address',
  date: 'must be a real date (YYYY-MM-DD)',
  'past-date': 'must be a real date in the past (YYYY-MM-DD)',
  'ip-address': 'must be a valid IPv4 or IPv6 address',
  'date-time': 'must be an ISO 8601 date-time',
  'e164-phone': 'must be a phone number in E.164 format, e.g. +12125551234',
};

function fromValidation(errors: AjvError[], context: string): DomainError {
  const details = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if').map((e) => describe(e, context));
  const first = details[0] ?? { path: `/${context}`, message: 'is invalid' };
  const where = first.path === '' ? context : first.path.replace(/^\//, '');
  return new DomainError('validation_error', `${where}: ${first.message}`, details);
}

function describe(e: AjvError, context: string): ErrorDetail {
  const base = context === 'body' ? e.instancePath : `/${context}${e.instancePath}`;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: `${base}/${String(e.params.additionalProperty)}`, message: 'is not a field that can be set here' };
    case 'required':
      return { path: `${base}/${String(e.params.missingProperty)}`, message: 'is required' };
    case 'format':
      return { path: base, message: FORMAT_MESSAGES[String(e.params.format)] ?? `must be a valid ${String(e.params.format)}` };
    case 'enum':
      return { path: base, message: `must be one of the allowed values` };
    default:
      return { path: base, message: e.message ?? 'is invalid' };
  }
}
