import Type, { type Static } from 'typebox';
import { ISSUE_CODES } from '../../compliance/checks/issue-codes.js';
import { ENDORSEMENT_NAMES, ENDORSEMENT_STATUSES, type EndorsementName, type EndorsementStatus } from '../../domain/endorsements.js';

export const ForceEndorsementParams = Type.Object({
  customerId: Type.String({ examples: ['cst_01jd8x3mc6eskv4hzbmt9hdby7'] }),
  name: Type.Unsafe<EndorsementName>({ type: 'string', enum: [...ENDORSEMENT_NAMES] }),
});

export const ForceEndorsementBody = Type.Object(
  {
    status: Type.Unsafe<EndorsementStatus>({ type: 'string', enum: [...ENDORSEMENT_STATUSES] }),
    issues: Type.Optional(
      Type.Array(Type.Unsafe<(typeof ISSUE_CODES)[number]>({ type: 'string', enum: [...ISSUE_CODES] }), {
        minItems: 1,
        uniqueItems: true,
        description: 'For ISSUES and REVOKED_ISSUES; default ["identityMismatch"].',
      }),
    ),
    rejectionReasons: Type.Optional(
      Type.Array(
        Type.Object(
          { developerReason: Type.String({ minLength: 1, maxLength: 500 }), reason: Type.String({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 10, description: 'For REJECTED; a sample reason by default.' },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ForceEndorsementBodyType = Static<typeof ForceEndorsementBody>;
