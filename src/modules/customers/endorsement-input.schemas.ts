import Type from 'typebox';
import { ISSUE_CODES, type IssueCode } from '../../compliance/checks/issue-codes.js';
import { ENDORSEMENT_NAMES, type EndorsementName } from '../../domain/endorsements.js';

/** What a caller may say about an endorsement's outcome: shared by sandbox controls and operator decisions. */

export const EndorsementNameParam = Type.Unsafe<EndorsementName>({ type: 'string', enum: [...ENDORSEMENT_NAMES] });

export const IssueCodesInput = (description: string) =>
  Type.Array(Type.Unsafe<IssueCode>({ type: 'string', enum: [...ISSUE_CODES] }), { minItems: 1, uniqueItems: true, description });

export const RejectionReasonsInput = (description: string) =>
  Type.Array(
    Type.Object(
      { developerReason: Type.String({ minLength: 1, maxLength: 500 }), reason: Type.String({ minLength: 1, maxLength: 500 }) },
      { additionalProperties: false },
    ),
    { minItems: 1, maxItems: 10, description },
  );
