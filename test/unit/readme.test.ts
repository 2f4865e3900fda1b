/** The README stays true: every configuration key is documented, and the two commands are there. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('when a configuration key exists, then the README documents it', () => {
    for (const key of Object.values(configSchema)) expect(readme, key.env).toContain(`\`${key.env}\``);
  });

  it('when a newcomer copies the commands, then they are the two that CI runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/<!-- test-command -->\n```bash\nnpm ci && npm test\n```/);
  });
});
