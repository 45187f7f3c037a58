import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal } from './aead.js';
import { createMasterKeyring } from './master-keys.js';

describe('AES-256-GCM sealing', () => {
  const key = randomBytes(32);

  it('opens what it sealed, and nothing that was changed', () => {
    const sealed = seal(key, Buffer.from('secret'), 'row:1');
    expect(open(key, sealed, 'row:1').toString()).toBe('secret');
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(() => open(key, tampered, 'row:1')).toThrow();
    }
  });

  it('binds the ciphertext to its associated data and key', () => {
    const sealed = seal(key, Buffer.from('secret'), 'row:1');
    expect(() => open(key, sealed, 'row:2')).toThrow();
    expect(() => open(randomBytes(32), sealed, 'row:1')).toThrow();
  });

  it('uses a fresh IV every time', () => {
    expect(seal(key, Buffer.from('same'), 'a').equals(seal(key, Buffer.from('same'), 'a'))).toBe(false);
  });
});

describe('master keyring', () => {
  it('seals with the primary and opens with any key it holds', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = createMasterKeyring([oldKey]).seal(Buffer.from('dek'), 'aad');
    const rotated = createMasterKeyring([newKey, oldKey]);
    expect(rotated.open(before, 'aad').toString()).toBe('dek');
    expect(rotated.seal(Buffer.from('dek'), 'aad').masterKeyId).toBe(rotated.primaryId);
    expect(() => createMasterKeyring([newKey]).open(before, 'aad')).toThrow(/not configured/);
  });
});
