import { pbkdf2Sync } from 'node:crypto';
import { isAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCustody } from '../src/custody/custody.js';
import { evmKeyTree } from '../src/custody/hd-keys.js';
import type { Scope } from '../src/domain/scope.js';
import { startTestApp, type TestApp } from './support/harness.js';

/** Issue 4, custody: derived, checksummed, stable and unique addresses; a seed that never appears in clear. */

/** The BIP-39 test mnemonic's seed (empty passphrase), whose Ethereum addresses are published widely. */
const TEST_SEED = pbkdf2Sync('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', 'mnemonic', 2048, 64, 'sha512');

describe('EVM key derivation', () => {
  it("derives the known addresses of the test seed at m/44'/60'/0'/0/i, with EIP-55 checksums", () => {
    const tree = evmKeyTree(TEST_SEED);
    expect([0, 1, 2].map((i) => tree.addressAt(i))).toEqual([
      '0x9858EfFD232B4033E47d90003D41EC34EcaEda94',
      '0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0',
      '0xb6716976A3ebe8D39aCEB04372f22Ff8e6802D7A',
    ]);
    for (const i of [0, 1, 2, 1000]) expect(isAddress(tree.addressAt(i), { strict: true })).toBe(true);
  });

  it('refuses an index outside the non-hardened range', () => {
    const tree = evmKeyTree(TEST_SEED);
    expect(() => tree.addressAt(-1)).toThrow();
    expect(() => tree.addressAt(2 ** 31)).toThrow();
  });
});

describe('custody', () => {
  let t: TestApp;
  let scope: Scope;
  beforeAll(async () => {
    t = await startTestApp();
    scope = { projectId: t.api.credentials.projectId, mode: 'sandbox' };
  });
  afterAll(() => t.close());

  async function customer(): Promise<string> {
    const res = await t.api.post('/v0.9/customers', {});
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it('gives a customer one address, the same on every call and after a restart', async () => {
    const id = await customer();
    const before = await openCustody({ db: t.db, keyring: t.keyring });
    const first = await t.db.transaction().execute((trx) => before.evmAddressOf(trx, scope, id));
    // A second process, or this one restarted: it loads the same sealed seed.
    const after = await openCustody({ db: t.db, keyring: t.keyring });
    const again = await t.db.transaction().execute((trx) => after.evmAddressOf(trx, scope, id));
    expect(isAddress(first, { strict: true })).toBe(true);
    expect(again).toBe(first);
  });

  it('gives different customers different addresses, also when asked at the same time', async () => {
    const custody = await openCustody({ db: t.db, keyring: t.keyring });
    const ids = await Promise.all(Array.from({ length: 20 }, customer));
    const addresses = await Promise.all(ids.map((id) => t.db.transaction().execute((trx) => custody.evmAddressOf(trx, scope, id))));
    expect(new Set(addresses).size).toBe(ids.length);
    // The same customer asked twice at once still ends with one address.
    const id = await customer();
    const raced = await Promise.all([0, 1, 2].map(() => t.db.transaction().execute((trx) => custody.evmAddressOf(trx, scope, id))));
    expect(new Set(raced).size).toBe(1);
  });

  it('keeps the seed sealed: the stored value is not 64 bytes of seed, and opens only with the master key', async () => {
    const row = await t.db.selectFrom('sealed_secrets').select(['name', 'sealed']).where('name', '=', 'custody.bip32_seed').executeTakeFirstOrThrow();
    expect(row.sealed.length).toBeGreaterThan(64);
    const { rows } = await t.pool.query(`select address from customer_addresses`);
    const derivedFromStoredBytes = evmKeyTree(row.sealed.subarray(0, 64)).addressAt(0);
    expect(rows.map((r: { address: string }) => r.address)).not.toContain(derivedFromStoredBytes);
  });
});
