import path from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Every setting the server reads from the environment, validated once at start.
 * Nothing else in the code base reads process.env.
 */
const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  host: Type.String({ default: '127.0.0.1' }),
  databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
  dataDir: Type.String({ default: './.oms' }),
  masterKey: Type.Optional(Type.String({ minLength: 1 })),
  previousMasterKeys: Type.Optional(Type.String()),
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  tokenIssuer: Type.String({ default: 'oms-server' }),
  /** Environment name put into new API keys, e.g. "dev" gives sk_dev_sdbx_…; empty for production. */
  keyEnvironment: Type.String({ pattern: '^[a-z]{0,8}$', default: '' }),
  rateLimitPerSecond: Type.Number({ exclusiveMinimum: 0, default: 100 }),
  rateLimitBurst: Type.Integer({ minimum: 1, default: 200 }),
  authFailuresPerMinute: Type.Integer({ minimum: 1, default: 10 }),
  webhookAllowHttpLoopback: Type.Boolean({ default: false }),
  dbPoolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  /** Live mode: `auto` decides clean customers; `manual` leaves them PENDING for an operator. */
  kycDecision: Type.Union([Type.Literal('auto'), Type.Literal('manual')], { default: 'auto' }),
  /** ISO 3166-1 alpha-2 codes, comma-separated, refused as address or IP country. */
  kycBlockedCountries: Type.String({ pattern: '^([A-Z]{2}(,[A-Z]{2})*)?$', default: 'CU,IR,KP,SY' }),
  /** JSON Lines watchlist; default: the bundled fictional sample list. */
  kycWatchlistFile: Type.Optional(Type.String({ minLength: 1 })),
  /** `network/prefix,CC` lines; default: the bundled table of documentation ranges. */
  kycIpCountryFile: Type.Optional(Type.String({ minLength: 1 })),
  /** Supported (asset, chain) pairs with contracts, decimals and USD prices; default: the bundled data/assets.json. */
  assetsFile: Type.Optional(Type.String({ minLength: 1 })),
  /** How often an idle evaluation worker looks for due jobs. */
  evaluationPollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
  /** Whether the server also runs the background work (deliveries, evaluations); off when `oms worker` processes do it. */
  backgroundWork: Type.Boolean({ default: true }),
  /** How often an idle webhook dispatcher looks for due deliveries (retries come due without a notification). */
  webhookPollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
  /** An endpoint whose deliveries have all failed for this long is disabled when one runs out of attempts. */
  webhookDisableAfterHours: Type.Number({ exclusiveMinimum: 0, default: 72 }),
  /** Exchange rates and fee schedules; default: the bundled data/pricing.json. */
  pricingFile: Type.Optional(Type.String({ minLength: 1 })),
  /** How long a quote stays open. */
  quoteTtlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  /** How often an idle settlement worker looks for due transactions. */
  settlementPollMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
  /** How long the simulated chain takes to confirm a transfer to an outside address. */
  simulatedChainConfirmationMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 2_000 }),
});

export type Config = Static<typeof ConfigSchema>;

const ENV_NAMES: Record<keyof Config, string> = {
  port: 'PORT',
  host: 'HOST',
  databaseUrl: 'DATABASE_URL',
  dataDir: 'OMS_DATA_DIR',
  masterKey: 'OMS_MASTER_KEY',
  previousMasterKeys: 'OMS_MASTER_KEY_PREVIOUS',
  adminToken: 'OMS_ADMIN_TOKEN',
  logLevel: 'OMS_LOG_LEVEL',
  tokenIssuer: 'OMS_TOKEN_ISSUER',
  keyEnvironment: 'OMS_KEY_ENVIRONMENT',
  rateLimitPerSecond: 'OMS_RATE_LIMIT_PER_SECOND',
  rateLimitBurst: 'OMS_RATE_LIMIT_BURST',
  authFailuresPerMinute: 'OMS_AUTH_FAILURES_PER_MINUTE',
  webhookAllowHttpLoopback: 'OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK',
  dbPoolSize: 'OMS_DB_POOL_SIZE',
  kycDecision: 'OMS_KYC_DECISION',
  kycBlockedCountries: 'OMS_KYC_BLOCKED_COUNTRIES',
  kycWatchlistFile: 'OMS_KYC_WATCHLIST_FILE',
  kycIpCountryFile: 'OMS_KYC_IP_COUNTRY_FILE',
  evaluationPollMs: 'OMS_EVALUATION_POLL_MS',
  webhookPollMs: 'OMS_WEBHOOK_POLL_MS',
  backgroundWork: 'OMS_BACKGROUND_WORK',
  webhookDisableAfterHours: 'OMS_WEBHOOK_DISABLE_AFTER_HOURS',
  assetsFile: 'OMS_ASSETS_FILE',
  pricingFile: 'OMS_PRICING_FILE',
  quoteTtlSeconds: 'OMS_QUOTE_TTL_SECONDS',
  settlementPollMs: 'OMS_SETTLEMENT_POLL_MS',
  simulatedChainConfirmationMs: 'OMS_SIMULATED_CHAIN_CONFIRMATION_MS',
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (const flag of ['webhookAllowHttpLoopback', 'backgroundWork'] as const) {
    if (raw[flag] !== undefined) raw[flag] = raw[flag] === '1' || raw[flag] === 'true';
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  if (!Value.Check(ConfigSchema, withDefaults)) {
    const problems = [...Value.Errors(ConfigSchema, withDefaults)].map((e) => {
      const key = e.instancePath.slice(1) as keyof Config;
      return `${ENV_NAMES[key] ?? key}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = withDefaults as Config;
  return { ...config, dataDir: path.resolve(config.dataDir) };
}
