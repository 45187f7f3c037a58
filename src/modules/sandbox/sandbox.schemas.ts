import Type from 'typebox';
import { ENDORSEMENT_STATUSES, type EndorsementStatus } from '../../domain/endorsements.js';
import { EndorsementNameParam, IssueCodesInput, RejectionReasonsInput } from '../customers/endorsement-input.schemas.js';

export const ForceEndorsementParams = Type.Object({
  customerId: Type.String({ examples: ['cst_01jd8x3mc6eskv4hzbmt9hdby7'] }),
  name: EndorsementNameParam,
});

export const ForceEndorsementBody = Type.Object(
  {
    status: Type.Unsafe<EndorsementStatus>({ type: 'string', enum: [...ENDORSEMENT_STATUSES] }),
    issues: Type.Optional(IssueCodesInput('For ISSUES and REVOKED_ISSUES; default ["identityMismatch"].')),
    rejectionReasons: Type.Optional(RejectionReasonsInput('For REJECTED; a sample reason by default.')),
  },
  { additionalProperties: false },
);
