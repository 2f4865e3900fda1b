/**
 * The plain-JSON ESO request (POST /eso/requests), and the one shape every way in
 * (JSON API, FHIR transaction, HL7 v2 REF^I12) is turned into before intake.
 * docs/eso-request.schema.json is generated from this schema (npm run schema).
 */
import { z } from 'zod';

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
  gmc: z.string().regex(/^[A-Z]?\d{7}$/, 'a GMC number is 7 digits, optionally after a letter').optional(),
  telecom: z.array(TelecomInput).optional(),
}).strict();

export const ParentInput = z.object({
  name: HumanNameInput,
  /** HL7 v2 table 0063 code: MTH, FTH, GRD, ... */
  relationship: z.string().regex(/^[A-Z]{3}$/, 'an HL7 table 0063 code such as MTH or FTH'),
  parentalResponsibility: z.boolean(),
  telecom: z.array(TelecomInput).optional(),
}).strict();

export const QuestionInput = z.object({
  text: nonEmpty,
  askedBy: z.enum(['family', 'young-person', 'treating-team']),
}).strict();

export const RecordInput = z.object({
  title: nonEmpty,
  contentType: nonEmpty,
  /** base64 content, stored as a Binary; or a url where the records already live. */
  data: z.string().regex(/^[A-Za-z0-9+/=\s]+$/, 'base64').optional(),
  url: z.string().url().optional(),
}).strict().refine((r) => r.data !== undefined || r.url !== undefined, { message: 'a record needs data or url' });

export const CodingInput = z.object({
  system: nonEmpty,
  code: nonEmpty,
  display: z.string().optional(),
}).strict();

export const ConsentInput = z.object({
  /** Who gave consent: a parent/carer by index into `parents`, or the young person. */
  givenBy: z.union([
    z.object({ parent: z.number().int().min(0) }).strict(),
    z.object({ youngPerson: z.literal(true) }).strict(),
  ]),
  dateTime: dateTime,
  until: dateTime,
}).strict();

export const EsoRequestInput = z.object({
  /** The requester's own identifier for this request: sending it again returns the same case. */
  requestId: z.object({ system: nonEmpty.optional(), value: nonEmpty }).strict(),
  child: z.object({
    nhsNumber: z.string().regex(/^\d{10}$/, 'an NHS number is 10 digits'),
    name: HumanNameInput,
    birthDate: date,
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
  }).strict(),
  requester: z.object({
    /** ODS code of the requesting Trust (or one of its sites). Must be the caller's own organisation. */
    organization: nonEmpty,
    consultant: ClinicianInput,
  }).strict(),
  familyAdvocate: ClinicianInput.optional(),
  parents: z.array(ParentInput).default([]),
  provider: z.object({
    /** ODS code of the provider organisation: at a separate Trust or Health Board. */
    organization: nonEmpty,
    specialist: ClinicianInput.optional(),
    /** A professional body that recommended the provider, if any. */
    recommendedBy: z.string().optional(),
  }).strict(),
  reason: z.object({
    text: nonEmpty,
    codes: z.array(CodingInput).optional(),
  }).strict(),
  clinicalSummary: nonEmpty.optional(),
  urgency: z.enum(['routine', 'urgent', 'asap', 'stat']).default('routine'),
  /** Date the opinion is needed by; urgent and stat requests get one by default. */
  dueDate: date.optional(),
  authoredOn: dateTime.optional(),
  reviewKind: z.enum(['visit', 'outpatient', 'records-only']).optional(),
  questions: z.array(QuestionInput).min(1, 'an ESO request needs at least one question'),
  familyStatement: nonEmpty.optional(),
  records: z.array(RecordInput).default([]),
  consent: ConsentInput,
}).strict();

export type EsoRequestInput = z.infer<typeof EsoRequestInput>;
export type EsoRequestInputRaw = z.input<typeof EsoRequestInput>;
