import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import type { Logger } from 'pino';
import { buildApp } from '../../src/app.js';
import { localProviderFromConfig } from '../../src/compliance/local-provider-config.js';
import { openCustody, type Custody } from '../../src/custody/custody.js';
import { createEvaluationWorker, type EvaluationWorker } from '../../src/modules/customers/evaluation-worker.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createMasterKeyring, type MasterKeyring } from '../../src/crypto/master-keys.js';
import type { Db } from '../../src/db/database.js';
import { SERVER_POOL_OPTIONS, serverPool } from '../../src/db/server-pool.js';
import type { Database } from '../../src/db/schema.js';
import type { Mode } from '../../src/domain/scope.js';
import { createLogger } from '../../src/http/logging.js';
import { createKeysService, type ApiCredentials } from '../../src/modules/auth/keys.service.js';
import { ensureSigningKey } from '../../src/modules/auth/signing-keys.js';
import { readAssetCatalogue } from '../../src/domain/assets.js';
import type { Resolver } from '../../src/net/ssrf-guard.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher.js';
import { createSettlementWorker, type SettlementWorker } from '../../src/modules/transactions/settlement-worker.js';
import { createSimulatedChain } from '../../src/settlement/simulated-chain.js';
import { createContractChecker } from './contract.js';
import { adminQuery, withDatabase } from './global-setup.js';
import { PII_VALUES } from './fixtures.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  raw: string;
}

export interface RequestOptions {
  body?: unknown;
  /** A raw payload sent as is (malformed JSON, other media types). */
  payload?: string | Buffer;
  headers?: Record<string, string>;
  idempotencyKey?: string | null;
}

