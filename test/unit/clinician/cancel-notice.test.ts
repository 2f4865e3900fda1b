/**
 * After a cancel in the app, the team is told what happened: cancelled, or (where another Trust's
 * instance serves the provider) asked of the provider and still open until it confirms.
 */
import { describe, expect, it } from 'vitest';
import { cancelNoticeKey, noticeText } from '../../../src/clinician/case-routes.ts';

const cancelNotice = (task: { status: 'cancelled' | 'requested' | 'received' | 'accepted' }) => noticeText(cancelNoticeKey(task));

describe('the notice after a cancel', () => {
  it('when the Task is cancelled, then the team is told the request was cancelled', () => {
    expect(cancelNotice({ status: 'cancelled' })).toBe('The request was cancelled.');
  });

  it('when the Task is still open (the provider\'s Trust must confirm), then the team is not told it was cancelled, but that it was asked and stays open', () => {
    for (const status of ['requested', 'received', 'accepted'] as const) {
      const notice = cancelNotice({ status });
      expect(notice).not.toContain('was cancelled');
      expect(notice).toContain('stays open until they confirm');
    }
  });

  it('when the notice named in the URL is not one of the app\'s, then no notice is shown (not even an inherited property name)', () => {
    expect(noticeText('toString')).toBeUndefined();
    expect(noticeText('<script>')).toBeUndefined();
  });
});
