import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { packageRoot } from '../../src/package-root.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDatabase: string;
    runId: string;
  }
}

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set (CI runs the suite both ways),
 * otherwise an embedded cluster in .test-data/. A migrated template database is made once;
 * every test file clones it.
 */
export default async function setup(project: TestProject) {
  let cluster: EmbeddedCluster | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    // Per run, so that runs side by side (or a previous run's leftovers) never share a cluster.
    dataDir = path.join(packageRoot, '.test-data', `embedded-${process.pid}`);
    await fs.rm(dataDir, { recursive: true, force: true });
    cluster = await startEmbeddedCluster(dataDir, { info: () => undefined, warn: () => undefined }, 'server');
    adminUrl = cluster.url;
  }
  const runId = randomBytes(4).toString('hex');
  const templateDatabase = `oms_tmpl_${runId}`;
  await adminQuery(adminUrl, `create database ${templateDatabase}`);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, templateDatabase), max: 1 });
  await migrate(pool);
  await pool.end();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('runId', runId);

  return async () => {
    const dbs = await adminQuery(adminUrl, `select datname from pg_database where datname like 'oms_t_${runId}_%' or datname = '${templateDatabase}'`);
    for (const { datname } of dbs) await adminQuery(adminUrl, `drop database if exists ${datname} with (force)`);
    await cluster?.stop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function adminQuery(url: string, text: string): Promise<{ datname: string }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ datname: string }>(text)).rows;
  } finally {
    await client.end();
  }
}
