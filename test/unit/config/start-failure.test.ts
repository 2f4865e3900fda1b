/** The one line and exit code of a refused start, for each mistake people make (config/start-failure.ts). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';
import { EXIT, explainStartFailure } from '../../../src/config/start-failure.ts';

const sqlite = loadConfig({ PORT: '8080', MLLP_PORT: '2575', ESO_DATA_DIR: '/var/lib/eso' });
const pg = loadConfig({ DATABASE_URL: 'postgres://eso:secret@db.example:6543/eso_prod' });
const sysError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(code), { code, ...extra });

describe('explainStartFailure', () => {
  it('when the HTTP port is taken, then it names PORT (config error)', () => {
    expect(explainStartFailure(sysError('EADDRINUSE', { port: 8080, syscall: 'listen' }), sqlite)).toEqual({ message: expect.stringMatching(/^PORT: 127.0.0.1:8080 is already in use/), exitCode: EXIT.config });
  });

  it('when the MLLP port is taken, then it names MLLP_PORT', () => {
    expect(explainStartFailure(sysError('EADDRINUSE', { port: 2575, syscall: 'listen' }), sqlite).message).toMatch(/^MLLP_PORT: 127.0.0.1:2575/);
  });

  it('when PORT and MLLP_PORT are the same, then it says to give them different ports', () => {
    const same = loadConfig({ PORT: '9000', MLLP_PORT: '9000' });
    expect(explainStartFailure(sysError('EADDRINUSE', { port: 9000 }), same).message).toContain('PORT and MLLP_PORT are the same');
  });

  it('when the database is missing, then it names it and how to create it, without the password', () => {
    const f = explainStartFailure(sysError('3D000'), pg);
    expect(f.exitCode).toBe(EXIT.config);
    expect(f.message).toContain('has no database "eso_prod"');
    expect(f.message).toContain('createdb -h db.example eso_prod');
    expect(f.message).not.toContain('secret');
  });

  it('when PostgreSQL refuses connections, then it is unavailable (exit 3), not a configuration error', () => {
    expect(explainStartFailure(sysError('ECONNREFUSED'), pg)).toEqual({ message: expect.stringContaining('db.example:6543 is not answering'), exitCode: EXIT.unavailable });
  });

  it('when the host name does not resolve, then it is a configuration error naming DATABASE_URL', () => {
    expect(explainStartFailure(sysError('ENOTFOUND'), pg)).toEqual({ message: expect.stringContaining('DATABASE_URL: no such host'), exitCode: EXIT.config });
  });

  it('when the data directory cannot be written, then it names ESO_DATA_DIR', () => {
    expect(explainStartFailure(sysError('EACCES', { syscall: 'mkdir' }), sqlite).message).toMatch(/^ESO_DATA_DIR: cannot create or open the database in \/var\/lib\/eso/);
  });

  it('when a setting\'s own check refuses it, then its first line is the message (config error)', () => {
    expect(explainStartFailure(new Error('ESO_EPR_ENDPOINTS: \'x\' is not ODS=host:port[/tls]\nmore'), sqlite)).toEqual({ message: "ESO_EPR_ENDPOINTS: 'x' is not ODS=host:port[/tls]", exitCode: EXIT.config });
  });

  it('when the error is unexpected, then it is a runtime failure with its first line only', () => {
    expect(explainStartFailure(new Error('boom\n    at x (y.ts:1:1)'), sqlite)).toEqual({ message: 'boom', exitCode: EXIT.runtime });
  });
});