export interface ApiClient {
  request<T = any>(method: string, url: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  get<T = any>(url: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** POST with a fresh Idempotency-Key unless one (or null for none) is given. */
  post<T = any>(url: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  patch<T = any>(url: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  readonly credentials: ApiCredentials;
}

export interface TestApp {
  app: FastifyInstance;
  db: Db;
  pool: pg.Pool;
  config: Config;
  keyring: MasterKeyring;
  custody: Custody;
  databaseUrl: string;
  /** Sandbox client of the default project. */
  api: ApiClient;
  /** A client for a new key: a new project unless projectId is given. */
  client(mode: Mode, projectId?: string): Promise<ApiClient>;
  /** An unauthenticated client, still checked against the contract. */
  anonymous: ApiClient;
  createKey(mode: Mode, projectId?: string): Promise<ApiCredentials>;
  /** The live-mode evaluation worker, running as in the server; drain() runs due jobs now. */
  worker: EvaluationWorker;
  /** The settlement worker of this app, running as in the server; drain() settles due transactions now. */
  settlement: SettlementWorker;
  /** The webhook dispatcher of this app, resolving hosts with testResolver; running only with OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK=1. */
  dispatcher: Dispatcher;
  logs(): string;
  close(): Promise<void>;
}

/**
 * A server on a fresh database cloned from the migrated template, with its log captured so
 * tests can prove that no PII or secret was written to it. Every response goes through the
 * contract checker.
 */
/**
 * Tests never query real DNS: hosts under public.test resolve to a public address, hosts under
 * private.test to a private one, anything else to nothing.
 */
export const testResolver: Resolver = async (hostname) => {
  if (hostname.endsWith('.public.test')) return ['93.184.216.34'];
  if (hostname.endsWith('.private.test')) return ['10.0.0.7'];
  return [];
};

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = `oms_t_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  await adminQuery(inject('adminUrl'), `create database ${database} template ${inject('templateDatabase')}`);
  const databaseUrl = withDatabase(inject('adminUrl'), database);
  const masterKey = randomBytes(32).toString('base64');
  const config = loadConfig({ DATABASE_URL: databaseUrl, OMS_MASTER_KEY: masterKey, OMS_RATE_LIMIT_PER_SECOND: '100000', OMS_RATE_LIMIT_BURST: '100000', ...env });
  const keyring = createMasterKeyring([Buffer.from(masterKey, 'base64')]);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, ...SERVER_POOL_OPTIONS });
  // The server's own connection path: named prepared statements, pipelined transaction boundaries, lost connections survived.
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: serverPool(pool) }) });
  await ensureSigningKey(db, keyring);

  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      captured += chunk.toString();
      done();
    },
  });
  const custody = await openCustody({ db, keyring });
  const app = await buildApp({ config, db, keyring, custody, resolver: testResolver, fastify: { loggerInstance: createLogger('info', sink) } });
  await app.ready();
  const worker = createEvaluationWorker({
    db,
    listenTo: { connectionString: databaseUrl },
    keyring,
    assets: readAssetCatalogue(config.assetsFile),
    provider: localProviderFromConfig(config),
    decision: config.kycDecision,
    log: app.log as unknown as Logger,
    pollMs: config.evaluationPollMs,
  });
  worker.start();
  const dispatcher = createDispatcher({
    db,
    listenTo: { connectionString: databaseUrl },
    keyring,
    resolver: testResolver,
    guard: { allowHttpLoopback: config.webhookAllowHttpLoopback },
    log: app.log as unknown as Logger,
    pollMs: config.webhookPollMs,
    disableAfterMs: config.webhookDisableAfterHours * 3_600_000,
  });
  const settlement = createSettlementWorker({
    db,
    listenTo: { connectionString: databaseUrl },
    adapter: createSimulatedChain({ confirmationMs: config.simulatedChainConfirmationMs }),
    log: app.log as unknown as Logger,
    pollMs: config.settlementPollMs,
  });
  settlement.start();
  // Deliveries leave the process only for apps whose receivers are local (loopback allowed):
  // elsewhere an endpoint at a *.public.test host would be a real connection to the internet.
  if (config.webhookAllowHttpLoopback) dispatcher.start();
  const check = createContractChecker(app.swagger() as Parameters<typeof createContractChecker>[0]);
  const keys = createKeysService(db, keyring, '');

  function clientFor(credentials: ApiCredentials | undefined): ApiClient {
    let token: string | undefined;
    async function request(method: string, url: string, options: RequestOptions = {}): Promise<ApiResponse> {
      if (credentials && token === undefined) {
        const issued = await app.inject({ method: 'POST', url: '/v0.9/auth/token', payload: { apiKey: credentials.apiKey, apiSecret: credentials.apiSecret } });
        token = (issued.json() as { accessToken: string }).accessToken;
      }
      const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
      const key = options.idempotencyKey === undefined && method === 'POST' ? randomBytes(8).toString('hex') : options.idempotencyKey;
      if (key) headers['idempotency-key'] = key;
      let payload = options.payload;
      if (payload === undefined && options.body !== undefined) {
        payload = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
      const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
      const body = isJson ? res.json() : res.body;
      if (isJson) check(method, url, res.statusCode, body);
      return { status: res.statusCode, headers: res.headers, body, raw: res.body };
    }
    return {
      request,
      get: (url, options) => request('GET', url, options),
      post: (url, body, options) => request('POST', url, { ...options, body }),
      patch: (url, body, options) => request('PATCH', url, { ...options, body }),
      credentials: credentials ?? { projectId: '', apiKey: '', apiSecret: '' },
    };
  }

  const defaultCredentials = await keys.createKey('sandbox');
  return {
    app,
    db,
    pool,
    config,
    keyring,
    custody,
    databaseUrl,
    api: clientFor(defaultCredentials),
    anonymous: clientFor(undefined),
    client: async (mode, projectId) => clientFor(await keys.createKey(mode, projectId)),
    createKey: (mode, projectId) => keys.createKey(mode, projectId),
    worker,
    settlement,
    dispatcher,
    logs: () => captured,
    async close() {
      await app.close();
      await worker.stop();
      await settlement.stop();
      await dispatcher.stop();
      await db.destroy();
      const leaked = PII_VALUES.filter((value) => captured.includes(value));
      if (leaked.length > 0) throw new Error(`PII reached the log: ${leaked.join(', ')}`);
    },
  };
}
