import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllowedSenders, parseEprEndpoints, senderAllowList } from '../../../src/hl7/hl7-config.ts';
import { loadInboundMapping, MAPPINGS_DIR } from '../../../src/hl7/mapping-types.ts';
import { V2Message } from '../../../src/hl7/v2-message.ts';
import { parseV2Path, readPath } from '../../../src/hl7/v2-path.ts';
import { loadAllMappings, renderReadme } from '../../../scripts/gen-mappings-readme.ts';
import { sample } from './samples.ts';

describe('mapping files', () => {
  it('when every mappings/*.json is loaded, then each validates and mappings/README.md is up to date (npx tsx scripts/gen-mappings-readme.ts)', () => {
    const files = loadAllMappings();
    expect(files.map((f) => f.name)).toEqual(['ORU_R01.from-fhir', 'REF_I12.to-request', 'RRI_I12.from-fhir']);
    expect(readFileSync(new URL('README.md', MAPPINGS_DIR), 'utf8')).toBe(renderReadme(files));
  });

  it('when every v2 path in the REF^I12 mapping is parsed, then none is malformed', () => {
    const m = loadInboundMapping('REF_I12.to-request');
    const paths = m.rules.flatMap((r) => ('forEach' in r ? [r.forEach, ...r.fields.flatMap((f) => [f.source].flat())] : 'source' in r ? [r.source].flat() : []));
    for (const p of paths) expect(() => parseV2Path(p)).not.toThrow();
  });

  it('when the README is generated, then it has one row per mapped field', () => {
    const readme = renderReadme(loadAllMappings());
    expect(readme).toContain('| `PID-3[4.1\\|4.2=NHS\\|2.16.840.1.113883.2.1.4.1].1` or `PID-3[5=NH\\|NHS\\|NHSNUMBER\\|NHSNMBR;4.1=;4.2=].1` or `PID-2[4.1\\|4.2=NHS\\|2.16.840.1.113883.2.1.4.1].1` or `PID-2[4.1=;4.2=].1` or `PID-19.1` | `child.nhsNumber` | nhsNumber |');
    expect(readme).toContain('| RF1-1.1 | `kind` | code | referralStatus | yes |');
  });
});

describe('v2 paths', () => {
  const msg = V2Message.parse(sample('REF_I12-v251-inpatient-urgent'));
  it.each([
    ['PRD[1.1=RT]-4.4', ['SGH01']],
    ['PRD[1=RP]-7[2=GMC].1', ['C2345678']],
    ['PID-3[5=MR].1', ['RA7123456']],
    ['PID-3[*].5', ['NH', 'MR']],
    ['DG1[*]-3.1', ['C71.6', 'G91.1']],
    ['DG1-3.1', ['C71.6']],
    ['PID-3.4.2', ['2.16.840.1.113883.2.1.4.1']],
    ['OBX[2=TX]-3.1', ['FAMSTMT']],
    ['ZZZ-1', []],
  ])('when %s is read from the v2.5.1 sample, then it yields %j', (path, expected) => {
    expect(readPath(msg, parseV2Path(path)).map((h) => h.value).filter(Boolean)).toEqual(expected);
  });

  it.each(['PID-', 'pid-3', 'PID-3[', 'PID-3[=x]', 'PID-0[a=b]'])('when %s is parsed, then it is rejected', (p) => {
    expect(() => parseV2Path(p)).toThrow();
  });
});

describe('HL7 configuration values', () => {
  it('when ESO_EPR_ENDPOINTS is the short form, then each ODS maps to host and port (and /tls)', () => {
    expect(parseEprEndpoints('RA7=127.0.0.1:2576, rgt=epr.rgt.nhs.uk:6661/tls')).toEqual({ RA7: { host: '127.0.0.1', port: 2576 }, RGT: { host: 'epr.rgt.nhs.uk', port: 6661, tls: true } });
  });

  it('when ESO_EPR_ENDPOINTS is JSON, then per-EPR options are read', () => {
    expect(parseEprEndpoints('{"RA7": {"host": "h", "port": 1, "version": "2.4", "messages": ["RRI^I12"]}}')).toEqual({ RA7: { host: 'h', port: 1, version: '2.4', messages: ['RRI^I12'] } });
  });

  it.each(['RA7=host', 'RA7=host:99999', '{"RA7": {"host": "h"}}'])('when ESO_EPR_ENDPOINTS is %s, then it fails fast', (v) => {
    expect(() => parseEprEndpoints(v)).toThrow();
  });

  it('when MLLP_ALLOWED_SENDERS is set, then only those organisations pass the narrowing; unset, it narrows nothing', () => {
    const allowed = senderAllowList(parseAllowedSenders('ra7, RGT'));
    expect(allowed('RA7')).toBe(true);
    expect(allowed('rgt')).toBe(true);
    expect(allowed('RTH')).toBe(false);
    expect(senderAllowList(parseAllowedSenders(''))('RTH')).toBe(true);
  });
});
