/**
 * The plain-JSON ESO request (POST /eso/requests), and the one shape every way in
 * (JSON API, FHIR transaction, HL7 v2 REF^I12) is turned into before intake.
 * docs/eso-request.schema.json is generated from this schema (`npx tsx scripts/gen-schema.ts`);
 * the `.describe()` texts become its descriptions.
 */
import * as z from 'zod';

const nonEmpty = z.string().trim().min(1);
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const dateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/, 'expected an ISO 8601 date or date-time with timezone');

export const HumanNameInput = z.object({
  family: nonEmpty,
  given: z.array(nonEmpty).min(1).optional(),
  prefix: z.array(nonEmpty).optional(),
}).strict();

export const TelecomInput = z.object({
  system: z.enum(['phone', 'email']),
  value: nonEmpty,
}).strict();

export const ClinicianInput = z.object({
  name: HumanNameInput,
  gmc: z.string().regex(/^[A-Z]?\d{7}$/, 'a GMC number is 7 digits, optionally after a letter').optional()
    .describe('GMC reference number; the same number is the same Practitioner'),
  telecom: z.array(TelecomInput).optional(),
}).strict();

export const ParentInput = z.object({
  name: HumanNameInput,
  /** HL7 v2 table 0063 code: MTH, FTH, GRD, ... */
  relationship: z.string().regex(/^[A-Z]{3}$/, 'an HL7 table 0063 code such as MTH or FTH').describe('HL7 v2 table 0063 code: MTH, FTH, PAR, GRD, ...; UNK with relationshipText when the sender gave words, not a code'),
  relationshipText: nonEmpty.optional().describe('The relationship in the sender\'s words (e.g. "Grandmother"), kept as text'),
  parentalResponsibility: z.boolean().describe('Holds parental responsibility for the child (may consent to sharing records)'),
  telecom: z.array(TelecomInput).optional(),
}).strict();

export const IdentifierInput = z.object({
  system: nonEmpty,
  value: nonEmpty,
  /** HL7 v2 table 0203 identifier type code: MR, NH, PI, ... */
  type: z.string().regex(/^[A-Za-z0-9]{1,20}$/).optional().describe('HL7 v2 table 0203 identifier type (MR, NH, PI, ...)'),
  /** The assigning authority's name or code, as sent. */
  assigner: nonEmpty.optional(),
}).strict();

export const NamedInput = HumanNameInput.extend({
  use: z.enum(['usual', 'official', 'temp', 'nickname', 'anonymous', 'old', 'maiden']).optional(),
}).strict();

export const QuestionInput = z.object({
  text: nonEmpty,
  askedBy: z.enum(['family', 'young-person', 'treating-team']).describe('Who asked the question: the family has input into the questions'),
}).strict();

export const RecordInput = z.object({
  title: nonEmpty,
  contentType: nonEmpty,
  /** base64 content, stored as a Binary; or a url where the records already live. */
  data: z.string().regex(/^[A-Za-z0-9+/=\s]+$/, 'base64').optional().describe('The record itself, base64 (stored as a Binary)'),
  url: z.string().url().optional().describe('Where the record already lives, when not sent inline'),
}).strict().refine((r) => r.data !== undefined || r.url !== undefined, { message: 'a record needs data or url' });

export const CodingInput = z.object({
  system: nonEmpty,
  code: nonEmpty,
  display: z.string().optional(),
}).strict();

export const ConsentInput = z.object({
  /** Who gave consent: a parent/carer by index into `parents`, or the young person. */
  givenBy: z.union([
    z.object({ parent: z.number().int().min(0).describe('Index into `parents` of the parent or carer (with parental responsibility) who consented') }).strict(),
    z.object({ youngPerson: z.literal(true).describe('The young person consented themself') }).strict(),
  ]),
  dateTime: dateTime.describe('When consent was given'),
  until: dateTime.describe('When consent to share ends (it can be withdrawn before)'),
}).strict().describe('Consent to share the records with the provider; without it the request waits (businessStatus awaiting-consent) and no records are shared');

export const EsoRequestInput = z.object({
  /** The requester's own identifier for this request: sending it again returns the same case. */
  requestId: z.object({ system: nonEmpty.optional(), value: nonEmpty }).strict()
    .describe('The requester\'s own identifier for this request (system defaults to https://fhir.eso-bridge.nhs.uk/Id/eso-request); sending it again returns the same case'),
  child: z.object({
    nhsNumber: z.string().regex(/^\d{10}$/, 'an NHS number is 10 digits').describe('NHS number, 10 digits without spaces; the check digit is verified'),
    name: HumanNameInput,
    birthDate: date,
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
    identifiers: z.array(IdentifierInput).optional().describe('Every identifier the sender holds for the child (local MRN, ...), kept on the Patient and sent back in return messages'),
    otherNames: z.array(NamedInput).optional().describe('Names besides `name` (the legal one): display names, nicknames, aliases, each with its use'),
  }).strict(),
  requester: z.object({
    /** ODS code of the requesting Trust (or one of its sites). Must be the caller's own organisation. */
    organization: nonEmpty.describe('ODS code of the requesting organisation: the caller\'s own, or one of its sites or teams'),
    consultant: ClinicianInput.describe('The named consultant who leads the request'),
  }).strict(),
  familyAdvocate: ClinicianInput.optional().describe('The family\'s named point of contact for the ESO process'),
  parents: z.array(ParentInput).default([]).describe('Parents and carers; those with parental responsibility may consent'),
  provider: z.object({
    /** ODS code of the provider organisation: at a separate Trust or Health Board. */
    organization: nonEmpty.describe('ODS code of the provider organisation; it must already be in the directory and belong to another Trust or Health Board'),
    specialist: ClinicianInput.optional().describe('The specialist asked to give the opinion'),
    /** A professional body that recommended the provider, if any. */
    recommendedBy: z.string().optional(),
  }).strict(),
  reason: z.object({
    text: nonEmpty,
    codes: z.array(CodingInput).optional(),
  }).strict(),
  clinicalSummary: nonEmpty.optional(),
  urgency: z.enum(['routine', 'urgent', 'asap', 'stat']).default('routine')
    .describe('ServiceRequest/Task priority; urgent, asap and stat get a due date (default +14, +7, +2 days). The ESO never holds up treatment'),
  /** Date the opinion is needed by; urgent and stat requests get one by default. */
  dueDate: date.optional().describe('Date the opinion is needed by (the end of that day, UTC)'),
  authoredOn: dateTime.optional().describe('When the request was made; default: now'),
  reviewKind: z.enum(['visit', 'outpatient', 'records-only']).optional().describe('How the provider will review: inpatient visit, outpatient appointment or records only'),
  questions: z.array(QuestionInput).min(1, 'an ESO request needs at least one question').describe('The questions put to the provider; the report must answer each one'),
  familyStatement: nonEmpty.optional().describe('The child behind the numbers: quality of life, what is normal for them, in the family\'s words'),
  records: z.array(RecordInput).default([]).describe('Records to share with the provider under the consent'),
  consent: ConsentInput.optional(),
}).strict();

export type EsoRequestInput = z.infer<typeof EsoRequestInput>;
export type EsoRequestInputRaw = z.input<typeof EsoRequestInput>;
