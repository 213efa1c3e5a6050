// API errors in words, in the user's language.

import { ApiError } from '../api/client';
import { t } from '../i18n';

export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.status) {
      case 0:
        return t('error.network');
      case 401:
        return e.detail && e.detail !== 'Authentication credentials were not provided.' ? e.detail : t('error.unauthenticated');
      case 404:
        return t('error.notFound');
      case 429:
        return e.retryAfter !== null ? t('error.tooMany', { seconds: e.retryAfter }) : (e.detail ?? t('error.tooManyShort'));
      case 413:
        return t('error.tooLarge');
      default:
        break;
    }
    if (e.status >= 500) return t('error.server', { status: e.status });
    if (e.detail) return e.detail;
    const fieldMessages = Object.values(e.fields).flat();
    if (fieldMessages.length) return fieldMessages.join(' ');
    if (e.status === 403) return t('error.forbidden');
    return t('error.status', { status: e.status });
  }
  if (e instanceof Error && e.message) return e.message;
  return t('error.unknown');
}

/** Field errors for a form: `{field: "message. message."}`. */
export function fieldErrors(e: unknown): Record<string, string> {
  if (!(e instanceof ApiError)) return {};
  return Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, v.join(' ')]));
}
