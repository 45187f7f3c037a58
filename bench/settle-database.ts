import pg from 'pg';

/**
 * Brings the database to rest before a measured run: the cleanup and statistics that earlier
 * writes left due (autovacuum, ANALYZE) and their dirty pages (a checkpoint) are done now,
 * rather than inside whichever run comes next. Interleaved runs of a server and its floor
 * otherwise pay for each other's writes, the floor most often, since it follows the server,
 * which writes more tables. Called after a run's warm-up: statistics taken while the tables
 * were nearly empty would have the connections plan their lookups as scans, and keep those
 * plans while the measured run grows the tables.
 */
export async function settleDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('vacuum analyze');
    await client.query('checkpoint');
  } finally {
    await client.end();
  }
}
