import { HDKey } from '@scure/bip32';
import { privateKeyToAddress } from 'viem/accounts';
import { toHex } from 'viem';

/**
 * The only place private keys exist: derived in memory from the master seed, used to compute
 * an address, never returned, logged or stored. EVM accounts follow BIP-44 for Ethereum
 * (m/44'/60'/0'/0/index); every EVM chain shares the customer's one address.
 */
const EVM_ACCOUNT_PATH = "m/44'/60'/0'/0";

export interface EvmKeyTree {
  /** The EIP-55 checksummed address at this index. */
  addressAt(index: number): `0x${string}`;
}

export function evmKeyTree(seed: Uint8Array): EvmKeyTree {
  const account = HDKey.fromMasterSeed(seed).derive(EVM_ACCOUNT_PATH);
  return {
    addressAt(index) {
      if (!Number.isInteger(index) || index < 0 || index >= 2 ** 31) throw new Error(`derivation index out of range: ${index}`);
      const privateKey = account.deriveChild(index).privateKey;
      if (!privateKey) throw new Error('the key tree holds no private key');
      return privateKeyToAddress(toHex(privateKey));
    },
  };
}
