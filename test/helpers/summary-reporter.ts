/**
 * Prints, last, the two plain lines a reader and CI need:
 *   Backends: SQLite ran (N tests); PostgreSQL ran (N tests) | PostgreSQL skipped: <why>
 *   Tests: N passed, N failed, N skipped
 * CI (.ci/run) parses the last line exactly: keep it last and keep its format.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { postgresAvailable, postgresAdminUrl } from './pg.ts';

/** Which backend a test ran on, from its suite's name (`describe.each(backends())('... on %s')`, '... on one PostgreSQL'). */
function backendOf(fullName: string): 'sqlite' | 'postgres' | undefined {
  const m = /\bon (?:one )?(sqlite|postgres(?:ql)?)\b/i.exec(fullName);
  if (!m) return undefined;
  return m[1].toLowerCase() === 'sqlite' ? 'sqlite' : 'postgres';
}

export default class SummaryReporter implements Reporter {
  private pg: Promise<string> | undefined;

  onInit(): void {
    // The same check the suites make (test/helpers/backends.ts), so the line says why PostgreSQL was left out.
    this.pg = postgresAvailable().then((up) => (up ? '' : `not reachable at ${postgresAdminUrl()}`), (e: unknown) => (e as Error).message);
  }

  async onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): Promise<void> {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    const ran = { sqlite: 0, postgres: 0 };
    for (const m of testModules) {
      if (m.state() === 'failed' && ![...m.children.allTests()].length) failed++; // a file that failed to load
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else skipped++;
        const b = backendOf(t.fullName);
        if (b && (s === 'passed' || s === 'failed')) ran[b]++;
      }
    }
    const pgWhy = (await this.pg) ?? '';
    const sqlite = ran.sqlite > 0 ? `SQLite ran (${ran.sqlite} tests)` : 'SQLite not used by this run';
    const postgres = ran.postgres > 0 ? `PostgreSQL ran (${ran.postgres} tests)` : `PostgreSQL skipped${pgWhy ? `: ${pgWhy}` : ' (no test in this run uses it)'}`;
    process.stdout.write(`\nBackends: ${sqlite}; ${postgres}\n`);
    process.stdout.write(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
