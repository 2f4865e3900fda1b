/** Database errors translated in one place (storage/db-errors.ts): a full disk is the 503, anything else passes through. */
import { describe, expect, it } from 'vitest';
import { isStorageFull, OperationOutcomeError } from '../../../src/shared/outcomes.ts';
import { translateDbError } from '../../../src/storage/db-errors.ts';

describe('translateDbError', () => {
  it.each(['SQLITE_FULL', '53100', 'ENOSPC'])('when the error code is %s, then it becomes the 503 storage-full outcome', (code) => {
    const e = Object.assign(new Error('disk full'), { code });
    const out = translateDbError(e);
    expect(out).toBeInstanceOf(OperationOutcomeError);
    expect(isStorageFull(out)).toBe(true);
    expect((out as OperationOutcomeError).status).toBe(503);
    expect((out as OperationOutcomeError).headers['Retry-After']).toBe('60');
  });

  it('when the error is anything else, then the very same value is returned', () => {
    for (const e of [
      Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }),
      Object.assign(new Error('unique'), { code: '23505' }),
      Object.assign(new Error('numeric code'), { code: 53100 }),
      new Error('no code'),
      'a string',
    ]) expect(translateDbError(e)).toBe(e);
    expect(translateDbError(undefined)).toBeUndefined();
    expect(translateDbError(null)).toBeNull();
  });
});
