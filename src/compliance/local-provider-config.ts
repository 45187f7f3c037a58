import path from 'node:path';
import type { Config } from '../config.js';
import { packageRoot } from '../package-root.js';
import { readIpCountryFile } from './checks/ip-country.js';
import { createSanctionsMatcher } from './sanctions/matcher.js';
import { readWatchlistFile } from './sanctions/watchlist-file.js';
import { createLocalVerificationProvider, type VerificationProvider } from './verification-provider.js';

/** The bundled lists: fictional sample data and documentation address ranges, for tests and trials. */
const BUNDLED_WATCHLIST = path.join(packageRoot, 'data', 'compliance', 'watchlist.jsonl');
const BUNDLED_IP_COUNTRIES = path.join(packageRoot, 'data', 'compliance', 'ip-country.csv');

/** The built-in provider with the lists the configuration names (read once, at start). */
export function localProviderFromConfig(config: Config): VerificationProvider {
  return createLocalVerificationProvider({
    blockedCountries: new Set(config.kycBlockedCountries.split(',').filter((c) => c !== '')),
    ipCountries: readIpCountryFile(config.kycIpCountryFile ?? BUNDLED_IP_COUNTRIES),
    sanctions: createSanctionsMatcher(readWatchlistFile(config.kycWatchlistFile ?? BUNDLED_WATCHLIST)),
  });
}
