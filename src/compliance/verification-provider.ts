import { isExpired, isUnderAge } from './checks/age.js';
import type { IpCountryTable } from './checks/ip-country.js';
import type { IssueCode } from './checks/issue-codes.js';
import { isValidItin, isValidSsn } from './checks/tax-id.js';
import type { SanctionsHit, SanctionsMatcher } from './sanctions/matcher.js';
import { fullName, type ComplianceSubject } from './subject.js';

/** What a provider found about one customer. It decides nothing: the evaluation does. */
export interface VerificationResult {
  /** Problems the customer can fix. */
  issues: IssueCode[];
  /** A possible watchlist match: never decided automatically, always reviewed. */
  sanctionsHit?: SanctionsHit | undefined;
}

/**
 * The seam where a KYC vendor plugs in. `verify` may call out over the network: the
 * evaluation worker calls it outside any database transaction.
 */
export interface VerificationProvider {
  readonly name: string;
  verify(subject: ComplianceSubject, today: Date): Promise<VerificationResult>;
}

export interface LocalProviderOptions {
  blockedCountries: ReadonlySet<string>;
  ipCountries: IpCountryTable;
  sanctions: SanctionsMatcher;
}

/** The built-in provider: local rules and lists, no network. */
export function createLocalVerificationProvider({ blockedCountries, ipCountries, sanctions }: LocalProviderOptions): VerificationProvider {
  return {
    name: 'local',
    async verify(subject, today) {
      const issues: IssueCode[] = [];
      if (subject.birthDate !== undefined && isUnderAge(subject.birthDate, today)) issues.push('underAge');
      const documents = subject.identifyingInformation ?? [];
      const taxIdValid = (doc: (typeof documents)[number]) =>
        doc.type === 'ssn' ? isValidSsn(doc.number) : doc.type === 'itin' ? isValidItin(doc.number) : true;
      if (!documents.every(taxIdValid)) issues.push('invalidTaxId');
      if (documents.some((doc) => doc.expiresOn !== undefined && isExpired(doc.expiresOn, today))) issues.push('documentExpired');
      const ipCountry = subject.ipAddress === undefined ? undefined : ipCountries.countryOf(subject.ipAddress);
      const countries = [subject.residentialAddress?.country, ipCountry].filter((c) => c !== undefined);
      if (countries.some((country) => blockedCountries.has(country))) issues.push('blockedJurisdiction');
      const name = fullName(subject);
      return { issues, sanctionsHit: name === '' ? undefined : sanctions.screen(name) };
    },
  };
}
