import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedCluster } from '../src/db/embedded.js';
import { cleanUp, tempRoot } from './support/processes.js';

const quiet = { info: () => undefined, warn: () => undefined };

afterAll(cleanUp);

/** Where the server's connection to the cluster arrives from: null over a Unix socket. */
async function clientAddress(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ addr: string | null }>('select inet_client_addr()::text as addr')).rows[0]!.addr;
  } finally {
    await client.end();
  }
}

describe('the embedded cluster', () => {
  it('serves the server over a Unix socket in its directory, and keeps TCP open for tools', async () => {
    const dataDir = path.join(await tempRoot('oms-emb-'), 'data');
    const cluster = await startEmbeddedCluster(dataDir, quiet, 'server');
    try {
      expect(new URL(cluster.url).searchParams.get('host')).toBe(path.join(dataDir, 'pg'));
      expect(await clientAddress(cluster.url)).toBeNull();
      const tcp = new URL(cluster.url);
      tcp.searchParams.delete('host');
      expect(await clientAddress(tcp.toString())).toBe('127.0.0.1/32');
    } finally {
      await cluster.stop();
    }
  });

  it('uses TCP alone when the socket path would not fit', async () => {
    const dataDir = path.join(await tempRoot('oms-emb-'), 'a-data-directory-whose-path-is-longer-than-any-unix-socket-path-may-be', 'data');
    const cluster = await startEmbeddedCluster(dataDir, quiet, 'server');
    try {
      expect(new URL(cluster.url).searchParams.has('host')).toBe(false);
      expect(await clientAddress(cluster.url)).toBe('127.0.0.1/32');
    } finally {
      await cluster.stop();
    }
  });
});
