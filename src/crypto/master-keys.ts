import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { open, seal } from './aead.js';

export interface Sealed {
  sealed: Buffer;
  masterKeyId: string;
}

/**
 * The master keys: the primary seals, any of them opens. Keys are named by a fingerprint
 * stored beside each sealed value, so a rotation can run while older values still exist.
 */
export interface MasterKeyring {
  readonly primaryId: string;
  seal(plaintext: Buffer, aad: string): Sealed;
  open(value: Sealed, aad: string): Buffer;
  has(masterKeyId: string): boolean;
}

export function createMasterKeyring(keys: Buffer[]): MasterKeyring {
  const [primary] = keys;
  if (!primary) throw new ConfigError('no master key');
  const byId = new Map(keys.map((k) => [fingerprint(k), k]));
  const primaryId = fingerprint(primary);
  return {
    primaryId,
    seal: (plaintext, aad) => ({ sealed: seal(primary, plaintext, aad), masterKeyId: primaryId }),
    open(value, aad) {
      const key = byId.get(value.masterKeyId);
      if (!key) throw new Error(`master key ${value.masterKeyId} is not configured`);
      return open(key, value.sealed, aad);
    },
    has: (id) => byId.has(id),
  };
}

export function fingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function decodeMasterKey(base64: string, name: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== base64.trim()) {
    throw new ConfigError(`${name} must be 32 bytes in base64`);
  }
  return key;
}

export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}

export const MASTER_KEY_FILE = 'master.key';

/**
 * OMS_MASTER_KEY (plus OMS_MASTER_KEY_PREVIOUS during a rotation) when set. Otherwise, for
 * the embedded database only, a key file in the data directory, generated on first use;
 * an external database without a configured key is refused, since a key stored beside
 * nothing but the database would be lost with the machine.
 */
export async function loadMasterKeyring(
  config: Config,
  warn: (msg: string) => void,
): Promise<MasterKeyring> {
  if (config.masterKey) {
    const previous = (config.previousMasterKeys ?? '').split(',').filter((k) => k.trim() !== '');
    return createMasterKeyring([
      decodeMasterKey(config.masterKey, 'OMS_MASTER_KEY'),
      ...previous.map((k) => decodeMasterKey(k, 'OMS_MASTER_KEY_PREVIOUS')),
    ]);
  }
  if (config.databaseUrl) {
    throw new ConfigError('OMS_MASTER_KEY is required when DATABASE_URL is set (generate one with: npx oms master-key generate)');
  }
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  const lines = await readKeyFile(file);
  if (lines.length === 0) {
    await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    await fs.writeFile(file, `${generateMasterKey()}\n`, { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    warn(`OMS_MASTER_KEY is not set: generated a master key in ${file}; back it up, or set OMS_MASTER_KEY`);
    return loadMasterKeyring(config, warn);
  }
  return createMasterKeyring(lines.map((k) => decodeMasterKey(k, file)));
}

/** The data directory's key file: the primary key on the first line, older keys after it. */
export async function readKeyFile(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}
