import Type, { type Static } from 'typebox';
import { COUNTRY_CODES } from '../../domain/countries.js';
import { ENDORSEMENT_NAMES, ENDORSEMENT_STATUSES, type EndorsementStatus } from '../../domain/endorsements.js';
import { PageOf, PageQueryFields } from '../../http/pagination.js';
import { component, Metadata, metadataShape, Nullable, Timestamp } from '../../http/schema-helpers.js';

const Text = (description?: string) => Type.String({ minLength: 1, maxLength: 255, ...(description ? { description } : {}) });
const CountryComponent = component('CountryCode', Type.Unsafe<string>({ type: 'string', enum: [...COUNTRY_CODES], description: 'ISO 3166-1 alpha-2' }));
const Country = CountryComponent.ref;
const Email = Type.String({ format: 'email', maxLength: 255 });
const Phone = Type.String({ format: 'e164-phone', maxLength: 16, description: 'E.164, e.g. +12125551234' });

const ResidentialAddressSchema = Type.Object(
  {
    line1: Text(),
    line2: Type.Optional(Text()),
    city: Text(),
    state: Type.Optional(Text()),
    country: Country,
    zipCode: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  },
  { additionalProperties: false, description: 'Write-only.' },
);
const ResidentialAddressComponent = component('ResidentialAddress', ResidentialAddressSchema);

export const IDENTITY_DOCUMENT_TYPES = ['ssn', 'itin', 'driversLicense', 'passport', 'nationalId'] as const;

const IdentifyingDocumentSchema = Type.Object(
  {
    type: Type.Unsafe<(typeof IDENTITY_DOCUMENT_TYPES)[number]>({ type: 'string', enum: [...IDENTITY_DOCUMENT_TYPES] }),
    issuingCountry: Country,
    number: Type.String({ minLength: 1, maxLength: 64 }),
    expiresOn: Type.Optional(Type.String({ format: 'date' })),
  },
  { additionalProperties: false, description: 'Write-only.' },
);
const IdentifyingDocumentComponent = component('IdentifyingDocument', IdentifyingDocumentSchema);

const EndorsementName = Type.Unsafe<(typeof ENDORSEMENT_NAMES)[number]>({ type: 'string', enum: [...ENDORSEMENT_NAMES] });

const MetadataPatch = Type.Unsafe<Record<string, string | null>>(
  metadataShape({ type: ['string', 'null'], maxLength: 500 }, 'Merged into the stored metadata; a key set to null is removed.'),
);

/** Fields POST and PATCH share; PII fields are accepted and never returned. */
const writableFields = {
  firstName: Type.Optional(Text()),
  middleName: Type.Optional(Text()),
  lastName: Type.Optional(Text()),
  email: Type.Optional(Email),
  phone: Type.Optional(Phone),
  nationality: Type.Optional(Country),
  externalId: Type.Optional(Text("The developer's own user id; unique within the project and mode.")),
  signedAgreement: Type.Optional(Type.Boolean({ description: 'One-way: once true it cannot be set back to false.' })),
  birthDate: Type.Optional(Type.String({ format: 'past-date', description: 'Write-only. YYYY-MM-DD.' })),
  ipAddress: Type.Optional(Type.String({ format: 'ip-address', description: 'Write-only.' })),
  residentialAddress: Type.Optional(ResidentialAddressComponent.ref),
  identifyingInformation: Type.Optional(
    Type.Array(IdentifyingDocumentComponent.ref, {
      maxItems: 10,
      description: 'Write-only. Appends; an entry with the type and issuingCountry of an existing one replaces it.',
    }),
  ),
  endorsements: Type.Optional(
    Type.Array(EndorsementName, { uniqueItems: true, maxItems: 3, description: 'Endorsements to request; existing ones are kept.' }),
  ),
};

export const CustomerCreate = Type.Object(
  {
    type: Type.Optional(Type.Literal('individual', { default: 'individual' })),
    ...writableFields,
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const CustomerPatch = Type.Object(
  { ...writableFields, metadata: Type.Optional(MetadataPatch) },
  { additionalProperties: false, description: 'Only the fields sent change. PII fields are write-only.' },
);

const Requirements = Type.Object({
  complete: Type.Array(Type.String()),
  pending: Type.Array(Type.String()),
  missing: Type.Array(Type.String()),
  issues: Type.Array(Type.String()),
});

const EndorsementComponent = component('Endorsement', Type.Object({
  name: EndorsementName,
  status: Type.Unsafe<EndorsementStatus>({ type: 'string', enum: [...ENDORSEMENT_STATUSES] }),
  requirements: Requirements,
  rejectionReasons: Type.Array(Type.Object({ developerReason: Type.String(), reason: Type.String() })),
  updatedAt: Timestamp,
}));

const CustomerWalletComponent = component('CustomerWallet', Type.Object({
  id: Type.String(),
  type: Type.Literal('custodial'),
  address: Type.String(),
  network: Type.String(),
  asset: Type.String(),
  balance: Type.String(),
  estimatedValueUsd: Type.String(),
  createdAt: Timestamp,
}));

const CustomerComponent = component('Customer', Type.Object(
  {
    id: Type.String({ examples: ['cst_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    object: Type.Literal('customer'),
    type: Type.Literal('individual'),
    firstName: Nullable(Type.String()),
    middleName: Nullable(Type.String()),
    lastName: Nullable(Type.String()),
    email: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    nationality: Nullable(Type.String()),
    externalId: Nullable(Type.String()),
    status: Type.Unsafe<'active' | 'inactive'>({ type: 'string', enum: ['active', 'inactive'] }),
    signedAgreement: Type.Boolean(),
    signedAgreementAt: Nullable(Type.String({ format: 'date-time' })),
    wallets: Type.Array(CustomerWalletComponent.ref),
    endorsements: Type.Array(EndorsementComponent.ref),
    metadata: Type.Record(Type.String(), Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'PII fields (birthDate, residentialAddress, ipAddress, identifyingInformation) are write-only.' },
));
export const Customer = CustomerComponent.ref;

export const CustomerListQuery = Type.Object(
  {
    ...PageQueryFields,
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'Alias of startingAfter.' })),
    status: Type.Optional(Type.Unsafe<'active' | 'inactive'>({ type: 'string', enum: ['active', 'inactive'] })),
    email: Type.Optional(Type.String({ maxLength: 255 })),
    externalId: Type.Optional(Type.String({ maxLength: 255 })),
  },
  { additionalProperties: false },
);

export const CustomerList = Type.Object({
  ...PageOf(Customer).properties,
  cursor: Nullable(Type.String({ description: 'Same value as nextCursor.' })),
});

/** Named schemas of this module, registered on the app. */
export const customerComponents = [
  CountryComponent,
  ResidentialAddressComponent,
  IdentifyingDocumentComponent,
  EndorsementComponent,
  CustomerWalletComponent,
  CustomerComponent,
].map((c) => c.schema);

export type CustomerCreateBody = Static<typeof CustomerCreate>;
export type CustomerPatchBody = Static<typeof CustomerPatch>;
export type CustomerView = Static<typeof Customer>;
export type CustomerWalletView = CustomerView['wallets'][number];
export type CustomerListQueryParams = Static<typeof CustomerListQuery>;
export type IdentifyingDocumentInput = Static<typeof IdentifyingDocumentSchema>;
export type ResidentialAddressInput = Static<typeof ResidentialAddressSchema>;
