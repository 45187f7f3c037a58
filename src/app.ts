import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { MasterKeyring } from './crypto/master-keys.js';
import type { Custody } from './custody/custody.js';
import type { Db } from './db/database.js';
import { readAssetCatalogue } from './domain/assets.js';
import { DomainError } from './domain/errors.js';
import { newId } from './domain/ids.js';
import { authenticate } from './http/authenticate.js';
import { ErrorResponse, sendError } from './http/errors.js';
import { parseJsonBodies } from './http/json-body.js';
import { trackRoutes } from './http/method-not-allowed.js';
import { openApiDocument, openApiRoutes } from './http/openapi.js';
import { FailureCounter, TokenBuckets } from './http/rate-limit.js';
import { normalizeBody } from './http/normalize-body.js';
import { createValidatorCompiler } from './http/validation.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { createTokenService } from './modules/auth/tokens.service.js';
import { customersRoutes } from './modules/customers/customers.routes.js';
import { customerComponents } from './modules/customers/customers.schemas.js';
import { createCustomersService } from './modules/customers/customers.service.js';
import { createEndorsementControls } from './modules/customers/endorsement-controls.js';
import { operatorRoutes } from './modules/operator/operator.routes.js';
import { createOperatorService } from './modules/operator/operator.service.js';
import { createWalletOperations } from './modules/operator/wallet-operations.js';
import { createWebhookOperations } from './modules/operator/webhook-operations.js';
import { createTransactionOperations } from './modules/operator/transaction-operations.js';
import { sandboxRoutes } from './modules/sandbox/sandbox.routes.js';
import { systemRoutes } from './modules/system/system.routes.js';
import { walletsRoutes } from './modules/wallets/wallets.routes.js';
import { walletComponents } from './modules/wallets/wallets.schemas.js';
import { createWalletsService } from './modules/wallets/wallets.service.js';
import { eventsRoutes } from './modules/events/events.routes.js';
import { createEventsService } from './modules/events/events.service.js';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes.js';
import { webhookComponents } from './modules/webhooks/webhooks.schemas.js';
import { createWebhooksService } from './modules/webhooks/webhooks.service.js';
import { systemResolver, type Resolver } from './net/ssrf-guard.js';
import { quotesRoutes } from './modules/quotes/quotes.routes.js';
import { quoteComponents } from './modules/quotes/quotes.schemas.js';
import { createQuotesService } from './modules/quotes/quotes.service.js';
import { transactionsRoutes } from './modules/transactions/transactions.routes.js';
import { transactionComponents } from './modules/transactions/transactions.schemas.js';
import { createTransactionsService } from './modules/transactions/transactions.service.js';
import { readPricingTable } from './pricing/pricing-table.js';

export interface AppDeps {
  config: Config;
  db: Db;
  keyring: MasterKeyring;
  /** Opened by the caller before the app is built: opening it may create the seed (a database write). */
  custody: Custody;
  /** How webhook hosts are resolved for the SSRF guard; the system's DNS unless a test injects one. */
  resolver?: Resolver;
  /** Logger and server options (timeouts) chosen by the caller: server.ts or a test. */
  fastify?: FastifyServerOptions;
}

export const BODY_LIMIT = 1024 * 1024;

export async function buildApp({ config, db, keyring, custody, resolver = systemResolver, fastify: options = {} }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...options,
    bodyLimit: BODY_LIMIT,
    genReqId: () => newId('request'),
    requestIdHeader: false,
    return503OnClosing: true,
    // One access line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Router-level refusals: an over-long or badly encoded path segment cannot name anything.
    frameworkErrors: (err, request, reply) =>
      sendError(request, reply, err.code === 'FST_ERR_MAX_PARAM_LENGTH' || err.code === 'FST_ERR_BAD_URL' ? new DomainError('not_found', 'not found') : err),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const components = [ErrorResponse, ...customerComponents, ...walletComponents, ...quoteComponents, ...transactionComponents, ...webhookComponents];
  app.setValidatorCompiler(createValidatorCompiler(components));
  // JSON in, JSON out: any other body is 415, including the text/plain Fastify accepts by default.
  app.removeContentTypeParser('text/plain');
  parseJsonBodies(app);
  app.decorateRequest('principal', null);
  for (const schema of components) app.addSchema(schema);
  const methodsFor = trackRoutes(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });
  app.addHook('preValidation', async (request) => {
    normalizeBody(request.body);
  });

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = methodsFor(path);
    if (allowed.length === 0) return sendError(request, reply, new DomainError('not_found', `no route for ${request.method} ${path}`));
    reply.header('allow', allowed.join(', '));
    return sendError(request, reply, new DomainError('method_not_allowed', `${request.method} is not allowed here; use ${allowed.join(', ')}`));
  });

  await app.register(swagger, openApiDocument);

  const tokens = createTokenService({ db, keyring, issuer: config.tokenIssuer });
  const limits = new TokenBuckets(config.rateLimitPerSecond, config.rateLimitBurst);
  await app.register(systemRoutes(db));
  await app.register(openApiRoutes);
  await app.register(authRoutes(tokens, new FailureCounter(config.authFailuresPerMinute)));
  const assets = readAssetCatalogue(config.assetsFile);
  const controls = createEndorsementControls({ keyring, assets });
  const wallets = createWalletsService({ custody, assets });
  await app.register(async (api) => {
    api.addHook('onRequest', authenticate(tokens, limits));
    await api.register(customersRoutes(db, createCustomersService({ keyring, assets })));
    await api.register(walletsRoutes(db, wallets));
    await api.register(quotesRoutes(db, createQuotesService({ assets, pricing: readPricingTable(config.pricingFile, { feeDecimals: assets.fewestDecimals() }), ttlSeconds: config.quoteTtlSeconds })));
    await api.register(transactionsRoutes(db, createTransactionsService()));
    await api.register(sandboxRoutes(db, controls, wallets));
    await api.register(eventsRoutes(db, createEventsService()));
    await api.register(webhooksRoutes(db, createWebhooksService({ keyring, resolver, guard: { allowHttpLoopback: config.webhookAllowHttpLoopback } })));
  }, { prefix: '/v0.9' });
  // Without an admin token the operator API does not exist at all: 404, not 401 or 405.
  if (config.adminToken) {
    await app.register(operatorRoutes(config.adminToken, createOperatorService({ db, keyring, assets, controls }), createWalletOperations({ db }), createWebhookOperations({ db }), createTransactionOperations({ db })), {
      prefix: '/admin/v1',
    });
  }

  return app;
}
